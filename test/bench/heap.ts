// Section 3: what stays on the heap — the generated input objects, the mesh model, one view's
// translated resources (Envoy JSON) and its encoded snapshot, and a ControlPlane holding one view
// (it keeps both the JSON and the bytes). heapUsed after full GCs, deltas as each piece is kept.
import { pino } from "pino";
import { buildMesh } from "../../src/model/build.js";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { translateProxy } from "../../src/translate/proxy.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { benchNode, generateMesh, inputOf, type Variant } from "./mesh.js";
import { bytes, minus, retainedAfterGc, type Retained } from "./report.js";
import { benchProxy, encodeAll, TYPES, typeBytes } from "./translation.js";

export interface HeapRow {
  readonly variant: Variant;
  readonly services: number;
  readonly input: Retained;
  readonly model: Retained;
  readonly viewJson: Retained;
  readonly snapshot: Retained;
  readonly snapshotBodyBytes: number;
  readonly controlPlaneWithView: Retained;
}

export function measureHeap(services: number, variant: Variant): HeapRow {
  const proxy = benchProxy();
  const h0 = retainedAfterGc();
  const gen = generateMesh(services, variant);
  const input = inputOf(gen);
  const h1 = retainedAfterGc();
  const mesh = buildMesh(input);
  const h2 = retainedAfterGc();
  const json = translateProxy(mesh, proxy);
  const h3 = retainedAfterGc();
  const snapshot = encodeAll(json);
  const h4 = retainedAfterGc();
  const snapshotBodyBytes = TYPES.reduce((a, { t }) => a + typeBytes(snapshot, t), 0);
  // Keep everything alive until measured.
  const kept = [gen, input, mesh, json, snapshot];

  const before = retainedAfterGc();
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
  cp.update(input, "all");
  const node = benchNode(0);
  const key = cp.viewKey(node);
  if ("error" in key) throw new Error(key.error);
  cp.activate(key.key, node);
  const after = retainedAfterGc();
  if (kept.length !== 5 || !cache.get(key.key)) throw new Error("bench: heap measurement lost its objects");
  return {
    variant,
    services,
    input: minus(h1, h0),
    model: minus(h2, h1),
    viewJson: minus(h3, h2),
    snapshot: minus(h4, h3),
    snapshotBodyBytes,
    controlPlaneWithView: minus(after, before),
  };
}

/** Heap plus buffers, as one figure. */
export function total(r: Retained): number {
  return r.heap + r.buffers;
}

export function heapRowCells(r: HeapRow): string[] {
  return [
    r.variant,
    String(r.services),
    bytes(total(r.input)),
    bytes(total(r.model)),
    bytes(total(r.viewJson)),
    `${bytes(total(r.snapshot))} (${bytes(r.snapshot.buffers)} buffers)`,
    bytes(r.snapshotBodyBytes),
    `${bytes(total(r.controlPlaneWithView))} (${bytes(r.controlPlaneWithView.buffers)} buffers)`,
  ];
}

export const HEAP_HEADER = ["variant", "services", "input objects", "mesh model", "view JSON", "view snapshot", "resource bodies", "ControlPlane + 1 view"];
