/**
 * DestinationRule traffic policies through a real Envoy: ROUND_ROBIN and LEAST_REQUEST spread,
 * consistent hashing on a header, outlier detection ejecting a failing endpoint, and connection
 * pool limits overflowing into 503s (with Envoy's upstream_rq_pending_overflow stat).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { binomialBand } from "../support/backend.js";
import { destinationRuleYaml, eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

const three = [{ version: "a" }, { version: "b" }, { version: "c" }];
const dr = (host: string, policy: string) => destinationRuleYaml(host, { policy });

let mesh: TrafficMesh;
beforeAll(async () => {
  mesh = await startTrafficMesh({
    name: "policy",
    services: [
      { name: "rr", workloads: three },
      { name: "lr", workloads: three },
      { name: "hash", workloads: three },
      { name: "od", workloads: three },
      { name: "pool", workloads: [{ version: "only" }] },
    ],
    istio: () =>
      [
        dr("rr", "    loadBalancer: { simple: ROUND_ROBIN }"),
        dr("lr", "    loadBalancer: { simple: LEAST_REQUEST }"),
        dr("hash", "    loadBalancer: { consistentHash: { httpHeaderName: x-user } }"),
        dr(
          "od",
          "    loadBalancer: { simple: ROUND_ROBIN }\n    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100 }",
        ),
        dr("pool", "    connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } }"),
      ].join("---\n"),
  });
  for (const s of ["rr", "lr", "hash", "od", "pool"]) {
    await eventually(async () => (await mesh.get(s, "/")).status === 200, `${s} reachable`);
  }
  // Every endpoint of the round-robin clusters is known before counting.
  await eventually(async () => {
    const c = await mesh.envoy.clusters();
    const statuses = (c["cluster_statuses"] ?? []) as Array<{ name: string; host_statuses?: unknown[] }>;
    return ["rr", "lr", "hash", "od"].every((s) => statuses.find((x) => x.name === mesh.cluster(s))?.host_statuses?.length === 3);
  }, "3 endpoints per cluster");
});
afterAll(() => mesh?.stop());
beforeEach(() => mesh.resetBackends());

const byBackend = (service: string) => three.map((w) => mesh.backend(service, w.version).count);

describe("load balancing", () => {
  it("ROUND_ROBIN hands requests out in turn", async () => {
    const n = 60;
    for (let i = 0; i < n; i++) expect((await mesh.get("rr", "/")).status).toBe(200);
    for (const c of byBackend("rr")) expect(Math.abs(c - n / 3)).toBeLessThanOrEqual(1);
  });

  it("LEAST_REQUEST spreads sequential requests about evenly (binomial band per endpoint)", async () => {
    const n = 300;
    const counts = await mesh.tally("lr", "/", n, { concurrency: 1 });
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(n);
    const band = binomialBand(n, 1 / 3);
    for (const c of byBackend("lr")) {
      expect(c).toBeGreaterThanOrEqual(band.lo);
      expect(c).toBeLessThanOrEqual(band.hi);
    }
  });

  it("consistent hashing keeps each x-user value on one endpoint", async () => {
    const users = ["alice", "bob", "carol", "dave", "erin", "frank"];
    const seen = new Map<string, Set<string>>();
    for (const u of users) {
      for (let i = 0; i < 10; i++) {
        const v = (await mesh.get("hash", "/", { headers: { "x-user": u } })).headers["x-backend-version"] ?? "?";
        seen.set(u, (seen.get(u) ?? new Set()).add(v));
      }
    }
    for (const u of users) expect([...seen.get(u)!], `endpoints for ${u}`).toHaveLength(1);
  });
});

describe("outlier detection", () => {
  it("ejects an endpoint that keeps failing; traffic then succeeds", async () => {
    const bad = mesh.backend("od", "b");
    bad.setHandler(() => ({ status: 503, body: "broken\n" }));
    const ejections = `cluster.${mesh.cluster("od")}.outlier_detection.ejections_enforced_total`;
    await eventually(
      async () => {
        await mesh.get("od", "/");
        return (await mesh.stat(ejections)) >= 1;
      },
      "an ejection",
      15_000,
    );
    const before = bad.count;
    const counts = await mesh.tally("od", "/", 30, { concurrency: 1 });
    expect(counts).toEqual({ a: 15, c: 15 });
    expect(bad.count).toBe(before);
  });
});

describe("connection pool", () => {
  it("limits overflow into 503s and upstream_rq_pending_overflow", async () => {
    const only = mesh.backend("pool", "only");
    only.setDelay(500);
    const results = await Promise.all(Array.from({ length: 8 }, () => mesh.get("pool", "/")));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    const overflowed = results.filter((r) => r.status === 503);
    expect(overflowed.length).toBeGreaterThanOrEqual(1);
    expect(overflowed.every((r) => r.headers["x-envoy-overloaded"] === "true")).toBe(true);
    expect(await mesh.stat(`cluster.${mesh.cluster("pool")}.upstream_rq_pending_overflow`)).toBeGreaterThanOrEqual(overflowed.length);
    // The backend never saw more than the pool allows at once.
    expect(only.count).toBeLessThanOrEqual(8 - overflowed.length);
  });
});
