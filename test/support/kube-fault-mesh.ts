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
import { until } from "./wait.js";

/** Pod addresses beyond the canary's four (10.253.0.10–13), added to the same network namespace. */
export const RATINGS_IP = "10.253.0.14";
export const DETAILS_IP = "10.253.0.15";

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
        const names = [...dump.matchAll(new RegExp(`"name":"([a-z0-9-]+)\\.${ns}\\.svc\\.cluster\\.local:\\d+"`, "g"))].map((x) => x[1]!);
        return [...new Set(names)].sort();
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
