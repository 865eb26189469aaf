// In process, no streams: the soak's churn (test/bench/targets-soak.ts) through the store, the
// control plane and the push history, as `meshpilot serve` runs them, with a workload view per
// proxy. Prints the CPU per change (GC included) and the heap after GC at the end of the warm-up
// and at the end: what the server keeps per change, without the streams, the load generator and
// the shared machine's noise. With SOAK_HEAP_SNAPSHOTS=<dir> it also writes a heap snapshot at
// both points, to compare what grew by constructor.
//   node --expose-gc --import tsx test/bench/soak-in-process.ts
//   (SOAK_SERVICES=1000, SOAK_PROXIES=1000, SOAK_LABELS=workloads, SOAK_KINDS=endpoint,weight,
//   SOAK_CHANGES=300, SOAK_WARMUP=100,
//   SOAK_CHURN_SERVICES: the services changed, all by default; SOAK_FILES=1: changes read from YAML
//   text through the file state, as from a config directory)
// A change that edits a service for the first time adds what the edit adds (a marked route, a
// replaced pod's name); with few churned services, what is left is what the server keeps per change.
import { writeHeapSnapshot } from "node:v8";
import { join } from "node:path";
import { pino } from "pino";
import { keyOf, type StoredObject } from "../../src/api/objects.js";
import { PushHistory } from "../../src/debug/history.js";
import { toYaml } from "../../src/loadgen/dir-driver.js";
import type { ChangeKind } from "../../src/loadgen/changes.js";
import { CHANGE_KINDS, planChange } from "../../src/loadgen/churn.js";
import { LoadMesh } from "../../src/loadgen/mesh.js";
import type { LabelMode } from "../../src/loadgen/node.js";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { meshInputOf } from "../../src/pipeline/mesh-input.js";
import { FileConfigState } from "../../src/sources/file/file-state.js";
import { parseYamlFile } from "../../src/sources/file/loader.js";
import { Store, type StoreEvent } from "../../src/store/store.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { benchNode } from "./mesh.js";
import { median } from "./report.js";

const num = (name: string, fallback: number): number => Number(process.env[`SOAK_${name}`] ?? fallback);
const services = num("SERVICES", 1000);
const proxies = num("PROXIES", 1000);
const changes = num("CHANGES", 300);
const warmup = num("WARMUP", 100);
/** The services the churn edits (all by default): fewer, and every one was edited before the warm-up ends. */
const churned = num("CHURN_SERVICES", services);
const labels = (process.env["SOAK_LABELS"] ?? "workloads") as LabelMode;
/** SOAK_KINDS=endpoint or weight: one kind of change only (both in turn by default). */
const kinds = (process.env["SOAK_KINDS"]?.split(",") as ChangeKind[] | undefined) ?? CHANGE_KINDS;
const snapshots = process.env["SOAK_HEAP_SNAPSHOTS"];
/** SOAK_FILES=1: each change as the server reads it from a config directory (YAML text, the file state). */
const files = process.env["SOAK_FILES"] === "1" ? new FileConfigState() : undefined;
const SOURCE = "files";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
function liveHeap(): number {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const stored = (o: StoredObject["object"]): StoredObject => ({ object: o });
const mesh = new LoadMesh({ services, variant: "full" });
const store = new Store();
/** Service `i`'s objects written (its file, with SOAK_FILES): the store's events. */
function written(i: number | "global", objects: StoredObject["object"][]): StoreEvent[] {
  if (!files) return objects.map((o) => ({ type: "upsert", object: stored(o) }));
  files.update(parseYamlFile(`/mesh/${i}.yaml`, toYaml(objects)));
  return [...files.flush().events];
}
store.apply(SOURCE, [...written("global", mesh.globalObjects()), ...Array.from({ length: services }, (_, i) => written(i, mesh.serviceObjects(i))).flat()]);
const cp = new ControlPlane({ cache: new SnapshotCache(), logger: pino({ level: "silent" }) });
const history = new PushHistory();
cp.update(meshInputOf(store.snapshot()), "all");
const byKey = new Map<string, string[]>();
for (let k = 0; k < proxies; k++) {
  const node = benchNode(k, labels, services);
  const key = cp.viewKey(node);
  if ("error" in key) throw new Error(key.error);
  cp.activate(key.key, node);
  byKey.set(key.key, [...(byKey.get(key.key) ?? []), node.id]);
}

/** Change `n` as the load generator's directory driver makes it: service i's file written again. */
function change(n: number): { cpuMs: number; kind: string; views: number } {
  const c = planChange(n, churned, kinds, "soak");
  const events: StoreEvent[] = [];
  if (c.kind === "endpoint") {
    const before = mesh.podAt(c.service, c.endpoint);
    mesh.moveEndpoint(c.service, c.endpoint, { pod: c.pod, ip: c.ip });
    const gone = mesh.serviceObjects(c.service).find((o) => o.kind === "Pod")!;
    if (!files) events.push({ type: "delete", key: keyOf({ ...gone, metadata: { ...gone.metadata, name: before.pod } }) });
  } else mesh.editSplit(c.service, c.v1Weight, c.mark);
  events.push(...written(c.service, mesh.serviceObjects(c.service)));
  const c0 = process.cpuUsage();
  const cs = store.apply(SOURCE, events);
  if (!cs) throw new Error(`change ${n} changed nothing`);
  const stats = cp.update(meshInputOf(store.snapshot()), cs.kinds);
  history.record({ objects: [...cs.keys].sort(), fastPath: stats.fastPath }, stats.changes, (k) => byKey.get(k) ?? []);
  const u = process.cpuUsage(c0);
  return { cpuMs: (u.user + u.system) / 1000, kind: c.kind, views: stats.views };
}

const cpu: Record<string, number[]> = {};
let heapWarm = 0;
let views = 0;
for (let n = 0; n < changes; n++) {
  // A change per turn of the event loop, as in the server: what a turn keeps alive for its WeakRefs
  // (map-patch.ts) is let go at the turn's end.
  await new Promise((resolve) => setImmediate(resolve));
  if (n === warmup) {
    heapWarm = liveHeap();
    if (snapshots) writeHeapSnapshot(join(snapshots, "soak-1.heapsnapshot"));
  }
  const r = change(n);
  views = r.views;
  if (n >= warmup) (cpu[r.kind] ??= []).push(r.cpuMs);
}
await new Promise((resolve) => setImmediate(resolve));
const heapEnd = liveHeap();
if (snapshots) writeHeapSnapshot(join(snapshots, "soak-2.heapsnapshot"));
const measured = changes - warmup;
const all = Object.values(cpu).flat();
const mib = (b: number): string => (b / 2 ** 20).toFixed(2);
console.log(
  `${services} services, ${proxies} proxies (${labels}, ${views} views), ${measured} changes after ${warmup}: CPU per change mean ${(all.reduce((a, b) => a + b, 0) / all.length).toFixed(2)} ms, ` +
    Object.entries(cpu)
      .map(([k, v]) => `${k} median ${median(v).toFixed(2)} ms`)
      .join(", ") +
    `; heap after GC ${mib(heapWarm)} → ${mib(heapEnd)} MiB (${((heapEnd - heapWarm) / 1024 / measured).toFixed(1)} KiB per change); history ${history.list().length} records, bodies ${JSON.stringify(history.keptBodies)}`,
);
