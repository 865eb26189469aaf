/**
 * Fault (issue 12 item 6): the kube-apiserver unreachable for 30 s while objects change.
 *
 * meshpilot reaches the API server only through a TCP proxy; the test cuts it (open connections
 * reset, new ones refused) for 30 s and meanwhile changes objects through a direct client: a
 * VirtualService's weights, an endpoint going not ready, a new Service, a deleted one. A real
 * Envoy passes traffic the whole time. Shown: meshpilot keeps serving the last state (Envoy
 * routes as before, no request fails, /ready stays 200 and says degraded); once the API server is
 * reachable again every change arrives, in the same process, each object's change pushed once,
 * nothing else pushed, and a forced relist afterwards finds nothing left to change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeTestsSkipped } from "../support/kube.js";
import { DETAILS_IP, startKubeFaultMesh, type KubeFaultMesh } from "../support/kube-fault-mesh.js";
import { createServiceWithPod, deleteServiceWithPod, endpointSlice, weightedVirtualService } from "../support/kube-mesh.js";
import { startLoadLoop, type LoadResult } from "../support/load-loop.js";
import { sleep, until } from "../support/wait.js";

const NS = "outage";
const OUTAGE_MS = 30_000;

describe.skipIf(kubeTestsSkipped)("fault: the kube-apiserver unreachable for 30 s while objects change", () => {
  let m: KubeFaultMesh | undefined;

  beforeAll(async () => {
    m = await startKubeFaultMesh({ name: "fault-outage", ns: NS });
  }, 1_800_000); // a cold build of the binaries takes ~10 min on 2 cores

  afterAll(async () => {
    await m?.stop();
  });

  it("keeps serving while it is gone, then applies every change made meanwhile exactly once", async () => {
    const mesh = m!;
    const { admin, server, proxy } = mesh;
    const routing = async () => ({
      reviews: await mesh.answer("reviews"),
      canaryV3: await mesh.answer("reviews", { "x-canary": "v3" }),
      ratings: await mesh.answer("ratings"),
      details: await mesh.answer("details"),
      services: await mesh.services(),
    });
    // A host without a Service goes to Envoy's passthrough cluster, which has nowhere to go here.
    const unknown = "status:503 no healthy upstream";
    const before = { reviews: "v1", canaryV3: "v3", ratings: "ratings", details: unknown, services: ["productpage", "ratings", "reviews"] };
    const after = {
      reviews: "v2",
      canaryV3: "status:503 no healthy upstream",
      ratings: unknown,
      details: "details",
      services: ["details", "productpage", "reviews"],
    };
    let seen = {};
    const reaches = (want: object) => async () => JSON.stringify((seen = await routing())) === JSON.stringify(want);
    await until(reaches(before), "the initial routing").catch((err: Error) => {
      throw new Error(`${err.message}: last ${JSON.stringify(seen)}`);
    });
    expect((await mesh.ready()).body).toBe("ready\n");

    let result: LoadResult;
    const load = startLoadLoop({ url: `http://127.0.0.1:${mesh.a.port}/`, host: "reviews", concurrency: 2, pauseMs: 20, maxRequests: 20_000, maxMs: 150_000 });
    try {
      const pushBefore = await mesh.lastPush();
      const objectsBefore = server.kube!.objects();
      const cutAt = performance.now();
      proxy.cut();
      // meshpilot notices (its watches were reset, reconnects are refused) and says so, still ready
      await until(() => !server.kube!.health().reachable, "meshpilot to notice the API server is gone", 15_000);
      const degraded = await mesh.ready();
      expect(degraded.status).toBe(200);
      expect(degraded.body).toMatch(/^ready, degraded:\n {2}kube: Kubernetes lists and watches failing for \d+ s .*serving the last state seen\n$/);

      // the changes, made while meshpilot cannot see them
      await admin.apply(weightedVirtualService(NS, "v3", { v1: 0, v2: 100 }));
      await admin.apply(endpointSlice(NS, "reviews-x2", "reviews", mesh.a.port, [{ ip: mesh.a.v3Ip, pod: "reviews-v3", ready: false }]));
      await createServiceWithPod(admin, NS, "details", "v1", DETAILS_IP, mesh.a.port);
      await deleteServiceWithPod(admin, NS, "ratings", "v1");

      // for the rest of the outage Envoy keeps routing by the last state, and meshpilot pushes nothing
      let checks = 0;
      while (performance.now() - cutAt < OUTAGE_MS) {
        expect(await routing()).toEqual(before);
        checks++;
        await sleep(2000);
      }
      expect(checks).toBeGreaterThanOrEqual(5);
      expect(await mesh.pushesAfter(pushBefore)).toEqual([]);
      expect(server.kube!.objects()).toEqual(objectsBefore);
      expect(server.kube!.health().reachable).toBe(false);
      const refused = proxy.resets();
      expect(refused).toBeGreaterThan(0); // meshpilot kept trying (it did not give up)

      proxy.restore();
      await until(reaches(after), "every change made meanwhile to reach Envoy", 60_000).catch((err: Error) => {
        throw new Error(`${err.message}: last ${JSON.stringify(seen)}`);
      });
      await until(() => server.kube!.health().reachable, "every collection to reach the API server again", 30_000);
      expect((await mesh.ready()).body).toBe("ready\n");

      // Each changed object was pushed once (a relist or a resumed watch, never both; no replay),
      // and nothing that did not change was pushed at all.
      await sleep(1500);
      const pushes = await mesh.pushesAfter(pushBefore);
      const counts: Record<string, number> = {};
      for (const p of pushes) for (const o of p.trigger.objects) counts[o] = (counts[o] ?? 0) + 1;
      const mustReachEnvoy = [`VirtualService/${NS}/reviews`, `EndpointSlice/${NS}/reviews-x2`, `Service/${NS}/details`, `Service/${NS}/ratings`];
      const mayShow = [`EndpointSlice/${NS}/details-x1`, `Pod/${NS}/details-v1`, `EndpointSlice/${NS}/ratings-x1`, `Pod/${NS}/ratings-v1`];
      for (const key of mustReachEnvoy) expect(counts[key], `pushes triggered by ${key}: ${JSON.stringify(counts)}`).toBe(1);
      for (const [key, n] of Object.entries(counts)) {
        expect([...mustReachEnvoy, ...mayShow], `${key} was pushed though it did not change`).toContain(key);
        expect(n, `${key} pushed ${n} times`).toBe(1);
      }

      // Nothing left over: a forced relist of every collection changes nothing, and the routing holds.
      const lastPush = await mesh.lastPush();
      const stats = () => Object.values(server.kube!.stats());
      const lists = stats().reduce((n, s) => n + s.lists, 0);
      server.kube!.relistAll();
      await until(() => stats().reduce((n, s) => n + s.lists, 0) >= lists + stats().length, "every collection to relist");
      await sleep(1000);
      expect(await mesh.pushesAfter(lastPush)).toEqual([]);
      expect(await routing()).toEqual(after);
      const outcome = stats().reduce((o, s) => ({ errors: o.errors + s.errors, gone: o.gone + s.gone }), { errors: 0, gone: 0 });
      console.log(
        `[fault-outage] ${refused} connections refused or reset during ${OUTAGE_MS / 1000} s; ${outcome.errors} list/watch errors, ` +
          `${outcome.gone} answered 410 Gone; ${pushes.length} pushes after it: ${pushes.map((p) => p.trigger.objects.join("+")).join(", ")}`,
      );
    } finally {
      result = await load.stop();
    }
    console.log(`[fault-outage] load through Envoy: ${result.requests} requests, ${JSON.stringify(result.byVersion)}, ${result.failures.length} failed`);
    expect(result.failures).toEqual([]);
    expect(result.bounded).toBe(false);
    expect(Object.keys(result.byVersion).sort()).toEqual(["v1", "v2"]);
  }, 240_000);
});
