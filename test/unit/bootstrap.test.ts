import { describe, expect, it } from "vitest";
import { buildBootstrap, buildNodeId, parseHostPort, type BootstrapOptions } from "../../src/translate/bootstrap.js";
import { validateBootstrap } from "../support/envoy.js";

const NODE_ID = "sidecar~10.1.2.3~reviews-v1-abc.default~default.svc.cluster.local";

function ok(opts: BootstrapOptions) {
  const r = buildBootstrap(opts);
  if (r.errors) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.bootstrap;
}

function errorsOf(opts: BootstrapOptions) {
  const r = buildBootstrap(opts);
  expect(r.bootstrap).toBeUndefined();
  return r.errors ?? [];
}

describe("buildBootstrap", () => {
  it("builds a delta-ADS bootstrap for a sidecar by default", () => {
    const b = ok({ nodeId: NODE_ID, xdsAddress: "10.0.0.5:15010", labels: { version: "v1", app: "reviews" } });
    expect(b).toEqual({
      node: {
        id: NODE_ID,
        cluster: "reviews.default",
        metadata: {
          CLUSTER_ID: "Kubernetes",
          INSTANCE_IPS: "10.1.2.3",
          INTERCEPTION_MODE: "REDIRECT",
          LABELS: { app: "reviews", version: "v1" },
          NAME: "reviews-v1-abc",
          NAMESPACE: "default",
        },
      },
      staticResources: {
        clusters: [
          {
            name: "xds-grpc",
            type: "STATIC",
            connectTimeout: "1s",
            loadAssignment: {
              clusterName: "xds-grpc",
              endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "10.0.0.5", portValue: 15010 } } } }] }],
            },
            typedExtensionProtocolOptions: {
              "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                explicitHttpConfig: { http2ProtocolOptions: { connectionKeepalive: { interval: "30s", timeout: "5s" } } },
              },
            },
            circuitBreakers: { thresholds: [{ priority: "DEFAULT", maxConnections: 100000, maxPendingRequests: 100000, maxRequests: 100000 }] },
            upstreamConnectionOptions: { tcpKeepalive: { keepaliveTime: 300 } },
          },
        ],
      },
      dynamicResources: {
        adsConfig: {
          apiType: "DELTA_GRPC",
          transportApiVersion: "V3",
          setNodeOnFirstMessageOnly: true,
          grpcServices: [{ envoyGrpc: { clusterName: "xds-grpc" } }],
        },
        cdsConfig: { ads: {}, resourceApiVersion: "V3", initialFetchTimeout: "0s" },
        ldsConfig: { ads: {}, resourceApiVersion: "V3", initialFetchTimeout: "0s" },
      },
      admin: { address: { socketAddress: { address: "127.0.0.1", portValue: 15000 } } },
    });
  });

  it("uses state-of-the-world ADS when sotw is set", () => {
    const b = ok({ nodeId: NODE_ID, xdsAddress: "10.0.0.5:15010", sotw: true });
    expect(b.dynamicResources?.adsConfig?.apiType).toBe("GRPC");
  });

  it("resolves a host name with STRICT_DNS, preferring IPv4, and takes IPv6 literals in brackets", () => {
    const dns = ok({ nodeId: NODE_ID, xdsAddress: "meshpilot.meshpilot-system.svc:15010" }).staticResources?.clusters?.[0];
    expect(dns?.type).toBe("STRICT_DNS");
    expect(dns?.dnsLookupFamily).toBe("V4_PREFERRED");
    expect(dns?.loadAssignment?.endpoints?.[0]?.lbEndpoints?.[0]?.endpoint?.address).toEqual({
      socketAddress: { address: "meshpilot.meshpilot-system.svc", portValue: 15010 },
    });
    const v6 = ok({ nodeId: NODE_ID, xdsAddress: "[::1]:15010", adminAddress: "[::1]:15001" });
    expect(v6.staticResources?.clusters?.[0]?.type).toBe("STATIC");
    expect(v6.staticResources?.clusters?.[0]?.dnsLookupFamily).toBeUndefined();
    expect(v6.admin).toEqual({ address: { socketAddress: { address: "::1", portValue: 15001 } } });
  });

  it("derives node.cluster like istio-agent: app.kubernetes.io/name, then app, then the pod name", () => {
    expect(ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", labels: { app: "reviews", "app.kubernetes.io/name": "rv" } }).node?.cluster).toBe("rv.default");
    expect(ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010" }).node?.cluster).toBe("reviews-v1-abc.default");
    expect(ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", cluster: "custom" }).node?.cluster).toBe("custom");
  });

  it("carries interception mode, namespace, cluster id and extra metadata", () => {
    const md = ok({
      nodeId: NODE_ID,
      xdsAddress: "127.0.0.1:15010",
      interception: "NONE",
      namespace: "default",
      clusterId: "east",
      extraMetadata: { ISTIO_VERSION: "1.28.0" },
    }).node?.metadata;
    expect(md).toMatchObject({ INTERCEPTION_MODE: "NONE", NAMESPACE: "default", CLUSTER_ID: "east", ISTIO_VERSION: "1.28.0" });
  });

  it("sets node.locality from region/zone/subzone (zone and subzone optional), and refuses malformed ones", () => {
    expect(ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", locality: "us-east/zone-a/rack-1" }).node?.locality).toEqual({
      region: "us-east",
      zone: "zone-a",
      subZone: "rack-1",
    });
    expect(ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", locality: "us-east" }).node?.locality).toEqual({ region: "us-east" });
    expect(ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010" }).node?.locality).toBeUndefined();
    for (const bad of ["", "a/b/c/d", "a//c", "a /b"]) {
      expect(errorsOf({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", locality: bad }).map((e) => e.field)).toEqual(["locality"]);
    }
  });

  it("builds the node id from parts, including gateways", () => {
    expect(buildNodeId({ ip: "10.1.2.3", podName: "reviews-v1-abc", namespace: "default" })).toBe(NODE_ID);
    expect(buildNodeId({ type: "router", ip: "10.1.2.4", podName: "gw-1", namespace: "istio-system", domain: "corp.local" })).toBe(
      "router~10.1.2.4~gw-1.istio-system~istio-system.svc.corp.local",
    );
    const b = ok({ node: { ip: "127.0.0.11", podName: "reviews-v1-0", namespace: "default" }, xdsAddress: "127.0.0.1:15010" });
    expect(b.node?.id).toBe("sidecar~127.0.0.11~reviews-v1-0.default~default.svc.cluster.local");
  });

  it("is deterministic: the same options give byte-identical output whatever the label order", () => {
    const a = ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", labels: { b: "2", a: "1" } });
    const b = ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", labels: { a: "1", b: "2" } });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it("emits nothing Istio-specific for upstream Envoy", () => {
    const text = JSON.stringify(ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010" }));
    expect(text).not.toMatch(/istio\./);
  });

  it.each([
    ["sidecar~10.1.2.3~reviews.default", "nodeId", /4 parts/],
    ["proxy~10.1.2.3~reviews.default~default.svc.cluster.local", "nodeId", /type "proxy"/],
    ["sidecar~10.1.2~reviews.default~default.svc.cluster.local", "nodeId", /not an IP/],
    ["sidecar~10.1.2.3~reviews~default.svc.cluster.local", "nodeId", /pod\.namespace/],
    ["sidecar~10.1.2.3~Reviews.default~default.svc.cluster.local", "nodeId", /pod name "Reviews"/],
    ["sidecar~10.1.2.3~reviews.default~other.svc.cluster.local", "nodeId", /default\.svc\./],
  ])("rejects the malformed node id %s", (nodeId, field, message) => {
    const errors = errorsOf({ nodeId, xdsAddress: "127.0.0.1:15010" });
    expect(errors).toHaveLength(1);
    expect(errors[0]?.field).toBe(field);
    expect(errors[0]?.message).toMatch(message);
  });

  it.each([
    ["127.0.0.1", /host:port/],
    ["127.0.0.1:0", /outside 1-65535/],
    ["127.0.0.1:70000", /outside 1-65535/],
    ["127.0.0.1:http", /not a number/],
    ["::1:15010", /\[addr\]:port/],
    ["[::g]:15010", /not an IPv6/],
    ["bad host:15010", /neither an IP address nor a host name/],
    ["10.0.0.300:15010", /neither an IP address nor a host name/],
  ])("rejects the xDS address %s", (xdsAddress, message) => {
    const errors = errorsOf({ nodeId: NODE_ID, xdsAddress });
    expect(errors.map((e) => e.field)).toEqual(["xdsAddress"]);
    expect(errors[0]?.message).toMatch(message);
  });

  it("reports every bad option at once", () => {
    const errors = errorsOf({
      xdsAddress: "nope",
      adminAddress: "localhost:15000",
      namespace: "x",
      // @ts-expect-error: an invalid mode from untyped input (CLI flags)
      interception: "MAGIC",
      connectTimeout: "1 second",
      extraMetadata: { NAMESPACE: "y" },
    });
    expect(errors.map((e) => e.field).sort()).toEqual(["adminAddress", "connectTimeout", "extraMetadata", "interception", "nodeId", "xdsAddress"]);
  });

  it("rejects a namespace that contradicts the node id", () => {
    const errors = errorsOf({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010", namespace: "prod" });
    expect(errors).toEqual([{ field: "namespace", message: 'namespace "prod" differs from "default" in the node id' }]);
  });

  it("parses host:port forms", () => {
    expect(parseHostPort("localhost:15010")).toEqual({ host: "localhost", port: 15010, isIp: false });
    expect(parseHostPort("[2001:db8::1]:443")).toEqual({ host: "2001:db8::1", port: 443, isIp: true });
    expect(parseHostPort("[::ffff:10.0.0.1]:1")).toEqual({ host: "::ffff:10.0.0.1", port: 1, isIp: true });
    expect(parseHostPort("[1:2:3:4:5:6:7:8:9]:1")).toMatch(/not an IPv6/);
  });
});

describe("buildBootstrap output accepted by envoy --mode validate", () => {
  it.each([
    ["delta, IP", { sotw: false, xdsAddress: "127.0.0.1:15010" }],
    ["sotw, IP", { sotw: true, xdsAddress: "127.0.0.1:15010" }],
    ["delta, host name", { sotw: false, xdsAddress: "localhost:15010" }],
    ["sotw, IPv6", { sotw: true, xdsAddress: "[::1]:15010" }],
    ["delta, with locality", { sotw: false, xdsAddress: "127.0.0.1:15010", locality: "us-east/zone-a/rack-1" }],
  ])("%s", async (_name, extra) => {
    const b = ok({ nodeId: NODE_ID, labels: { app: "reviews", version: "v1" }, interception: "NONE", ...extra });
    const res = await validateBootstrap(b);
    expect(res.output).toMatch(/OK/);
    expect(res.ok).toBe(true);
  });

  it("and the validator does reject a broken variant (the check can fail)", async () => {
    const b = ok({ nodeId: NODE_ID, xdsAddress: "127.0.0.1:15010" });
    const broken = { ...b, dynamicResources: { ...b.dynamicResources, adsConfig: { ...b.dynamicResources?.adsConfig, apiType: "NOT_A_TYPE" } } };
    const res = await validateBootstrap(broken);
    expect(res.ok).toBe(false);
    expect(res.output).toMatch(/NOT_A_TYPE/);
  });
});
