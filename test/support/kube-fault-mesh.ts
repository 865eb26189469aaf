/**
 * The fixture of the Kubernetes fault tests (test/kube/fault-*.test.ts): a real kube-apiserver +
 * etcd, meshpilot (in process, with deploy/'s ServiceAccount and RBAC) reaching the API server
 * only through a TCP proxy the test can cut, a real Envoy on delta ADS as the sidecar of
 * productpage, and backends on pod addresses inside a network namespace of the test's own.
 *
 * The mesh: the reviews canary (subsets v1, v2, v3; `x-canary: v3` → v3, everything else split by
 * weight, all on v1 at first) and two more Services with a Pod each: `ratings` and, when
 * `withDetails`, `details`. Every backend answers with `x-backend-version` = its version, or its
 * Service's name for ratings and details.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import type { PushRecord } from "../../src/debug/history.js";
import { httpRequest, startBackend, type Backend } from "./backend.js";
import { startSidecarEnvoy, type Envoy } from "./envoy.js";
import { DEPLOY_DIR, startKube, startTcpProxy, type KubeCluster, type KubeTestClient, type TcpProxy } from "./kube.js";
import {
  createCanary,
  createServiceWithPod,
  deleteServiceWithPod,
  destinationRule,
  endpointSlice,
  pickAddresses,
  pod,
  podStatus,
  PRODUCTPAGE_POD,
  stopKubeMesh,
  weightedVirtualService,
  type KubeMeshNet,
} from "./kube-mesh.js";
import { startLoadLoop, type LoadLoop, type LoadResult } from "./load-loop.js";
import { sleep, until } from "./wait.js";

/** Pod addresses beyond the canary's four (10.253.0.10–13), added to the same network namespace. */
export const RATINGS_IP = "10.253.0.14";
export const DETAILS_IP = "10.253.0.15";

/** What Envoy does with a few requests, and which Services it has routes for. */
export interface Routing {
  readonly reviews: string;
  readonly canaryV3: string;
  readonly ratings: string;
  readonly details: string;
  readonly services: readonly string[];
}

/** A host without a Service goes to Envoy's passthrough cluster, which has nowhere to go here. */
const UNKNOWN_HOST = "status:503 no healthy upstream";
export const ROUTING_BEFORE: Routing = {
  reviews: "v1",
  canaryV3: "v3",
  ratings: "ratings",
  details: UNKNOWN_HOST,
  services: ["productpage", "ratings", "reviews"],
};
/** After `makeChanges` (reviews-v3 not ready: Envoy has no endpoint for subset v3). */
export const ROUTING_AFTER: Routing = {
  reviews: "v2",
  canaryV3: "status:503 no healthy upstream",
  ratings: UNKNOWN_HOST,
  details: "details",
  services: ["details", "productpage", "reviews"],
};

/** The objects `makeChanges` changes whose change must reach Envoy, and those it may push alongside. */
const MUST_PUSH = (ns: string) => [`VirtualService/${ns}/reviews`, `EndpointSlice/${ns}/reviews-x2`, `Service/${ns}/details`, `Service/${ns}/ratings`];
const MAY_PUSH = (ns: string) => [`EndpointSlice/${ns}/details-x1`, `Pod/${ns}/details-v1`, `EndpointSlice/${ns}/ratings-x1`, `Pod/${ns}/ratings-v1`];

export interface KubeFaultMesh {
  readonly ns: string;
  readonly kube: KubeCluster;
  readonly admin: KubeTestClient;
  readonly a: KubeMeshNet;
  /** meshpilot's only way to the API server. */
  readonly proxy: TcpProxy;
  readonly server: RunningServer;
  readonly envoy: Envoy;
  /** meshpilot's log lines (JSON). */
  readonly lines: string[];
  /**
   * What a request through Envoy to `host` gets: the backend's version, or `status:<code>` (with
   * ` no healthy upstream` when Envoy says so), or `error`. A host without a Service goes to
   * Envoy's passthrough cluster, which has nowhere to go here: 503.
   */
  answer(host: string, headers?: Record<string, string>): Promise<string>;
  /** The Services of the test's namespace that Envoy has a virtual host for (from its config dump), sorted. */
  services(): Promise<string[]>;
  routing(): Promise<Routing>;
  /** Waits until `routing()` is `want`; the error names the last routing seen. */
  waitForRouting(want: Routing, what: string, timeoutMs?: number): Promise<void>;
  /**
   * Through the admin client: the VirtualService's weights v1 100 / v2 0 → 0 / 100, reviews-v3's
   * endpoint not ready, Service details (with its Pod and slice) created, ratings deleted.
   */
  makeChanges(): Promise<void>;
  /**
   * What is wrong with the pushes made after `makeChanges`: a changed object pushed more than
   * once (a replay), one that must reach Envoy never pushed, an unchanged one pushed. Empty: each
   * change was applied exactly once.
   */
  pushProblems(pushes: readonly PushRecord[]): string[];
  /** Forces a relist of every collection and returns the pushes it caused (none, when meshpilot was in step). */
  relistAll(): Promise<PushRecord[]>;
  /** The reflectors' counters, summed over every collection. */
  informerTotals(): { lists: number; errors: number; gone: number; goneEvents: number; collections: number };
  /** A bounded load loop through Envoy to reviews (2 workers, 20 ms apart). */
  startLoad(bounds: { maxRequests: number; maxMs: number }): LoadLoop;
  /** What went wrong for the load loop: a failed request, the loop cut by its bound, versions other than v1 and v2. */
  loadProblems(result: LoadResult): string[];
  /** The highest push id in /debug/history (0 before the first). */
  lastPush(): Promise<number>;
  /** Pushes with an id above `after`, oldest first, from /debug/history. */
  pushesAfter(after: number): Promise<PushRecord[]>;
  /** /ready's status and body. */
  ready(): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export async function startKubeFaultMesh(opts: { name: string; ns: string; watchCache?: boolean; withDetails?: boolean }): Promise<KubeFaultMesh> {
  const { ns } = opts;
  const backends: Backend[] = [];
  let kube: KubeCluster | undefined;
  let a: KubeMeshNet | undefined;
  let proxy: TcpProxy | undefined;
  let server: RunningServer | undefined;
  let envoy: Envoy | undefined;
  const stopKube = async () => {
    await proxy?.close();
    await kube?.stop();
  };
  const stop = () => stopKubeMesh({ envoy, server, backends, kube: { stop: stopKube }, addresses: a });
  try {
    kube = await startKube({ name: opts.name, ...(opts.watchCache !== undefined ? { watchCache: opts.watchCache } : {}) });
    const admin = kube.admin;
    await kube.installCrds();
    await admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    const saToken = await kube.serviceAccountToken("meshpilot-system", "meshpilot");
    a = await pickAddresses();
    a.netns.addAddress(RATINGS_IP);
    a.netns.addAddress(DETAILS_IP);
    await createCanary(admin, ns, a);
    const v3 = pod(ns, "reviews-v3", { app: "reviews", version: "v3" }, a.port);
    await admin.apply(v3);
    await admin.patchStatus(v3, podStatus(a.v3Ip));
    await admin.apply(endpointSlice(ns, "reviews-x2", "reviews", a.port, [{ ip: a.v3Ip, pod: "reviews-v3" }]));
    await admin.apply(destinationRule(ns, ["v1", "v2", "v3"], "networking.istio.io/v1"));
    await admin.apply(weightedVirtualService(ns, "v3", { v1: 100, v2: 0 }));
    await createServiceWithPod(admin, ns, "ratings", "v1", RATINGS_IP, a.port);
    if (opts.withDetails) await createServiceWithPod(admin, ns, "details", "v1", DETAILS_IP, a.port);
    for (const [version, host] of [
      ["v1", a.v1Ip],
      ["v2", a.v2Ip],
      ["v3", a.v3Ip],
      ["ratings", RATINGS_IP],
      ["details", DETAILS_IP],
    ] as const) {
      backends.push(await startBackend({ version, host, port: a.port, listening: await a.listen(host) }));
    }

    proxy = await startTcpProxy(Number(new URL(kube.server).port));
    const lines: string[] = [];
    server = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger: pino({ level: "debug", base: { app: "meshpilot" } }, { write: (s: string) => void lines.push(s) }),
      // Defaults everywhere (backoff, watch timeout): the fault is meant to meet what users run.
      kube: { kubeConfig: kube.kubeConfig(saToken, "meshpilot", `https://127.0.0.1:${proxy.port}`), leaseNamespace: "meshpilot-system" },
    });
    envoy = await startSidecarEnvoy(opts.name, {
      nodeId: `sidecar~${a.productpageIp}~${PRODUCTPAGE_POD}.${ns}~${ns}.svc.cluster.local`,
      xdsAddress: await a.hostAddress(server.xdsPort),
      netns: a.netns,
      labels: { app: "productpage", version: "v1" },
      sotw: false,
      readyTimeoutMs: 60_000,
    });
    const url = `http://127.0.0.1:${a.port}/`;
    const debug = `http://127.0.0.1:${server.debugPort}`;
    const history = async () => ((await (await fetch(`${debug}/debug/history`)).json()) as { pushes: PushRecord[] }).pushes;
    const mesh: KubeFaultMesh = {
      ns,
      kube,
      admin,
      a,
      proxy,
      server,
      envoy,
      lines,
      answer: async (host, headers = {}) => {
        try {
          const res = await httpRequest(url, { host, headers, timeoutMs: 3000 });
          // Envoy's own answer when a cluster has no endpoint to send to (the only body worth telling apart)
          const noHealthy = res.body === "no healthy upstream" ? " no healthy upstream" : "";
          return res.headers["x-backend-version"] ?? `status:${res.status}${noHealthy}`;
        } catch {
          return "error";
        }
      },
      services: async () => {
        const dump = JSON.stringify(await envoy!.configDump("dynamic_route_configs"));
        // A delta Envoy gets virtual hosts by VHDS, named `<route configuration>/<virtual host>`.
        const names = [...dump.matchAll(new RegExp(`"name":"(?:[^"/]*/)?([a-z0-9-]+)\\.${ns}\\.svc\\.cluster\\.local:\\d+"`, "g"))].map((x) => x[1]!);
        return [...new Set(names)].sort();
      },
      routing: async () => ({
        reviews: await mesh.answer("reviews"),
        canaryV3: await mesh.answer("reviews", { "x-canary": "v3" }),
        ratings: await mesh.answer("ratings"),
        details: await mesh.answer("details"),
        services: await mesh.services(),
      }),
      waitForRouting: async (want, what, timeoutMs = 20_000) => {
        let seen: Routing | undefined;
        await until(async () => JSON.stringify((seen = await mesh.routing())) === JSON.stringify(want), what, timeoutMs).catch((err: Error) => {
          throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
        });
      },
      makeChanges: async () => {
        await admin.apply(weightedVirtualService(ns, "v3", { v1: 0, v2: 100 }));
        await admin.apply(endpointSlice(ns, "reviews-x2", "reviews", a!.port, [{ ip: a!.v3Ip, pod: "reviews-v3", ready: false }]));
        await createServiceWithPod(admin, ns, "details", "v1", DETAILS_IP, a!.port);
        await deleteServiceWithPod(admin, ns, "ratings", "v1");
      },
      pushProblems: (pushes) => {
        const counts = new Map<string, number>();
        for (const p of pushes) for (const o of p.trigger.objects) counts.set(o, (counts.get(o) ?? 0) + 1);
        return [
          ...MUST_PUSH(ns)
            .filter((k) => !counts.has(k))
            .map((k) => `${k} changed but was never pushed`),
          ...[...counts].filter(([k]) => !MUST_PUSH(ns).includes(k) && !MAY_PUSH(ns).includes(k)).map(([k]) => `${k} was pushed though it did not change`),
          ...[...counts].filter(([, n]) => n > 1).map(([k, n]) => `${k} was pushed ${n} times`),
        ];
      },
      relistAll: async () => {
        const last = await mesh.lastPush();
        const stats = () => Object.values(server!.kube!.stats());
        const lists = stats().reduce((n, s) => n + s.lists, 0);
        server!.kube!.relistAll();
        await until(() => stats().reduce((n, s) => n + s.lists, 0) >= lists + stats().length, "every collection to relist");
        await sleep(1000); // the debounce, and a push if the relist found anything
        return mesh.pushesAfter(last);
      },
      informerTotals: () => {
        const all = Object.values(server!.kube!.stats());
        const sum = (k: "lists" | "errors" | "gone" | "goneEvents") => all.reduce((n, s) => n + s[k], 0);
        return { lists: sum("lists"), errors: sum("errors"), gone: sum("gone"), goneEvents: sum("goneEvents"), collections: all.length };
      },
      startLoad: (bounds) => startLoadLoop({ url, host: "reviews", concurrency: 2, pauseMs: 20, ...bounds }),
      loadProblems: (result) => {
        console.log(`[${opts.name}] load through Envoy: ${result.requests} requests, ${JSON.stringify(result.byVersion)}, ${result.failures.length} failed`);
        const versions = Object.keys(result.byVersion).sort();
        return [
          ...result.failures.map((f) => `request at ${Math.round(f.at)} ms failed: ${f.status ?? ""} ${f.error ?? f.body ?? ""}`),
          ...(result.bounded ? [`the loop reached its bound (${result.requests} requests, ${Math.round(result.ms)} ms) before the test ended`] : []),
          ...(JSON.stringify(versions) === JSON.stringify(["v1", "v2"]) ? [] : [`answered by ${versions.join(", ")}, not by v1 and then v2`]),
        ];
      },
      lastPush: async () => Math.max(0, ...(await history()).map((p) => p.id)),
      pushesAfter: async (after) => (await history()).filter((p) => p.id > after).sort((x, y) => x.id - y.id),
      ready: async () => {
        const res = await fetch(`${debug}/ready`);
        return { status: res.status, body: await res.text() };
      },
      stop,
    };
    await until(async () => (await mesh.answer("reviews")) === "v1", "reviews to route to v1", 30_000);
    return mesh;
  } catch (err) {
    await stop();
    throw err;
  }
}
