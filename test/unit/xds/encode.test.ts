import { fromBinary, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ListenerSchema } from "../../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { RouteConfigurationSchema } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import { DeltaDiscoveryResponseSchema, DiscoveryResponseSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { encodeResources, snapshotFrom, typeVersion } from "../../../src/xds/encode.js";
import { EncodeCache } from "../../../src/xds/encode-cache.js";
import { patchMap } from "../../../src/xds/map-patch.js";
import { envoyRegistry } from "../../../src/xds/registry.js";
import { deltaResponse, sotwBody, withNonce } from "../../../src/xds/wire.js";
import { CDS, EDS, LDS, RDS, cla, cluster, listener, route } from "./harness.js";

const ANY = "type.googleapis.com/";

describe("encodeResources", () => {
  it("encodes resources with Any payloads from every registered extension", () => {
    const cname = "outbound|80||a.default.svc.cluster.local";
    const c = {
      ...cluster(cname),
      typedExtensionProtocolOptions: {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
          "@type": `${ANY}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
          explicitHttpConfig: { http2ProtocolOptions: {} },
        },
      },
      transportSocket: {
        name: "envoy.transport_sockets.tls",
        typedConfig: { "@type": `${ANY}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`, sni: "a.example" },
      },
    };
    const l = {
      ...listener("l", 80, "80"),
      listenerFilters: [
        { name: "envoy.filters.listener.tls_inspector", typedConfig: { "@type": `${ANY}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` } },
        { name: "envoy.filters.listener.http_inspector", typedConfig: { "@type": `${ANY}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector` } },
        { name: "envoy.filters.listener.original_dst", typedConfig: { "@type": `${ANY}envoy.extensions.filters.listener.original_dst.v3.OriginalDst` } },
      ],
      accessLog: [{ name: "envoy.access_loggers.stdout", typedConfig: { "@type": `${ANY}envoy.extensions.access_loggers.stream.v3.StdoutAccessLog` } }],
    };
    const r = {
      name: "80",
      virtualHosts: [
        {
          name: "vh",
          domains: ["*"],
          routes: [
            {
              match: { prefix: "/" },
              route: {
                cluster: "c",
                retryPolicy: {
                  retryHostPredicate: [
                    {
                      name: "envoy.retry_host_predicates.previous_hosts",
                      typedConfig: { "@type": `${ANY}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate` },
                    },
                  ],
                  retryPriority: {
                    name: "envoy.retry_priorities.previous_priorities",
                    typedConfig: { "@type": `${ANY}envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig`, updateFrequency: 2 },
                  },
                },
              },
              typedPerFilterConfig: {
                "envoy.filters.http.fault": {
                  "@type": `${ANY}envoy.extensions.filters.http.fault.v3.HTTPFault`,
                  abort: { httpStatus: 503, percentage: { numerator: 100 } },
                },
                "envoy.filters.http.cors": { "@type": `${ANY}envoy.extensions.filters.http.cors.v3.CorsPolicy`, allowMethods: "GET" },
              },
            },
          ],
        },
      ],
    };
    const clusters = encodeResources(CDS, [{ name: cname, json: c }]);
    const listeners = encodeResources(LDS, [{ name: "l", json: l }]);
    const routes = encodeResources(RDS, [{ name: "80", json: r }]);
    const back = toJson(ClusterSchema, fromBinary(ClusterSchema, clusters.get(cname)!.body), { registry: envoyRegistry });
    expect(back).toMatchObject({ name: cname, transportSocket: { typedConfig: { sni: "a.example" } } });
    const lBack = toJson(ListenerSchema, fromBinary(ListenerSchema, listeners.get("l")!.body), { registry: envoyRegistry }) as {
      filterChains: { filters: { typedConfig: { httpFilters: unknown[] } }[] }[];
    };
    expect(lBack.filterChains[0]!.filters[0]!.typedConfig.httpFilters).toEqual([
      { name: "envoy.filters.http.router", typedConfig: { "@type": `${ANY}envoy.extensions.filters.http.router.v3.Router` } },
    ]);
    const rBack = toJson(RouteConfigurationSchema, fromBinary(RouteConfigurationSchema, routes.get("80")!.body), { registry: envoyRegistry });
    expect(JSON.stringify(rBack)).toContain("PreviousPrioritiesConfig");
    // tcp_proxy, raw_buffer, uuid: also resolvable.
    const tcp = {
      ...listener("t", 81, "x"),
      filterChains: [
        {
          filters: [
            {
              name: "envoy.filters.network.tcp_proxy",
              typedConfig: { "@type": `${ANY}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, statPrefix: "t", cluster: "c" },
            },
          ],
        },
      ],
    };
    expect(encodeResources(LDS, [{ name: "t", json: tcp }]).get("t")!.body.length).toBeGreaterThan(0);
    for (const t of ["envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer", "envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig"]) {
      expect(envoyRegistry.getMessage(t)?.typeName).toBe(t);
    }
  });

  it("rejects an unknown field, naming the resource", () => {
    expect(() => encodeResources(CDS, [{ name: "c1", json: { ...cluster("c1"), connectTimeoutt: "1s" } }])).toThrow(/cds resource "c1".*connectTimeoutt/);
  });

  it("rejects a resource whose own name differs, and duplicate names", () => {
    expect(() => encodeResources(EDS, [{ name: "c1", json: cla("c2") }])).toThrow(/eds resource "c1": field clusterName/);
    expect(() =>
      encodeResources(CDS, [
        { name: "c1", json: cluster("c1") },
        { name: "c1", json: cluster("c1") },
      ]),
    ).toThrow(/duplicate/);
  });

  it("reuses the Resource object and bytes for unchanged JSON, re-encodes changed JSON", () => {
    const v1 = encodeResources(CDS, [
      { name: "a", json: cluster("a") },
      { name: "b", json: cluster("b") },
    ]);
    const v2 = encodeResources(
      CDS,
      [
        { name: "a", json: cluster("a") },
        { name: "b", json: cluster("b", "9s") },
      ],
      v1,
    );
    expect(v2.get("a")).toBe(v1.get("a"));
    expect(v2.get("a")!.body).toBe(v1.get("a")!.body);
    expect(v2.get("b")).not.toBe(v1.get("b"));
    expect(v2.get("b")!.version).not.toBe(v1.get("b")!.version);
    // Versions are content hashes: a fresh encode of the same JSON gives the same version.
    expect(encodeResources(CDS, [{ name: "b", json: cluster("b", "9s") }]).get("b")!.version).toBe(v2.get("b")!.version);
  });

  it("knows a rebuilt resource by its encoded content: JSON that differs only in key order keeps the Resource", () => {
    const v1 = encodeResources(CDS, [{ name: "a", json: cluster("a") }]);
    const reordered = Object.fromEntries(Object.entries(cluster("a")).reverse());
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(cluster("a")));
    const v2 = encodeResources(CDS, [{ name: "a", json: reordered }], v1);
    expect(v2).toBe(v1);
    // A shared cache finds it the same way, for another view with no previous map.
    const shared = new EncodeCache();
    const first = encodeResources(CDS, [{ name: "a", json: cluster("a") }], undefined, shared).get("a")!;
    expect(encodeResources(CDS, [{ name: "a", json: reordered }], undefined, shared).get("a")).toBe(first);
  });
});

describe("EncodeCache", () => {
  it("gives a second view the Resource another view encoded of the same content, and keeps only what views hold", () => {
    const shared = new EncodeCache();
    const viewA = encodeResources(
      CDS,
      [
        { name: "a", json: cluster("a") },
        { name: "b", json: cluster("b") },
      ],
      undefined,
      shared,
    );
    const viewB = encodeResources(
      CDS,
      [
        { name: "a", json: cluster("a") },
        { name: "b", json: cluster("b", "9s") },
      ],
      undefined,
      shared,
    );
    expect(viewB.get("a")).toBe(viewA.get("a"));
    expect(viewB.get("b")).not.toBe(viewA.get("b"));
    expect(shared.size(CDS)).toBe(3);
    // View A is gone: its own "b" is forgotten, what B holds stays.
    shared.retain(CDS, [viewB]);
    expect(shared.size(CDS)).toBe(2);
    const viewC = encodeResources(CDS, [{ name: "b", json: cluster("b", "9s") }], undefined, shared);
    expect(viewC.get("b")).toBe(viewB.get("b"));
    expect(encodeResources(CDS, [{ name: "b", json: cluster("b") }], undefined, shared).get("b")).not.toBe(viewA.get("b"));
  });
});

describe("EncodeCache.retain after patches", () => {
  it("keeps what some map still holds, drops what none holds, strays included", () => {
    const shared = new EncodeCache();
    const names = ["a", "b", "c"];
    const partA = encodeResources(
      EDS,
      names.map((n) => ({ name: n, json: cla(n, "10.0.0.1") })),
      undefined,
      shared,
    );
    const partB = encodeResources(
      EDS,
      names.map((n) => ({ name: n, json: cla(n, "10.0.0.1") })),
      undefined,
      shared,
    );
    shared.retain(EDS, [partA, partB]);
    expect(shared.size(EDS)).toBe(3);
    // Part A's "a" re-encoded: the old "a" is still part B's.
    const a2 = encodeResources(EDS, [{ name: "a", json: cla("a", "10.0.0.2") }], partA, shared);
    const nextA = patchMap(partA, a2.values());
    shared.retain(EDS, [nextA, partB]);
    expect(shared.size(EDS)).toBe(4);
    // Part B follows; a resource put but held by no map (a view that never got published) goes too.
    const nextB = patchMap(partB, encodeResources(EDS, [{ name: "a", json: cla("a", "10.0.0.2") }], partB, shared).values());
    encodeResources(EDS, [{ name: "d", json: cla("d", "10.0.0.9") }], undefined, shared);
    shared.retain(EDS, [nextA, nextB]);
    expect(shared.size(EDS)).toBe(3);
    // What is kept is what the maps hold: encoding their content again finds it.
    expect(encodeResources(EDS, [{ name: "a", json: cla("a", "10.0.0.2") }], undefined, shared).get("a")).toBe(nextA.get("a"));
  });
});

describe("snapshotFrom", () => {
  it("versions each type by its (name, version) pairs, independent of order", () => {
    const ab = encodeResources(CDS, [
      { name: "a", json: cluster("a") },
      { name: "b", json: cluster("b") },
    ]);
    const ba = encodeResources(CDS, [
      { name: "b", json: cluster("b") },
      { name: "a", json: cluster("a") },
    ]);
    expect(typeVersion(ab)).toBe(typeVersion(ba));
    const s1 = snapshotFrom({ [CDS]: ab });
    const s2 = snapshotFrom({
      [CDS]: encodeResources(CDS, [
        { name: "a", json: cluster("a", "2s") },
        { name: "b", json: cluster("b") },
      ]),
    });
    expect(s1.versions.get(CDS)).not.toBe(s2.versions.get(CDS));
    expect(s1.versions.get(LDS)).toBe(s2.versions.get(LDS)); // both empty
    expect(s1.resources.get(RDS)!.size).toBe(0);
  });
});

describe("wire", () => {
  it("assembles responses that decode as DiscoveryResponse / DeltaDiscoveryResponse", () => {
    const rs = encodeResources(RDS, [{ name: "r1", json: route("r1", "c1") }]);
    const sotw = fromBinary(DiscoveryResponseSchema, withNonce(sotwBody(RDS, "v1", rs.values(), "cp"), "n1"));
    expect(sotw).toMatchObject({ versionInfo: "v1", typeUrl: RDS, nonce: "n1", controlPlane: { identifier: "cp" } });
    expect(sotw.resources.map((a) => [a.typeUrl, Buffer.from(a.value)])).toEqual([[RDS, Buffer.from(rs.get("r1")!.body)]]);
    const delta = fromBinary(DeltaDiscoveryResponseSchema, deltaResponse(RDS, "v2", rs.values(), ["gone", ""], "n2", "cp"));
    expect(delta).toMatchObject({ systemVersionInfo: "v2", typeUrl: RDS, nonce: "n2", removedResources: ["gone", ""], controlPlane: { identifier: "cp" } });
    expect(delta.resources.map((r) => [r.name, r.version, r.resource?.typeUrl])).toEqual([["r1", rs.get("r1")!.version, RDS]]);
  });
});
