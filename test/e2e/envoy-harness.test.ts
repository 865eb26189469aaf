/**
 * Proves the test harness itself: a real Envoy started from a bootstrap object routes to the
 * test backend, its admin API is readable, validateStaticConfig accepts and rejects what Envoy
 * does, and a bootstrap from buildBootstrap makes Envoy dial ADS over HTTP/2 with our node.
 */
import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { DeltaDiscoveryRequestSchema, DiscoveryRequestSchema } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { buildBootstrap } from "../../src/translate/bootstrap.js";
import { binomialBand, httpRequest, startBackend, tally, type Backend } from "../support/backend.js";
import { startEnvoy, stopAllEnvoys, validateStaticConfig, type Envoy } from "../support/envoy.js";

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER = { name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };
const H2_OPTIONS = {
  "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    explicitHttpConfig: { http2ProtocolOptions: {} },
  },
};

function staticCluster(name: string, b: Backend, extra: object = {}) {
  return {
    name,
    type: "STATIC",
    connectTimeout: "1s",
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: b.host, portValue: b.port } } } }] }] },
    ...extra,
  };
}

function httpListener(name: string, routes: object[], virtualHosts: object[] = [{ name: "all", domains: ["*"], routes }]) {
  return {
    name,
    address: { socketAddress: { address: "127.0.0.1", portValue: 0 } },
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: { "@type": HCM, statPrefix: name, routeConfig: { name: "local", virtualHosts }, httpFilters: [ROUTER] },
          },
        ],
      },
    ],
  };
}

afterAll(stopAllEnvoys);

describe("the Envoy binary", () => {
  it("comes from global setup through inject() and $MESHPILOT_ENVOY_PATH alike", () => {
    const path = inject("envoyPath");
    expect(path).toMatch(/envoy$/);
    expect(process.env.MESHPILOT_ENVOY_PATH).toBe(path);
    expect(inject("envoyVersion")).toMatch(/\/1\.40\.\d+\//);
  });
});

describe("startEnvoy with a static config", () => {
  let v1: Backend;
  let v2: Backend;
  let envoy: Envoy;
  let base: string;

  beforeAll(async () => {
    // Distinct loopback addresses, as the demo uses for its pods.
    v1 = await startBackend({ version: "v1", host: "127.0.0.11" });
    v2 = await startBackend({ version: "v2", host: "127.0.0.12" });
    envoy = await startEnvoy({
      name: "harness",
      bootstrap: {
        staticResources: {
          clusters: [staticCluster("v1", v1), staticCluster("v2", v2, { typedExtensionProtocolOptions: H2_OPTIONS })],
          listeners: [
            httpListener("front", [
              { match: { prefix: "/h2" }, route: { cluster: "v2" } },
              { match: { prefix: "/retry" }, route: { cluster: "v1", retryPolicy: { retryOn: "5xx", numRetries: 2 } } },
              { match: { prefix: "/" }, route: { cluster: "v1" } },
            ]),
            httpListener(
              "split",
              [],
              [
                {
                  name: "reviews",
                  domains: ["reviews"],
                  routes: [
                    {
                      match: { prefix: "/" },
                      route: {
                        weightedClusters: {
                          clusters: [
                            { name: "v1", weight: 90 },
                            { name: "v2", weight: 10 },
                          ],
                        },
                      },
                    },
                  ],
                },
              ],
            ),
          ],
        },
      },
    });
    await envoy.waitReady();
    const { port } = await envoy.listenerAddress("front");
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await envoy?.stop();
    await v1?.close();
    await v2?.close();
  });
  afterEach(() => {
    v1.reset();
    v2.reset();
  });

  it("learns the port-0 admin and listener ports", async () => {
    expect(envoy.adminAddress.port).toBeGreaterThan(0);
    expect(base).not.toMatch(/:0$/);
    expect(await envoy.adminRequest("/ready")).toMatch(/LIVE/);
  });

  it("routes requests to the backend, which echoes them", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/reviews/${i}`, { headers: { "x-test-user": "true" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-backend-version")).toBe("v1");
      const body = (await res.json()) as { version: string; path: string; method: string; headers: Record<string, string>; protocol: string };
      expect(body).toMatchObject({ version: "v1", path: `/reviews/${i}`, method: "GET", protocol: "1.1" });
      expect(body.headers["x-test-user"]).toBe("true");
      expect(body.headers["x-request-id"]).toBeTruthy(); // added by Envoy: the request went through it
    }
    expect(v1.count).toBe(5);
    expect(v2.count).toBe(0);
    await envoy.waitFor(async () => (await envoy.stat("cluster.v1.upstream_rq_200")) === 5, { what: "5 upstream 200s" });
  });

  it("speaks HTTP/2 upstream when the cluster says so", async () => {
    const res = await fetch(`${base}/h2/x`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { protocol: string }).protocol).toBe("2.0");
    expect(v2.requests[0]?.httpVersion).toBe("2.0");
  });

  it("shows injected backend failures, and Envoy's retries of them, in counts and stats", async () => {
    const before = (await envoy.stat("cluster.v1.upstream_rq_retry")) ?? 0;
    v1.failNext(2, 503);
    const res = await fetch(`${base}/retry`);
    expect(res.status).toBe(200);
    expect(v1.count).toBe(3);
    expect(((await envoy.stat("cluster.v1.upstream_rq_retry")) ?? 0) - before).toBe(2);

    v1.failNext(1, 503);
    const plain = await fetch(`${base}/no-retry`);
    expect(plain.status).toBe(503);
    expect(await plain.text()).toBe("injected failure\n");
  });

  it("passes a backend delay through", async () => {
    v1.setDelay(200);
    const t0 = performance.now();
    const res = await fetch(`${base}/slow`);
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it("routes by Host header and splits by weight (checked with a binomial band)", async () => {
    const { port } = await envoy.listenerAddress("split");
    const url = `http://127.0.0.1:${port}/reviews`;
    const miss = await httpRequest(url); // Host 127.0.0.1:port matches no virtual host
    expect(miss.status).toBe(404);
    const n = 400;
    const counts = await tally(url, n, { host: "reviews" });
    const band = binomialBand(n, 0.1);
    expect((counts["v1"] ?? 0) + (counts["v2"] ?? 0)).toBe(n);
    expect(counts["v2"]).toBeGreaterThanOrEqual(band.lo);
    expect(counts["v2"]).toBeLessThanOrEqual(band.hi);
    expect(band.lo).toBeGreaterThan(0); // the band excludes "never", so a broken split fails
  });

  it("reads config_dump, clusters and stats", async () => {
    const dump = await envoy.configDump();
    const types = ((dump["configs"] ?? []) as Array<{ "@type": string }>).map((c) => c["@type"]);
    expect(types).toContain("type.googleapis.com/envoy.admin.v3.ClustersConfigDump");
    expect(types).toContain("type.googleapis.com/envoy.admin.v3.ListenersConfigDump");

    const clusters = await envoy.configDump("static_clusters");
    const names = ((clusters["configs"] ?? []) as Array<{ cluster: { name: string } }>).map((c) => c.cluster.name).sort();
    expect(names).toEqual(["v1", "v2"]);
    const listeners = await envoy.configDump("static_listeners");
    expect(((listeners["configs"] ?? []) as Array<{ listener: { name: string } }>).map((l) => l.listener.name).sort()).toEqual(["front", "split"]);

    const status = (await envoy.clusters()) as {
      cluster_statuses: Array<{ name: string; host_statuses: Array<{ address: { socket_address: { address: string } } }> }>;
    };
    const v2Status = status.cluster_statuses.find((c) => c.name === "v2");
    expect(v2Status?.host_statuses[0]?.address.socket_address.address).toBe("127.0.0.12");

    const stats = await envoy.stats("^cluster\\.v2\\.upstream_cx_");
    expect(Object.keys(stats).length).toBeGreaterThan(0);
    expect(Object.keys(stats).every((k) => k.startsWith("cluster.v2.upstream_cx_"))).toBe(true);
    expect(await envoy.stat("no.such.stat")).toBeUndefined();

    await expect(envoy.listenerAddress("nope")).rejects.toThrow(/no listener "nope" \(has: front, split\)/);
  });
});

describe("startEnvoy lifecycle", () => {
  it("fails fast with Envoy's reason on a bad bootstrap", async () => {
    const err = await startEnvoy({ name: "bad", bootstrap: { staticResources: { clusters: [{ name: "x", type: "NOT_A_TYPE" }] } } }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/bad exited during startup/);
    expect(err?.message).toMatch(/NOT_A_TYPE/);
  });

  it("stop() really ends the process and is idempotent", async () => {
    const envoy = await startEnvoy({ bootstrap: {} });
    await envoy.waitReady();
    const pid = envoy.pid as number;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await Promise.all([envoy.stop(), envoy.stop()]);
    expect(envoy.isRunning).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe("validateStaticConfig", () => {
  const backend = { host: "127.0.0.1", port: 9 } as Backend;
  const edsCluster = {
    name: "outbound|9080||reviews.default.svc.cluster.local",
    type: "EDS",
    connectTimeout: "1s",
    edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: "V3" }, serviceName: "outbound|9080||reviews.default.svc.cluster.local" },
  };
  const cla = {
    "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    clusterName: "outbound|9080||reviews.default.svc.cluster.local",
    endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "10.1.0.11", portValue: 9080 } } } }] }],
  };
  const rdsListener = {
    name: "0.0.0.0_9080",
    address: { socketAddress: { address: "0.0.0.0", portValue: 9080 } },
    bindToPort: false,
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: {
              "@type": HCM,
              statPrefix: "outbound_0.0.0.0_9080",
              rds: { routeConfigName: "9080", configSource: { ads: {}, resourceApiVersion: "V3" } },
              httpFilters: [ROUTER],
            },
          },
        ],
      },
    ],
  };
  const route = (name: string, cluster: string) => ({
    name,
    virtualHosts: [{ name: "reviews.default.svc.cluster.local:9080", domains: ["reviews"], routes: [{ match: { prefix: "/" }, route: { cluster } }] }],
  });

  it("accepts xDS resources with EDS and RDS, inlining them", async () => {
    const res = await validateStaticConfig({
      clusters: [edsCluster, staticCluster("static", backend)],
      endpoints: [cla],
      listeners: [rdsListener],
      routes: [route("9080", edsCluster.name), route("unused", "static")],
    });
    expect(res.output).toMatch(/OK/);
    expect(res.ok).toBe(true);
    const text = JSON.stringify(res.bootstrap);
    expect(text).toContain('"address":"10.1.0.11"'); // EDS inlined
    expect(text).not.toContain('"rds"'); // RDS inlined
    expect(text).toContain("validate-only|unused"); // unused route still checked
  });

  it("takes snake_case field names too (Envoy's own config_dump form)", async () => {
    const name = "outbound|9080|v1|reviews.default.svc.cluster.local";
    const res = await validateStaticConfig({
      clusters: [{ name, type: "EDS", connect_timeout: "1s", eds_cluster_config: { eds_config: { ads: {} }, service_name: name } }],
      endpoints: [
        { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.1.0.11", port_value: 9080 } } } }] }] },
      ],
      listeners: [
        {
          name: "l",
          address: { socket_address: { address: "0.0.0.0", port_value: 9080 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "hcm",
                  typed_config: { "@type": HCM, stat_prefix: "l", rds: { route_config_name: "9080", config_source: { ads: {} } }, http_filters: [ROUTER] },
                },
              ],
            },
          ],
        },
      ],
      routes: [route("9080", name)],
    });
    expect(res.output).toMatch(/OK/);
    expect(JSON.stringify(res.bootstrap)).toContain('"address":"10.1.0.11"');
  });

  it("rejects an unknown cluster type with Envoy's message", async () => {
    const res = await validateStaticConfig({ clusters: [{ ...staticCluster("c", backend), type: "MAGIC_DNS" }] });
    expect(res.ok).toBe(false);
    expect(res.output).toMatch(/unknown enum value: 'MAGIC_DNS'/);
  });

  it("rejects a route to a cluster that does not exist", async () => {
    const res = await validateStaticConfig({
      clusters: [edsCluster],
      endpoints: [cla],
      listeners: [rdsListener],
      routes: [route("9080", "outbound|9080|v9|reviews.default.svc.cluster.local")],
    });
    expect(res.ok).toBe(false);
    expect(res.output).toMatch(/route: unknown (weighted )?cluster 'outbound\|9080\|v9\|reviews.default.svc.cluster.local'/);
  });

  it("rejects an invalid ClusterLoadAssignment even when no cluster names it", async () => {
    const bad = {
      clusterName: "orphan",
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "10.1.0.11", portValue: 70000 } } } }] }],
    };
    const res = await validateStaticConfig({ endpoints: [bad] });
    expect(res.ok).toBe(false);
    expect(res.output).toMatch(/port_value/);
  });

  it("reports a listener naming a RouteConfiguration that was not given", async () => {
    const res = await validateStaticConfig({ listeners: [rdsListener] });
    expect(res.ok).toBe(false);
    expect(res.output).toMatch(/RouteConfiguration "9080"/);
  });
});

describe("a bootstrap from buildBootstrap", () => {
  it.each([
    ["delta", false, "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"],
    ["sotw", true, "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"],
  ])("makes Envoy dial %s ADS over HTTP/2 and present its node", async (_name, sotw, wantPath) => {
    // A bare HTTP/2 server stands in for meshpilot: it only records the first request frame.
    const server = http2.createServer();
    const first = new Promise<{ path: string; contentType: string; body: Buffer }>((resolve) => {
      server.on("stream", (stream, headers) => {
        let buf = Buffer.alloc(0);
        stream.on("data", (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          if (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
            resolve({ path: String(headers[":path"]), contentType: String(headers["content-type"]), body: buf.subarray(5, 5 + buf.readUInt32BE(1)) });
          }
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const built = buildBootstrap({
        node: { ip: "127.0.0.11", podName: "reviews-v1-0", namespace: "default" },
        xdsAddress: `127.0.0.1:${port}`,
        labels: { app: "reviews", version: "v1" },
        interception: "NONE",
        sotw,
      });
      if (!built.bootstrap) throw new Error(JSON.stringify(built.errors));
      const { admin: _admin, ...bootstrap } = built.bootstrap; // let the harness pick an ephemeral admin port
      const envoy = await startEnvoy({ name: `ads-${_name}`, bootstrap });
      try {
        const req = await Promise.race([first, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no ADS request\n${envoy.logs()}`)), 15_000))]);
        expect(req.path).toBe(wantPath);
        expect(req.contentType).toBe("application/grpc");
        const node = sotw ? fromBinary(DiscoveryRequestSchema, req.body).node : fromBinary(DeltaDiscoveryRequestSchema, req.body).node;
        expect(node?.id).toBe("sidecar~127.0.0.11~reviews-v1-0.default~default.svc.cluster.local");
        expect(node?.cluster).toBe("reviews.default");
        expect(node?.metadata).toMatchObject({ INTERCEPTION_MODE: "NONE", NAMESPACE: "default", LABELS: { app: "reviews", version: "v1" } });
        expect(await envoy.adminRequest("/ready").catch((e: Error) => e.message)).toMatch(/503|PRE_INITIALIZING|INITIALIZING/);
      } finally {
        await envoy.stop();
      }
    } finally {
      server.close();
    }
  });
});
