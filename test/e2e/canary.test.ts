/**
 * The reviews canary as a user sees it, through a real Envoy fed by meshpilot over ADS, for both
 * transports (delta and state-of-the-world): the 90/10 split, the testers' header route, a live
 * edit to 50/50 (how fast, and without a failed request), a route to an undefined subset, and an
 * invalid edit that must leave the last valid config in place.
 *
 * Every test gets its own mesh (test/e2e/mesh-fixture.ts): a private copy of
 * examples/reviews-canary on its own port and loopback IPs, so that test files running in
 * parallel never share an Envoy listener.
 *
 * About the bands: Envoy picks a weighted cluster per request with an independent random draw, so
 * the number of requests that reach v2 out of n is Binomial(n, p). binomialBand(n, p) is mean ± 5
 * standard deviations: for n = 1000, p = 0.1 that is 100 ± 5·√90 → [52, 148]; for p = 0.5,
 * 500 ± 5·√250 → [421, 579]; for p = 0.3, 300 ± 5·√210 → [228, 373]. A correct split falls
 * outside with probability about 6e-7 (no flakes), while the bands of 10 %, 30 % and 50 % are far
 * apart, so serving the wrong weights (an edit not applied, or applied when it must not be) fails.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/api/diagnostics.js";
import { binomialBand } from "../support/backend.js";
import { stopAllEnvoys } from "../support/envoy.js";
import { pollUntil, startMesh, withV3Rule, withWeights, type MeshFixture } from "./mesh-fixture.js";

const N = 1000;
/** Every wait on config propagation gives up after this; the assertions on delay are separate. */
const PROPAGATION_TIMEOUT_MS = 10_000;

afterAll(stopAllEnvoys); // last resort; each test stops its own mesh in afterEach

function expectSplit(counts: Record<string, number>, n: number, pV2: number): void {
  // Only the two backends answered: no 5xx, no other status.
  expect(
    Object.keys(counts).filter((k) => k !== "v1" && k !== "v2"),
    JSON.stringify(counts),
  ).toEqual([]);
  expect((counts["v1"] ?? 0) + (counts["v2"] ?? 0)).toBe(n);
  const band = binomialBand(n, pV2);
  const v2 = counts["v2"] ?? 0;
  expect(v2, `v2 got ${v2}/${n}; expected [${band.lo}, ${band.hi}] for p=${pV2} (${JSON.stringify(counts)})`).toBeGreaterThanOrEqual(band.lo);
  expect(v2, `v2 got ${v2}/${n}; expected [${band.lo}, ${band.hi}] for p=${pV2} (${JSON.stringify(counts)})`).toBeLessThanOrEqual(band.hi);
}

interface LoopResult {
  readonly sent: number;
  readonly failures: string[];
  readonly statuses: Record<string, number>;
  /** performance.now() of each answer, for checking that the loop spans the switch. */
  readonly answeredAt: number[];
}

/**
 * Sends requests (2 at a time) until `stop()` is called, at most `maxRequests` or `maxMs`; every
 * answer other than a 200 from a backend is a failure, and so is a connection error.
 */
function clientLoop(mesh: MeshFixture, opts: { maxRequests: number; maxMs: number }): { done: Promise<LoopResult>; stop: () => void } {
  let stopped = false;
  const started = performance.now();
  const result = { sent: 0, failures: [] as string[], statuses: {} as Record<string, number>, answeredAt: [] as number[] };
  const worker = async () => {
    while (!stopped && result.sent < opts.maxRequests && performance.now() - started < opts.maxMs) {
      result.sent++;
      try {
        const res = await mesh.request();
        const key = res.headers["x-backend-version"] ?? `status:${res.status}`;
        result.statuses[key] = (result.statuses[key] ?? 0) + 1;
        if (res.status !== 200 || !res.headers["x-backend-version"]) result.failures.push(`status ${res.status}: ${res.body.slice(0, 200)}`);
      } catch (err) {
        result.failures.push((err as Error).message);
      }
      result.answeredAt.push(performance.now());
    }
  };
  const done = Promise.all([worker(), worker()]).then(() => result);
  return { done, stop: () => void (stopped = true) };
}

function findDiagnostic(diags: readonly Diagnostic[], code: string, path: string): Diagnostic | undefined {
  return diags.find((d) => d.code === code && d.path === path);
}

describe.each([
  { transport: "delta", sotw: false },
  { transport: "sotw", sotw: true },
])("reviews canary through a real Envoy over $transport ADS", ({ transport, sotw }) => {
  let mesh: MeshFixture | undefined;
  const m = (): MeshFixture => {
    if (!mesh) throw new Error("mesh not started");
    return mesh;
  };

  beforeEach(async () => {
    mesh = await startMesh({ name: `canary-${transport}`, sotw });
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail" && mesh) {
      console.log(
        `--- meshpilot log (${ctx.task.name}) ---\n${mesh.logs().slice(-40).join("")}\n--- envoy log ---\n${mesh.envoy.logs().split("\n").slice(-40).join("\n")}`,
      );
    }
    await mesh?.stop();
    mesh = undefined;
  });

  it(`splits ${N} requests 90/10 between v1 and v2 (inside the 5σ binomial band)`, async () => {
    const counts = await m().tally(N);
    console.log(`[${transport}] 90/10 over ${N} requests: ${JSON.stringify(counts)}`);
    expectSplit(counts, N, 0.1);
  });

  it("sends every request with x-test-user: true to v2, and only those", async () => {
    const testers = await m().tally(200, { "x-test-user": "true" });
    expect(testers).toEqual({ v2: 200 });
    // The match is on the value, not on the header's presence: others are split as usual
    // (200 draws at 10 % all landing on v2 would happen with probability 1e-200).
    const others = await m().tally(200, { "x-test-user": "false" });
    expect(others["v1"] ?? 0).toBeGreaterThan(0);
    expect((others["v1"] ?? 0) + (others["v2"] ?? 0)).toBe(200);
  });

  it("moves to 50/50 after an edit of the VirtualService, without a failed request", async () => {
    const mesh = m();
    const before = await mesh.routeConfig();
    expect(before).toBeDefined();

    const loop = clientLoop(mesh, { maxRequests: 5000, maxMs: 20_000 });
    try {
      // The loop is under way before the edit.
      await pollUntil(() => mesh.v1.count + mesh.v2.count >= 20, { timeoutMs: 5000, what: "the client loop to get going" });
      const writtenAt = performance.now();
      mesh.writeTraffic(withWeights(mesh.originalTraffic, 50, 50));
      const delayMs = await pollUntil(
        async () => {
          const w = await mesh.splitWeights();
          return w?.["v1"] === 50 && w["v2"] === 50;
        },
        { since: writtenAt, intervalMs: 20, timeoutMs: PROPAGATION_TIMEOUT_MS, what: "50/50 in Envoy's config_dump" },
      );
      const visibleAt = performance.now();
      // Keep traffic flowing a little past the switch, then stop the loop.
      await new Promise((r) => setTimeout(r, 300));
      loop.stop();
      const result = await loop.done;
      const beforeSwitch = result.answeredAt.filter((t) => t < writtenAt).length;
      const afterSwitch = result.answeredAt.filter((t) => t > visibleAt).length;
      console.log(
        `[${transport}] 90/10 → 50/50 in Envoy's config_dump ${delayMs.toFixed(0)} ms after the write (polled every 20 ms); ` +
          `client loop: ${result.sent} requests (${beforeSwitch} before the write, ${afterSwitch} after the switch), ${result.failures.length} failed, ${JSON.stringify(result.statuses)}`,
      );
      expect(result.failures).toEqual([]);
      expect(beforeSwitch).toBeGreaterThan(0);
      expect(afterSwitch).toBeGreaterThan(0);
    } finally {
      loop.stop();
      await loop.done;
    }
    expect((await mesh.routeConfig())?.version).not.toBe(before?.version);

    const counts = await mesh.tally(N);
    console.log(`[${transport}] 50/50 over ${N} requests: ${JSON.stringify(counts)}`);
    expectSplit(counts, N, 0.5);
  });

  it("applies a DestinationRule edit (load balancer) to the live clusters: nothing is left warming", async () => {
    const mesh = m();
    const v1 = mesh.subsetCluster("v1");
    const activeLb = async (): Promise<string | undefined> => {
      const dump = (await mesh.envoy.configDump("dynamic_active_clusters")) as { configs?: { cluster?: { name?: string; lb_policy?: string } }[] };
      const c = dump.configs?.find((x) => x.cluster?.name === v1)?.cluster;
      return c ? (c.lb_policy ?? "ROUND_ROBIN") : undefined;
    };
    expect(await activeLb()).toBe("LEAST_REQUEST");
    mesh.writeTraffic(mesh.originalTraffic.replace("simple: LEAST_REQUEST", "simple: ROUND_ROBIN"));
    // An updated cluster only leaves warming once it gets its endpoints again; a control plane
    // that does not re-send them leaves the old cluster serving forever.
    await pollUntil(async () => (await activeLb()) === "ROUND_ROBIN", {
      intervalMs: 20,
      timeoutMs: PROPAGATION_TIMEOUT_MS,
      what: "ROUND_ROBIN on the active v1 cluster",
    });
    expect(await mesh.envoy.stat("cluster_manager.warming_clusters")).toBe(0);
    expectSplit(await mesh.tally(N), N, 0.1);
  });

  it("reports a route to an undefined subset (IST0101) and answers it with 503 while the other routes keep working", async () => {
    const mesh = m();
    mesh.writeTraffic(withV3Rule(mesh.originalTraffic));
    await pollUntil(async () => (await mesh.routeConfig())?.routes.some((r) => r.name === "canary-v3") === true, {
      timeoutMs: PROPAGATION_TIMEOUT_MS,
      what: "the canary-v3 route in Envoy",
    });

    // The diagnostic, from the control plane and from the debug endpoint alike.
    const path = "spec.http[1].route[0].destination.subset";
    const checkDiagnostic = (d: Diagnostic | undefined) => {
      expect(d, "an IST0101 finding for the v3 destination").toBeDefined();
      expect(d?.severity).toBe("error");
      expect(d?.object).toEqual({ kind: "VirtualService", namespace: "default", name: "reviews" });
      expect(d?.message).toContain('"v3"');
      expect(d?.source?.file).toBe(mesh.trafficPath);
    };
    checkDiagnostic(findDiagnostic(mesh.diagnostics(), "IST0101", path));
    const res = await fetch(`${mesh.debugUrl}/debug/diagnostics`);
    expect(res.status).toBe(200);
    const fromHttp = (await res.json()) as Diagnostic[];
    checkDiagnostic(findDiagnostic(fromHttp, "IST0101", path));
    expect(mesh.logs().some((l) => l.includes("IST0101") && l.includes(path) && l.includes("VirtualService default/reviews"))).toBe(true);

    // The v3 route: Envoy answers 503 itself (no such cluster) and no backend sees the request.
    const seenBefore = mesh.v1.count + mesh.v2.count;
    const noClusterBefore = Object.values(await mesh.envoy.stats("no_cluster$")).reduce((a, b) => a + b, 0);
    for (let i = 0; i < 20; i++) {
      const r = await mesh.request({ "x-canary": "v3" });
      expect(r.status).toBe(503);
      expect(r.headers["x-backend-version"]).toBeUndefined();
    }
    expect(mesh.v1.count + mesh.v2.count).toBe(seenBefore);
    const noClusterAfter = Object.values(await mesh.envoy.stats("no_cluster$")).reduce((a, b) => a + b, 0);
    expect(noClusterAfter - noClusterBefore, "Envoy counts the 503s as 'cluster not found'").toBe(20);

    // Everything else still works: the split and the testers' route.
    expectSplit(await mesh.tally(N), N, 0.1);
    expect(await mesh.tally(50, { "x-test-user": "true" })).toEqual({ v2: 50 });
  });

  it("keeps the last valid config in Envoy on an invalid edit, names the error, and applies the fix", async () => {
    const mesh = m();
    const before = await mesh.routeConfig();
    expect(before).toBeDefined();
    const sentBefore = () => mesh.server.xds.syncStatus().map((s) => [s.types.rds?.versionSent, s.types.vhds?.versionSent]);
    const rdsSentBefore = sentBefore();

    const steps = [
      // A negative weight (the 50 beside it would show if the object were half applied).
      { text: withWeights(mesh.originalTraffic, 50, -5), path: "spec.http[1].route[1].weight", says: "-5" },
      // A misspelt field.
      { text: withWeights(mesh.originalTraffic, 50, "10\n          wieght: 50"), path: "spec.http[1].route[1].wieght", says: "wieght" },
    ];
    for (const step of steps) {
      mesh.writeTraffic(step.text);
      await pollUntil(() => findDiagnostic(mesh.diagnostics(), "IST0106", step.path) !== undefined, {
        timeoutMs: PROPAGATION_TIMEOUT_MS,
        what: `an IST0106 finding at ${step.path}`,
      });
      const d = findDiagnostic(mesh.diagnostics(), "IST0106", step.path);
      expect(d?.severity).toBe("error");
      expect(d?.source?.file).toBe(mesh.trafficPath);
      expect(d?.source?.line).toBeGreaterThan(0);
      expect(d?.object).toEqual({ kind: "VirtualService", namespace: "default", name: "reviews" });
      expect(d?.message).toContain(step.says);
      expect(mesh.logs().some((l) => l.includes(mesh.trafficPath) && l.includes("VirtualService default/reviews") && l.includes(step.path))).toBe(true);

      // Any push this edit caused would reach Envoy within milliseconds; give it ample time.
      await new Promise((r) => setTimeout(r, 500));
      expect(sentBefore(), "meshpilot sent no new route version").toEqual(rdsSentBefore);
      const now = await mesh.routeConfig();
      expect(now?.version, "Envoy's route configuration version is unchanged").toBe(before?.version);
      expect(await mesh.splitWeights()).toEqual({ v1: 90, v2: 10 });
      expectSplit(await mesh.tally(N), N, 0.1);
    }

    // The fix applies, and the findings go away.
    const fixedAt = performance.now();
    mesh.writeTraffic(withWeights(mesh.originalTraffic, 70, 30));
    const delayMs = await pollUntil(
      async () => {
        const w = await mesh.splitWeights();
        return w?.["v1"] === 70 && w["v2"] === 30;
      },
      { since: fixedAt, timeoutMs: PROPAGATION_TIMEOUT_MS, what: "70/30 in Envoy" },
    );
    console.log(`[${transport}] fixed file (70/30) in Envoy after ${delayMs.toFixed(0)} ms`);
    expect(mesh.diagnostics().filter((d) => d.severity === "error")).toEqual([]);
    expect((await mesh.routeConfig())?.version).not.toBe(before?.version);
    expectSplit(await mesh.tally(N), N, 0.3);
  });
});
