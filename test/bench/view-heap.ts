// In process, no streams: the heap a ControlPlane holds per view, with the views a fleet of N
// proxies makes (identical labels: one view; workloads: a view per Service selecting them), after
// full GCs. Issue 12 item 1 wants heap per proxy with workload labels within 1.5× of identical.
// With EDIT_VIEWS_EDITS > 0, that many VirtualService edits run first (what a fleet holds after churn).
//   node --expose-gc --import tsx test/bench/view-heap.ts   (VIEW_HEAP_SERVICES=1000, _CLIENTS=1000, _MODES=identical,workloads)
import { pino } from "pino";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { bytes, minus, retainedAfterGc } from "./report.js";
import { benchNode, generateMesh, inputOf, withWeightEdit, type LabelMode } from "./mesh.js";

const num = (name: string, fallback: number): number => Number(process.env[`VIEW_HEAP_${name}`] ?? fallback);
const services = num("SERVICES", 1000);
const clients = num("CLIENTS", 1000);
const edits = num("EDITS", 0);
/** Proxies in the baseline: workloads' first eight cover the four namespaces' outbound parts. */
const FIRST = 8;
const modes = (process.env["VIEW_HEAP_MODES"] ?? "identical,workloads").split(",") as LabelMode[];

function run(mode: LabelMode): string {
  let mesh = generateMesh(services, "full");
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
  cp.update(inputOf(mesh), "all");
  // A few proxies first, so that what views share (the mesh model, each namespace's outbound part) is in the baseline.
  const activate = (k: number): void => {
    const node = benchNode(k, mode, services);
    const key = cp.viewKey(node);
    if ("error" in key) throw new Error(key.error);
    cp.activate(key.key, node);
  };
  for (let k = 0; k < FIRST; k++) activate(k);
  const before = retainedAfterGc();
  for (let k = FIRST; k < clients; k++) activate(k);
  for (let r = 0; r < edits; r++) {
    mesh = withWeightEdit(mesh, (r * 7) % services, 20 + (r % 50));
    cp.update(inputOf(mesh), new Set(["VirtualService"]));
  }
  const after = retainedAfterGc();
  const d = minus(after, before);
  const views = cp.update(inputOf(mesh), new Set(["VirtualService"])).views;
  return `${mode}: ${views} views; heap+buffers after the first proxy: ${bytes(d.heap + d.buffers)} (${bytes((d.heap + d.buffers) / (clients - FIRST))} per proxy, heap ${bytes(d.heap / (clients - FIRST))}, buffers ${bytes(d.buffers / (clients - FIRST))})`;
}

for (const mode of modes) console.log(`${services} services, ${clients} clients, ${run(mode)}`);
