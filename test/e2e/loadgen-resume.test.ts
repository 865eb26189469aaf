/**
 * Delta resume against a restarted meshpilot (in this process, on loopback, the same port): load
 * proxies hold the config, the server goes away, one endpoint moves while it is down, a new server
 * comes up on the same port; each delta proxy reconnects declaring what it holds
 * (initial_resource_versions) and is sent only the ClusterLoadAssignments that changed, nothing it
 * held at the current version; a proxy that does not resume is sent everything again. The load
 * generator's counters (resumed, unchanged, offered) are what the test reads.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ChangeWatch } from "../../src/loadgen/changes.js";
import { CARRIER, markerOf, planChange, slotOf } from "../../src/loadgen/churn.js";
import { DeltaProxy } from "../../src/loadgen/delta-proxy.js";
import { DirDriver } from "../../src/loadgen/dir-driver.js";
import { LoadMesh } from "../../src/loadgen/mesh.js";
import { ENVOY_VERSION, istioNode, proxyWorkload } from "../../src/loadgen/node.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { until } from "../support/wait.js";

const SERVICES = 4;

describe("delta resume after meshpilot restarts", () => {
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-loadgen-resume-"));
  const servers: RunningServer[] = [];
  const proxies: DeltaProxy[] = [];

  afterAll(async () => {
    for (const p of proxies) p.close();
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const serve = async (port = 0): Promise<RunningServer> => {
    const s = await startServer({
      configDir: dir,
      xdsAddress: `127.0.0.1:${port}`,
      debugAddress: "127.0.0.1:0",
      debounceMs: 20,
      logger: pino({ level: "silent" }),
    });
    servers.push(s);
    return s;
  };

  it("a resuming proxy is sent only what changed while it was away; one that does not resume, everything again", async () => {
    const mesh = new LoadMesh({ services: SERVICES, variant: "basic" });
    const driver = new DirDriver(dir);
    await driver.setup(mesh);
    const first = await serve();
    const watch = new ChangeWatch();
    const open = (index: number, resume: boolean): DeltaProxy => {
      const p = new DeltaProxy({
        address: `127.0.0.1:${first.xdsPort}`,
        index,
        node: istioNode(proxyWorkload(index, { mode: "identical", namespace: "bench-0", name: "lg", groups: 1 }), ENVOY_VERSION),
        expectClusters: mesh.expectedClusters(),
        changes: watch,
        reconnect: true,
        resume,
      });
      proxies.push(p);
      return p;
    };
    const resuming = [0, 1, 2].map((i) => open(i, true));
    const fresh = open(3, false);
    await until(() => proxies.every((p) => p.synced), "every proxy in sync", 30_000);
    const held = resuming[0]!.counts;
    expect(held.eds.resources).toBeGreaterThanOrEqual(SERVICES * 3);

    // The server goes; an endpoint moves meanwhile; a new server on the same port reads the files afresh.
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    const plan = planChange(0, SERVICES, ["endpoint"], "resume");
    if (plan.kind !== "endpoint") throw new Error("an endpoint change was planned");
    mesh.moveEndpoint(plan.service, plan.endpoint, { pod: plan.pod, ip: plan.ip });
    const change = watch.begin(slotOf(plan), plan.kind, CARRIER[plan.kind], markerOf(plan), Date.now());
    await driver.apply(mesh, plan);
    await serve(first.xdsPort);

    // Each proxy reconnects (its own backoff), declares what it holds, and is answered on every type.
    await until(
      () => proxies.every((p) => p.streams > 1 && p.unanswered().length === 0 && p.seen.has(change.id)),
      "every proxy resumed with the change",
      30_000,
    );
    for (const p of resuming) {
      const c = p.resumed;
      // The CLAs of the moved endpoint's service (its cluster and the subset that holds it), nothing else.
      expect(c.eds.resources, `proxy ${p.names().clusters.length}`).toBeGreaterThanOrEqual(1);
      expect(c.eds.resources).toBeLessThanOrEqual(3);
      for (const t of ["cds", "lds", "rds", "vhds"] as const) expect(c[t].resources, t).toBe(0);
      for (const t of ["cds", "eds", "lds", "rds", "vhds"] as const) {
        expect(c[t].unchanged, t).toBe(0);
        expect(c[t].removed, t).toBe(0);
      }
      expect(p.offered.cds).toBe(p.holds("cds").size);
      expect(p.offered.eds).toBe(p.syncCounts!.eds.resources);
      expect(p.holds("eds").size).toBe(p.syncCounts!.eds.resources);
    }
    // Without initial_resource_versions, everything comes again.
    const f = fresh.resumed;
    expect(fresh.offered).toEqual({});
    expect(fresh.holds("cds").size).toBe(0);
    for (const t of ["cds", "eds", "lds", "rds", "vhds"] as const) expect(f[t].resources, t).toBe(fresh.syncCounts![t].resources);
  });
});
