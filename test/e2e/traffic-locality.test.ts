/**
 * Locality load balancing through a real Envoy whose bootstrap says it runs in
 * us-east/zone-a/rack-1 (node.locality). Endpoint localities come from the Pod label
 * topology.istio.io/locality. With outlierDetection (which Istio requires for failover) traffic
 * stays in the client's locality, fails over to the same zone when the local endpoint fails or is
 * absent, and only then to another region; without outlierDetection it spreads over all
 * localities; `distribute` splits by the configured locality weights.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { binomialBand } from "../support/backend.js";
import { destinationRuleYaml, eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

const LOCALITY = "topology.istio.io/locality";
const local = { version: "local", labels: { [LOCALITY]: "us-east.zone-a.rack-1" } };
const zone = { version: "zone", labels: { [LOCALITY]: "us-east.zone-a.rack-2" } };
const far = { version: "far", labels: { [LOCALITY]: "us-west.zone-c.rack-1" } };

const outlier = "outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100 }";
const dr = (host: string, policy: string) => destinationRuleYaml(host, { policy });

let mesh: TrafficMesh;
beforeAll(async () => {
  mesh = await startTrafficMesh({
    name: "locality",
    services: [
      { name: "near", workloads: [local, zone, far] },
      { name: "away", workloads: [zone, far] },
      { name: "spread", workloads: [local, zone, far] },
      { name: "dist", workloads: [local, far] },
    ],
    clientLocality: "us-east/zone-a/rack-1",
    istio: () =>
      [
        dr("near", `    loadBalancer: { simple: ROUND_ROBIN }\n    ${outlier}`),
        dr("away", `    loadBalancer: { simple: ROUND_ROBIN }\n    ${outlier}`),
        dr("spread", "    loadBalancer: { simple: ROUND_ROBIN }"),
        dr(
          "dist",
          '    loadBalancer:\n      simple: ROUND_ROBIN\n      localityLbSetting:\n        distribute: [{ from: "us-east/zone-a/*", to: { "us-east/zone-a/*": 75, "us-west/*": 25 } }]',
        ),
      ].join("---\n"),
  });
  // Every endpoint (in every priority) is known to Envoy before counting.
  await eventually(async () => {
    const c = await mesh.envoy.clusters();
    const statuses = (c["cluster_statuses"] ?? []) as Array<{ name: string; host_statuses?: unknown[] }>;
    const hosts = (s: string) => statuses.find((x) => x.name === mesh.cluster(s))?.host_statuses?.length;
    return hosts("near") === 3 && hosts("away") === 2 && hosts("spread") === 3 && hosts("dist") === 2;
  }, "all endpoints in Envoy");
});
afterAll(() => mesh?.stop());
beforeEach(() => mesh.resetBackends());

describe("failover priorities (with outlierDetection)", () => {
  it("keeps traffic in the client's locality", async () => {
    const counts = await mesh.tally("near", "/", 40, { concurrency: 1 });
    expect(counts).toEqual({ local: 40 });
  });

  it("goes to the same zone when the local endpoint is absent", async () => {
    const counts = await mesh.tally("away", "/", 40, { concurrency: 1 });
    expect(counts).toEqual({ zone: 40 });
  });

  it("fails over to the same zone when the local endpoint fails, then to another region", async () => {
    mesh.backend("near", "local").setHandler(() => ({ status: 503, body: "down\n" }));
    await eventually(async () => (await mesh.get("near", "/")).headers["x-backend-version"] === "zone", "failover to the same zone");
    expect(await mesh.tally("near", "/", 30, { concurrency: 1 })).toEqual({ zone: 30 });
    expect(mesh.backend("near", "far").count).toBe(0);

    mesh.backend("near", "zone").setHandler(() => ({ status: 503, body: "down\n" }));
    await eventually(async () => (await mesh.get("near", "/")).headers["x-backend-version"] === "far", "failover to another region");
    expect(await mesh.tally("near", "/", 30, { concurrency: 1 })).toEqual({ far: 30 });
  });
});

describe("without outlierDetection", () => {
  it("spreads over every locality (Istio sets no priorities)", async () => {
    const counts = await mesh.tally("spread", "/", 60, { concurrency: 1 });
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(60);
    for (const v of ["local", "zone", "far"]) expect(Math.abs((counts[v] ?? 0) - 20), `${v}: ${JSON.stringify(counts)}`).toBeLessThanOrEqual(1);
  });
});

describe("distribute", () => {
  it("splits traffic by the configured locality weights (binomial band)", async () => {
    const n = 400;
    const counts = await mesh.tally("dist", "/", n, { concurrency: 2 });
    expect((counts["local"] ?? 0) + (counts["far"] ?? 0)).toBe(n);
    const band = binomialBand(n, 0.25);
    expect(counts["far"] ?? 0).toBeGreaterThanOrEqual(band.lo);
    expect(counts["far"] ?? 0).toBeLessThanOrEqual(band.hi);
  });
});
