// Section 1c: the CPU one non-endpoint edit costs the control plane (ControlPlane.update: model,
// analysis, the shared parts and the views), with the views proxies hold: one view (identical
// labels) and a workload view per Service of a few dozen (workloads labels, four namespaces, so
// four shared outbound parts). A change should cost in proportion to what it touches (issue 12
// item 1): the resources re-encoded are counted too.
import { pino } from "pino";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { destinationRule } from "../../src/loadgen/mesh-objects.js";
import { ControlPlane, type BuildStats } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import type { Snapshot } from "../../src/xds/snapshot.js";
import { PUSH_ORDER } from "../../src/xds/type-urls.js";
import { benchNode, generateMesh, inputOf, withWeightEdit, type GeneratedMesh, type LabelMode } from "./mesh.js";
import { median, ms, type Table } from "./report.js";

const EDITS = 7;
const WORKLOAD_VIEWS = 40;

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

function measure(services: number, mode: LabelMode, edit: "VirtualService" | "DestinationRule"): EditRow {
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
    mesh = edit === "VirtualService" ? withWeightEdit(mesh, 8, 20 + r) : withRuleEdit(mesh, 8, 20 + r);
    const input = inputOf(mesh);
    // No forced GC here: right before a short timed step it measures V8's caches cold (see translation.ts).
    const c0 = process.cpuUsage();
    stats = cp.update(input, new Set([edit]));
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
    for (const edit of ["VirtualService", "DestinationRule"] as const) {
      const row = measure(services, mode, edit);
      log(`  ${edit} edit, ${mode} (${row.views} views): CPU median ${ms(median(row.cpuMs))} ms`);
      rows.push(row);
    }
  }
  return {
    title: `1c. One edit's rebuild CPU (ControlPlane.update) at ${services} services, full mesh: median of ${EDITS} edits`,
    header: ["edit", "labels", "views", "CPU median", "CPU min", "shared parts translated", "own parts translated", "first view: resources new / all"],
    rows: rows.map((r) => [
      `${r.edit} (one)`,
      r.mode,
      r.views,
      `${ms(median(r.cpuMs))} ms`,
      `${ms(Math.min(...r.cpuMs))} ms`,
      `${r.stats.outboundTranslations} of ${r.stats.outboundKeys}`,
      `${r.stats.ownTranslations} of ${r.views}`,
      `${r.fresh} / ${r.resources}`,
    ]),
    notes: [
      "CPU of the process (process.cpuUsage) for the update alone (its GC included); the views proxies hold are built before (workloads: one per Service of the first 40, over four namespaces' shared outbound parts).",
      "Unchanged inputs keep their model objects (model/keep.ts), route resolutions and translated pieces are kept per view (model/kept-routes.ts), and a part whose model reads did not change is not translated (pipeline/mesh-reads.ts).",
    ],
  };
}
