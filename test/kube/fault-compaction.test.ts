/**
 * Fault (issue 12 item 6): etcd compaction forcing a 410 Gone mid-watch.
 *
 * The API server runs without its watch cache (--watch-cache=false), so every watch is served by
 * etcd and etcd's history is what decides whether a resourceVersion is still there. meshpilot's
 * connections are cut (its watches break), objects change through a direct client, etcd is
 * compacted to its current revision, and the connection comes back: every watch meshpilot
 * resumes from its last version is answered 410 Gone. Shown: meshpilot relists, applies the
 * changes made meanwhile exactly once (nothing replayed, nothing unchanged pushed), and a real
 * Envoy serves traffic throughout. The other form of 410 (the HTTP status on the watch request) is
 * unit-tested in test/unit/sources/reflector.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeTestsSkipped } from "../support/kube.js";
import { ROUTING_AFTER, ROUTING_BEFORE, startKubeFaultMesh, type KubeFaultMesh } from "../support/kube-fault-mesh.js";
import type { LoadResult } from "../support/load-loop.js";
import { until } from "../support/wait.js";

const NS = "compaction";

describe.skipIf(kubeTestsSkipped)("fault: etcd compaction forces 410 Gone on meshpilot's watches", () => {
  let m: KubeFaultMesh | undefined;

  beforeAll(async () => {
    m = await startKubeFaultMesh({ name: "fault-compaction", ns: NS, watchCache: false });
  }, 1_800_000); // a cold build of the binaries takes ~10 min on 2 cores

  afterAll(async () => {
    await m?.stop();
  });

  it("relists after the 410 and applies the changes made meanwhile exactly once", async () => {
    const mesh = m!;
    const { server, proxy, kube } = mesh;
    await mesh.waitForRouting(ROUTING_BEFORE, "the initial routing");

    let result: LoadResult;
    const load = mesh.startLoad({ maxRequests: 10_000, maxMs: 90_000 });
    try {
      const pushBefore = await mesh.lastPush();
      const before = mesh.informerTotals();
      expect(before.gone).toBe(0);

      proxy.cut();
      await until(() => !server.kube!.health().reachable, "meshpilot's watches to break", 15_000);
      await mesh.makeChanges();
      const revision = await kube.compactEtcd();
      // The server itself now refuses a watch from before the compaction (what meshpilot will ask):
      // a watch from version v reads etcd from v + 1, so v = revision - 2 is the newest refused.
      const old = revision - 2;
      const probe = await mesh.admin.request("GET", `/api/v1/namespaces/${NS}/services?watch=true&timeoutSeconds=1&resourceVersion=${old}`);
      const answer = `HTTP ${probe.status} ${JSON.stringify(probe.body ?? "")}`;
      expect(probe.status === 410 || /\\?"code\\?":410/.test(answer), `a watch from ${old}: ${answer}`).toBe(true);
      expect(await mesh.routing()).toEqual(ROUTING_BEFORE);

      proxy.restore();
      await mesh.waitForRouting(ROUTING_AFTER, "the changes made meanwhile to reach Envoy", 60_000);
      await until(() => server.kube!.health().reachable, "every collection to reach the API server again", 30_000);

      // Every collection's watch was answered 410 and the collection relisted.
      const after = mesh.informerTotals();
      expect(after.gone - before.gone).toBeGreaterThanOrEqual(after.collections);
      expect(after.lists - before.lists).toBeGreaterThanOrEqual(after.collections);

      const pushes = await mesh.pushesAfter(pushBefore);
      expect(mesh.pushProblems(pushes)).toEqual([]);
      expect(await mesh.relistAll()).toEqual([]);
      expect(await mesh.routing()).toEqual(ROUTING_AFTER);
      console.log(
        `[fault-compaction] etcd compacted at revision ${revision}; ${after.gone - before.gone} watches answered 410 ` +
          `(${after.goneEvents - before.goneEvents} as an ERROR event in the stream, the rest as the HTTP status) over ${after.collections} collections; ` +
          `${pushes.length} pushes after it: ${pushes.map((p) => p.trigger.objects.join("+")).join(", ")}`,
      );
    } finally {
      result = await load.stop();
    }
    expect(mesh.loadProblems(result)).toEqual([]);
  }, 180_000);
});
