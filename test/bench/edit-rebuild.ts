// Section 1c: the CPU one edit costs the control plane (ControlPlane.update: model,
// analysis, the shared parts and the views), with the views proxies hold: one view (identical
// labels) and a workload view per Service of a few dozen (workloads labels, four namespaces, so
// four shared outbound parts). A change should cost in proportion to what it touches (issue 12
// item 1): the resources re-encoded are counted too.
import { pino } from "pino";
import type { InputKind, InputObject, StoredObject } from "../../src/api/objects.js";
import { destinationRule, pod } from "../../src/loadgen/mesh-objects.js";
import { ControlPlane, type BuildStats } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import type { Snapshot } from "../../src/xds/snapshot.js";
import { PUSH_ORDER } from "../../src/xds/type-urls.js";
import {
  benchNode,
  endpointSlice,
  generateMesh,
  inputOf,
  serviceName,
  withWeightEdit,
  ENDPOINTS_PER_SERVICE,
  type GeneratedMesh,
  type LabelMode,
} from "./mesh.js";
import { median, ms, type Table } from "./report.js";

const EDITS = 7;
const WORKLOAD_VIEWS = Number(process.env["BENCH_EDIT_VIEWS"] ?? 40);

/** A copy of `mesh` where service `i`'s DestinationRule gives subset v2 `pending` pending HTTP/1 requests. */
function withRuleEdit(mesh: GeneratedMesh, i: number, pending: number): GeneratedMesh {
  const objects: StoredObject<InputObject>[] = [...mesh.objects];
  const dr = destinationRule(i, mesh.variant);
  const subsets = dr.spec.subsets!.map((s) =>
    s.name === "v2" ? { ...s, trafficPolicy: { ...s.trafficPolicy, connectionPool: { http: { http1MaxPendingRequests: pending } } } } : s,
  );
  // The mesh's objects: a Service, its Pods, its EndpointSlice, then its VirtualService and DestinationRule.
  objects[mesh.vsIndex[i]! + 1] = { object: { ...dr, spec: { ...dr.spec, subsets } } };
  return { ...mesh, objects };
}

/** A copy of `mesh` where endpoint `j` of service `i` runs in a new pod (name and address), as a replaced pod does. */
function withPodReplaced(mesh: GeneratedMesh, i: number, j: number, n: number): GeneratedMesh {
  const objects: StoredObject<InputObject>[] = [...mesh.objects];
  const moved = { pod: `${serviceName(i)}-${j}-r${n}`, ip: `10.250.${(n >> 8) & 255}.${n & 255}` };
  // The mesh's objects: a Service, its Pods, then its EndpointSlice.
  objects[mesh.sliceIndex[i]! - ENDPOINTS_PER_SERVICE + j] = { object: pod(i, j, moved) };
  objects[mesh.sliceIndex[i]!] = { object: endpointSlice(i, mesh.variant, new Set(), new Map([[j, moved]])) };
  return { ...mesh, objects };
}

type Edit = "VirtualService" | "DestinationRule" | "endpoint";
const CHANGED: Record<Edit, ReadonlySet<InputKind>> = {
  VirtualService: new Set(["VirtualService"]),
  DestinationRule: new Set(["DestinationRule"]),
  endpoint: new Set(["Pod", "EndpointSlice"]),
};

interface EditRow {
  readonly edit: string;
  readonly mode: LabelMode;
  readonly views: number;
  readonly cpuMs: readonly number[];
  readonly stats: BuildStats;
  /** Resources of the first view that are new objects after the last edit (re-encoded or taken from another view). */
  readonly fresh: number;
  readonly resources: number;
}

function resourcesOf(s: Snapshot): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const t of PUSH_ORDER) for (const [name, r] of s.resources.get(t) ?? []) out.set(`${t} ${name}`, r);
  return out;
}

function measure(services: number, mode: LabelMode, edit: Edit): EditRow {
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
  let mesh = generateMesh(services, "full");
  cp.update(inputOf(mesh), "all");
  const count = mode === "identical" ? 1 : WORKLOAD_VIEWS;
  const keys: string[] = [];
  for (let k = 0; k < count; k++) {
    const n = benchNode(k, mode, services);
    const node = { id: n.id, cluster: n.cluster, metadata: n.metadata };
    const v = cp.viewKey(node);
    if ("error" in v) throw new Error(v.error);
    cp.activate(v.key, node);
    keys.push(v.key);
  }
  const cpuMs: number[] = [];
  let stats: BuildStats | undefined;
  let before = resourcesOf(cache.get(keys[0]!)!);
  let fresh = 0;
  for (let r = 0; r < EDITS; r++) {
    // The service the bench's first proxy routes to in its own namespace's mesh; each edit a new value.
    mesh =
      edit === "VirtualService"
        ? withWeightEdit(mesh, 8, 20 + r)
        : edit === "DestinationRule"
          ? withRuleEdit(mesh, 8, 20 + r)
          : withPodReplaced(mesh, 8, r % ENDPOINTS_PER_SERVICE, r);
    const input = inputOf(mesh);
    // No forced GC here: right before a short timed step it measures V8's caches cold (see translation.ts).
    const c0 = process.cpuUsage();
    stats = cp.update(input, CHANGED[edit]);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    const after = resourcesOf(cache.get(keys[0]!)!);
    fresh = [...after].filter(([k, res]) => before.get(k) !== res).length;
    before = after;
  }
  return { edit, mode, views: stats!.views, cpuMs, stats: stats!, fresh, resources: before.size };
}

export function runEditRebuild(services: number, log: (s: string) => void): Table {
  const rows: EditRow[] = [];
  for (const mode of ["identical", "workloads"] as const) {
    for (const edit of ["VirtualService", "DestinationRule", "endpoint"] as const) {
      const row = measure(services, mode, edit);
      log(`  ${edit} edit, ${mode} (${row.views} views): CPU median ${ms(median(row.cpuMs))} ms`);
      rows.push(row);
    }
  }
  return {
    title: `1c. One edit's rebuild CPU (ControlPlane.update) at ${services} services, full mesh: median of ${EDITS} edits`,
    header: ["edit", "labels", "views", "CPU median", "CPU min", "shared parts translated", "own parts translated", "first view: resources new / all"],
    rows: rows.map((r) => [
      r.edit === "endpoint" ? "endpoint (pod replaced)" : `${r.edit} (one)`,
      r.mode,
      r.views,
      `${ms(median(r.cpuMs))} ms`,
      `${ms(Math.min(...r.cpuMs))} ms`,
      `${r.stats.outboundTranslations} of ${r.stats.outboundKeys}`,
      `${r.stats.ownTranslations} of ${r.views}`,
      `${r.fresh} / ${r.resources}`,
    ]),
    notes: [
      "CPU of the process (process.cpuUsage) for the update alone (its GC included); the views proxies hold are built before (workloads: one per Service of the first 40, or BENCH_EDIT_VIEWS, over four namespaces' shared outbound parts).",
      "Unchanged inputs keep their model objects (model/keep.ts), route resolutions are kept and shared by the views that read the same (model/kept-routes.ts), and a part whose model reads did not change is not translated (pipeline/mesh-reads.ts).",
    ],
  };
}
