// Section 4b: what the Kubernetes informers keep. A cluster gets S Services with P Pods each
// (Pod status written as a kubelet would) and one EndpointSlice per Service, all through the API.
// A KubeSource feeding a Store (as `meshpilot serve` wires them) then lists and syncs in a fresh
// process (kube-memory-probe.ts), and its heap after full GCs is compared with the same
// measurement taken before those objects existed. A second figure does the same for a whole
// `startServer` (informers, store, mesh model and analysis; no proxy connected).
import { fork } from "node:child_process";
import https from "node:https";
import { fileURLToPath } from "node:url";
import { objectPath, type KubeCluster } from "../support/kube.js";
import { endpointSlice, namespace, pod, podStatus, service } from "../support/kube-mesh.js";
import type { ProbeMode, ProbeResult } from "./kube-memory-probe.js";

export interface ClusterShape {
  readonly services: number;
  readonly podsPerService: number;
  /** Services are spread over this many namespaces. */
  readonly namespaces: number;
}

export interface Population {
  readonly objects: number;
  readonly requests: number;
  readonly ms: number;
}

/** Runs `tasks` with at most `concurrency` in flight; the first failure rejects (after the others settle). */
async function pool(concurrency: number, tasks: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < tasks.length && failed === undefined) {
      const t = tasks[next++]!;
      await t().catch((e: unknown) => (failed ??= e));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  if (failed !== undefined) throw failed;
}

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/**
 * Admin writes over kept-alive TLS connections. KubeClient (like kubectl) opens a connection per
 * request; for the bulk creates that made populating 1000 × 10 take about 4 times as long.
 */
async function keepAliveWriter(kube: KubeCluster, sockets: number) {
  const kc = kube.admin.config;
  const base: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(base);
  const agent = new https.Agent({ keepAlive: true, maxSockets: sockets, ca: base.ca });
  const send = (method: string, path: string, body: object, contentType: string) =>
    new Promise<void>((resolve, reject) => {
      const req = https.request(
        `${kube.server}${path}`,
        { method, agent, headers: { ...base.headers, "content-type": contentType }, timeout: 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`${method} ${path}: HTTP ${status} ${Buffer.concat(chunks).toString().slice(0, 300)}`));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  return {
    create: (o: Obj) => send("POST", objectPath(o, true), o, "application/json"),
    patchStatus: (o: Obj, status: object) => send("PATCH", `${objectPath(o)}/status`, { status }, "application/merge-patch+json"),
    close: () => agent.destroy(),
  };
}

/** Creates the Services, Pods (+ status) and EndpointSlices through the API, `concurrency` requests at a time. */
export async function populate(kube: KubeCluster, shape: ClusterShape, log: (s: string) => void, concurrency = 32): Promise<Population> {
  const t0 = performance.now();
  const port = 9080;
  const nsNames = Array.from({ length: shape.namespaces }, (_, i) => `bench-mem-${i}`);
  let requests = nsNames.length;
  let objects = nsNames.length;
  const writer = await keepAliveWriter(kube, concurrency);
  const tasks: Array<() => Promise<unknown>> = [];
  for (let s = 0; s < shape.services; s++) {
    const ns = nsNames[s % nsNames.length]!;
    const name = `svc-${String(s).padStart(4, "0")}`;
    const endpoints: Array<{ ip: string; pod: string }> = [];
    tasks.push(() => writer.create(service(ns, name, port)));
    for (let p = 0; p < shape.podsPerService; p++) {
      const idx = s * shape.podsPerService + p;
      const ip = `10.200.${Math.floor(idx / 250)}.${(idx % 250) + 1}`;
      const po = pod(ns, `${name}-${p}`, { app: name, version: p % 2 === 0 ? "v1" : "v2" }, port);
      endpoints.push({ ip, pod: po.metadata.name });
      tasks.push(async () => {
        await writer.create(po);
        await writer.patchStatus(po, podStatus(ip));
      });
    }
    tasks.push(() => writer.create(endpointSlice(ns, `${name}-x1`, name, port, endpoints)));
    requests += 2 + 2 * shape.podsPerService;
    objects += 2 + shape.podsPerService;
  }
  let done = 0;
  const progress = setInterval(() => log(`section 4b: creating objects, ${done}/${tasks.length} tasks done`), 15_000);
  try {
    await pool(
      concurrency,
      nsNames.map((n) => () => writer.create(namespace(n))),
    );
    await pool(
      concurrency,
      tasks.map((t) => async () => {
        await t();
        done++;
      }),
    );
  } finally {
    clearInterval(progress);
    writer.close();
  }
  return { objects, requests, ms: performance.now() - t0 };
}

export interface MemorySample {
  readonly informers: ProbeResult;
  readonly server: ProbeResult;
}

const PROBE_TIMEOUT_MS = 240_000;

/** One figure in a fresh process (kube-memory-probe.ts), every wait bounded. */
function runProbe(kube: KubeCluster, mode: ProbeMode): Promise<ProbeResult> {
  const child = fork(fileURLToPath(new URL("./kube-memory-probe.ts", import.meta.url)), [mode], {
    execArgv: ["--import", "tsx", "--expose-gc"],
    env: { ...process.env, BENCH_KUBECONFIG: kube.admin.config.exportConfig() },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise<ProbeResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`kube memory: the ${mode} probe gave no answer within ${PROBE_TIMEOUT_MS} ms`));
    }, PROBE_TIMEOUT_MS);
    child.once("message", (m: { ok: true; result: ProbeResult } | { ok: false; message: string }) => {
      clearTimeout(timer);
      if (m.ok) resolve(m.result);
      else reject(new Error(`kube memory: the ${mode} probe failed: ${m.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kube memory: the ${mode} probe exited (code ${code}) without an answer`));
    });
  });
}

/** Informers (KubeSource + Store) and a whole server against the cluster as it is now, each in its own process. */
export async function measureKubeMemory(kube: KubeCluster): Promise<MemorySample> {
  const informers = await runProbe(kube, "informers");
  const server = await runProbe(kube, "server");
  return { informers, server };
}
