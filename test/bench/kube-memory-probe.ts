// Child process of the informer memory bench (kube-memory.ts): measures one thing against the
// cluster in $BENCH_KUBECONFIG, in a fresh heap, and sends the result to its parent over IPC.
//   informers — a KubeSource feeding a Store, as `meshpilot serve` wires them, until synced;
//   server    — a whole startServer with the kube source (store, mesh model, analysis; no proxy).
// A fresh process per figure keeps what the bench did before (and the previous figure's
// teardown) out of the heap deltas.
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { startServer } from "../../src/runtime/serve.js";
import { KubeClient } from "../../src/sources/kube/client.js";
import { KubeSource } from "../../src/sources/kube/kube-source.js";
import { Store } from "../../src/store/store.js";
import { minus, retainedAfterGc, sleep, type Retained } from "./report.js";
import { until } from "./kube-latency.js";

export type ProbeMode = "informers" | "server";

export interface ProbeResult {
  readonly mode: ProbeMode;
  /** Objects served after sync, by kind. */
  readonly byKind: Readonly<Record<string, number>>;
  /** JSON size of the objects as kept (after what the source drops), for scale. */
  readonly storedJsonBytes: number;
  /** Heap after GC, synced minus before start. */
  readonly retained: Retained;
  /** Start to synced (informers) or to the first build (server). */
  readonly syncMs: number;
}

const SYNC_TIMEOUT_MS = 180_000;
const silent = pino({ level: "silent" });

async function probe(mode: ProbeMode, kc: KubeConfig): Promise<ProbeResult> {
  const before = retainedAfterGc();
  const t0 = performance.now();
  if (mode === "informers") {
    const store = new Store();
    const source = new KubeSource({ client: new KubeClient(kc), logger: silent, onUpdate: (u) => void store.apply(u.source, u.events) });
    source.start();
    await until("the informers to sync", SYNC_TIMEOUT_MS, () => (source.isSynced ? true : undefined), 10);
    const syncMs = performance.now() - t0;
    await sleep(500); // let the watches settle
    const retained = minus(retainedAfterGc(), before);
    if (store.snapshot().size !== source.objects().length)
      throw new Error(`the store holds ${store.snapshot().size} objects, the source ${source.objects().length}`);
    return { mode, ...census(source), retained, syncMs };
  }
  const srv = await startServer({ xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger: silent, kube: { kubeConfig: kc, writeStatus: false } });
  await until("the server to sync", SYNC_TIMEOUT_MS, () => (srv.controlPlane.ready ? true : undefined), 10);
  const syncMs = performance.now() - t0;
  await sleep(500);
  const retained = minus(retainedAfterGc(), before);
  return { mode, ...census(srv.kube!), retained, syncMs };
}

function census(source: KubeSource): Pick<ProbeResult, "byKind" | "storedJsonBytes"> {
  const byKind: Record<string, number> = {};
  let storedJsonBytes = 0;
  for (const o of source.objects()) {
    byKind[o.object.kind] = (byKind[o.object.kind] ?? 0) + 1;
    storedJsonBytes += JSON.stringify(o.object).length;
  }
  return { byKind, storedJsonBytes };
}

const mode = process.argv[2] as ProbeMode;
const kc = new KubeConfig();
kc.loadFromString(process.env["BENCH_KUBECONFIG"] ?? "");
probe(mode, kc).then(
  (r) => process.send!({ ok: true, result: r }, () => process.exit(0)),
  (e: unknown) => process.send!({ ok: false, message: (e as Error).stack ?? String(e) }, () => process.exit(1)),
);
