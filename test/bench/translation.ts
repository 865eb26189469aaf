// Section 1: the pure pipeline (buildMesh → translateProxy → encodeResources) for one sidecar
// view, at growing mesh sizes, plus the cost of ControlPlane.update for a full rebuild and for an
// endpoint-only change (the EDS fast path) with one active view.
import { pino } from "pino";
import { analyzeMesh } from "../../src/analyze/analyze.js";
import { buildMesh, buildMeshState, rebuildEndpoints } from "../../src/model/build.js";
import type { MeshInput } from "../../src/model/input.js";
import { parseProxy, proxyView, type ProxyView } from "../../src/model/proxy.js";
import type { LabelSelection } from "../../src/model/selected-labels.js";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { groupTargets, refreshEndpoints } from "../../src/pipeline/eds-fast-path.js";
import { translateProxy, type ProxyResources } from "../../src/translate/proxy.js";
import { encodeNamed, encodeProxyResources } from "../../src/pipeline/encode-view.js";
import { snapshotFrom } from "../../src/xds/encode.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import type { Snapshot } from "../../src/xds/snapshot.js";
import { TYPE_URL, type TypeUrl } from "../../src/xds/type-urls.js";
import { benchNode, CLIENT_NAMESPACE, generateMesh, inputOf, validateAll, withEndpointChange, type Variant } from "./mesh.js";
import { bytes, gc, median, ms, ratio, timed, type Cell, type Table } from "./report.js";

/** Bench client 0's view; the generated meshes select on no label the bench clients carry by default. */
export function benchProxy(selection: LabelSelection = new Map()): ProxyView {
  const p = parseProxy(benchNode(0));
  if ("error" in p) throw new Error(p.error);
  return proxyView(p.proxy, selection);
}

export function encodeAll(r: ProxyResources): Snapshot {
  return snapshotFrom(encodeProxyResources(r));
}

export const TYPES: readonly { readonly t: TypeUrl; readonly short: string }[] = [
  { t: TYPE_URL.cluster, short: "CDS" },
  { t: TYPE_URL.endpoint, short: "EDS" },
  { t: TYPE_URL.listener, short: "LDS" },
  { t: TYPE_URL.route, short: "RDS" },
];

export function typeBytes(s: Snapshot, t: TypeUrl): number {
  let n = 0;
  for (const r of s.resources.get(t)?.values() ?? []) n += r.body.length;
  return n;
}

export interface TranslationRow {
  readonly variant: Variant;
  readonly n: number;
  readonly runs: number;
  readonly buildMs: number;
  readonly translateMs: number;
  readonly encodeMs: number;
  /**
   * The same steps in CPU time of the process (process.cpuUsage, medians): on a machine other
   * work shares, wall time counts the waits for a core as well.
   */
  readonly cpuMs: { readonly build: number; readonly translate: number; readonly encode: number };
  readonly bytesByType: readonly number[];
  readonly resourcesByType: readonly number[];
}

export interface UpdateRow {
  readonly variant: Variant;
  readonly n: number;
  /** NaN when not measured (large N: activating a view there costs a whole translation again). */
  readonly fullMs: number;
  /** ControlPlane.update, or when that was not run, the sum of the separately measured parts. */
  readonly endpointMs: number;
  readonly endpointMeasured: boolean;
  /** The fast path's parts, measured separately: rebuildEndpoints, the endpoint analyzer, the view's CLAs. */
  readonly modelMs: number;
  readonly analyzeMs: number;
  readonly edsMs: number;
}

/** Above this size the ControlPlane is not exercised as a whole (its parts still are). */
const MAX_CONTROL_PLANE_N = 5000;

function runsFor(n: number): number {
  return n <= 10 ? 7 : n <= 100 ? 5 : n <= 1000 ? 3 : 1;
}

/** Wall and CPU milliseconds of `f`. */
function timedCpu<T>(f: () => T): { value: T; ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const r = timed(f);
  const c = process.cpuUsage(c0);
  return { ...r, cpuMs: (c.user + c.system) / 1000 };
}

interface PipelineSample {
  readonly buildMs: number;
  readonly translateMs: number;
  readonly encodeMs: number;
  readonly cpu: readonly [number, number, number];
  readonly snapshot: Snapshot;
}

function pipelineOnce(input: MeshInput, proxy: ProxyView): PipelineSample {
  const b = timedCpu(() => buildMesh(input));
  const t = timedCpu(() => translateProxy(b.value, proxy));
  const e = timedCpu(() => encodeAll(t.value));
  return { buildMs: b.ms, translateMs: t.ms, encodeMs: e.ms, cpu: [b.cpuMs, t.cpuMs, e.cpuMs], snapshot: e.value };
}

/** The EDS fast path, piece by piece, from `input` to `changed` (one slice changed), as ControlPlane.update runs it. */
function endpointPathParts(input: MeshInput, changed: MeshInput, proxy: ProxyView): { modelMs: number; analyzeMs: number; edsMs: number; changedClas: number } {
  const before = buildMeshState(input);
  const analysis = analyzeMesh(before.mesh);
  const view = translateProxy(before.mesh, proxy);
  const previousEds = encodeNamed(TYPE_URL.endpoint, view.endpoints);
  const m = timed(() => rebuildEndpoints(before, changed));
  const a = timed(() => analyzeMesh(m.value.mesh, analysis));
  const e = timed(() => refreshEndpoints(groupTargets(view.edsTargets), m.value.changedHosts ?? new Set(), m.value.mesh, previousEds));
  let changedClas = 0;
  for (const [name, r] of e.value) if (previousEds.get(name) !== r) changedClas++;
  return { modelMs: m.ms, analyzeMs: a.ms, edsMs: e.ms, changedClas };
}

const silent = pino({ level: "silent" });

function controlPlaneUpdates(inputA: MeshInput, inputB: MeshInput): { fullMs: number; endpointMs: number } {
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: silent });
  const node = benchNode(0);
  const key = cp.viewKey({ ...node, metadata: node.metadata });
  if ("error" in key) throw new Error(key.error);
  cp.update(inputA, "all"); // first build (no view yet): model + analysis
  cp.activate(key.key, { ...node, metadata: node.metadata }); // the view's first translation
  const full = timed(() => cp.update(inputA, "all"));
  if (full.value.fastPath) throw new Error("bench: a full update took the fast path");
  const ep = timed(() => cp.update(inputB, new Set(["EndpointSlice"])));
  if (!ep.value.fastPath) throw new Error("bench: an EndpointSlice-only update did not take the EDS fast path");
  return { fullMs: full.ms, endpointMs: ep.ms };
}

/**
 * The pipeline for one view of `input` (an `n`-service `variant` mesh), medians of `runs` runs.
 * The previous garbage is collected first, then one untimed run: a forced full GC right before a
 * timed run would measure V8's caches being cold (up to 8× slower at N=10), not steady state.
 */
export function timePipeline(input: MeshInput, variant: Variant, n: number, runs: number, proxy: ProxyView = benchProxy()): TranslationRow {
  gc();
  if (runs > 1) pipelineOnce(input, proxy);
  const samples = Array.from({ length: runs }, () => pipelineOnce(input, proxy));
  const last = samples[samples.length - 1]!.snapshot;
  return {
    variant,
    n,
    runs,
    buildMs: median(samples.map((s) => s.buildMs)),
    translateMs: median(samples.map((s) => s.translateMs)),
    encodeMs: median(samples.map((s) => s.encodeMs)),
    cpuMs: { build: median(samples.map((s) => s.cpu[0])), translate: median(samples.map((s) => s.cpu[1])), encode: median(samples.map((s) => s.cpu[2])) },
    bytesByType: TYPES.map(({ t }) => typeBytes(last, t)),
    resourcesByType: TYPES.map(({ t }) => last.resources.get(t)?.size ?? 0),
  };
}

export interface TranslationResult {
  readonly rows: TranslationRow[];
  readonly updates: UpdateRow[];
  readonly tables: Table[];
}

export function runTranslation(sizes: readonly number[], variants: readonly Variant[], log: (s: string) => void): TranslationResult {
  const proxy = benchProxy();
  for (const v of variants) {
    const problems = validateAll(generateMesh(10, v));
    if (problems.length) throw new Error(`bench: generated ${v} mesh is not valid input:\n${problems.join("\n")}`);
  }
  // Warm up the JIT on a mid-size mesh of each variant (small batches stay slow for a long time).
  for (const v of variants) {
    const input = inputOf(generateMesh(300, v));
    for (let i = 0; i < 3; i++) pipelineOnce(input, proxy);
  }
  const rows: TranslationRow[] = [];
  const updates: UpdateRow[] = [];
  for (const v of variants) {
    for (const n of sizes) {
      const gen = generateMesh(n, v);
      const input = inputOf(gen);
      const row = timePipeline(input, v, n, runsFor(n), proxy);
      rows.push(row);
      log(
        `  translation ${v} N=${n}: build ${ms(row.buildMs)} ms, translate ${ms(row.translateMs)} ms, encode ${ms(row.encodeMs)} ms (median of ${row.runs}); CPU ${ms(totalCpuMs(row))} ms`,
      );

      // Endpoint-only change: endpoint 0 of service 0 (same namespace as the proxy) goes not ready.
      const changedInput = inputOf(withEndpointChange(gen, 0, new Set([0])));
      const parts = endpointPathParts(input, changedInput, proxy);
      if (parts.changedClas !== 2)
        throw new Error(`bench: the endpoint change should alter 2 ClusterLoadAssignments (all + v1 subset), altered ${parts.changedClas}`);
      const measured = n <= MAX_CONTROL_PLANE_N;
      const cpTimes = measured ? controlPlaneUpdates(input, changedInput) : { fullMs: NaN, endpointMs: parts.modelMs + parts.analyzeMs + parts.edsMs };
      updates.push({ variant: v, n, ...cpTimes, endpointMeasured: measured, modelMs: parts.modelMs, analyzeMs: parts.analyzeMs, edsMs: parts.edsMs });
      log(`  update ${v} N=${n}: full ${ms(cpTimes.fullMs)} ms, endpoint-only ${measured ? "" : "~"}${ms(cpTimes.endpointMs)} ms`);
    }
  }
  return {
    rows,
    updates,
    tables: [
      ...variants.map((v) =>
        translationTable(
          rows.filter((r) => r.variant === v),
          v,
        ),
      ),
      featureTable(rows),
      updateTable(updates),
    ],
  };
}

/** (time ratio) / (N ratio) against the previous size: 1.00 is linear, 2.00 means twice worse than linear. */
function scale(cur: number, prev: number | undefined, n: number, prevN: number | undefined): string {
  if (prev === undefined || prevN === undefined) return "-";
  return ratio(cur / prev / (n / prevN));
}

function translationTable(rows: readonly TranslationRow[], v: Variant): Table {
  const out: Cell[][] = [];
  rows.forEach((r, i) => {
    const p = i > 0 ? rows[i - 1] : undefined;
    const total = r.buildMs + r.translateMs + r.encodeMs;
    const ptotal = p ? p.buildMs + p.translateMs + p.encodeMs : undefined;
    out.push([
      r.n,
      r.runs,
      ms(r.buildMs),
      ms(r.translateMs),
      ms(r.encodeMs),
      ms(total),
      ms(totalCpuMs(r)),
      ...r.bytesByType.map(bytes),
      bytes(r.bytesByType.reduce((a, b) => a + b, 0)),
      r.resourcesByType.join("/"),
      scale(r.buildMs, p?.buildMs, r.n, p?.n),
      scale(r.translateMs, p?.translateMs, r.n, p?.n),
      scale(r.encodeMs, p?.encodeMs, r.n, p?.n),
      scale(total, ptotal, r.n, p?.n),
    ]);
  });
  return {
    title: `1. Translation, ${v} mesh (one sidecar view in ${CLIENT_NAMESPACE}; ms = median of runs after one untimed run)`,
    header: [
      "services",
      "runs",
      "build ms",
      "translate ms",
      "encode ms",
      "total ms",
      "CPU ms",
      "CDS",
      "EDS",
      "LDS",
      "RDS",
      "bytes",
      "resources C/E/L/R",
      "build×",
      "translate×",
      "encode×",
      "total×",
    ],
    rows: out,
    notes: [
      "× = (time / previous time) / (N / previous N): 1.00 is linear scaling, 5.00 at N×5 means quadratic.",
      "bytes = encoded resource bodies (what is cached and spliced into responses).",
      "CPU ms = build + translate + encode in CPU time of the process (medians per step): what the work costs when other processes share the cores.",
    ],
  };
}

export function totalMs(r: TranslationRow): number {
  return r.buildMs + r.translateMs + r.encodeMs;
}

/** build + translate + encode in CPU time (see TranslationRow.cpuMs). */
export function totalCpuMs(r: TranslationRow): number {
  return r.cpuMs.build + r.cpuMs.translate + r.cpuMs.encode;
}

/** Per size, the full-features mesh against the basic one (issue 4 wants the total within 20%). */
export function featureRatios(rows: readonly TranslationRow[]): { n: number; total: number; bytes: number; parts: readonly number[] }[] {
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  return rows
    .filter((r) => r.variant === "basic")
    .flatMap((b) => {
      const f = rows.find((r) => r.variant === "full" && r.n === b.n);
      return f
        ? [
            {
              n: b.n,
              total: totalMs(f) / totalMs(b),
              bytes: sum(f.bytesByType) / sum(b.bytesByType),
              parts: [f.buildMs / b.buildMs, f.translateMs / b.translateMs, f.encodeMs / b.encodeMs],
            },
          ]
        : [];
    });
}

function featureTable(rows: readonly TranslationRow[]): Table {
  return {
    title: "1b. Full features against the basic mesh (time and output ratios, full / basic)",
    header: ["services", "total", "build", "translate", "encode", "xDS bytes"],
    rows: featureRatios(rows).map((x) => [x.n, ratio(x.total), ...x.parts.map(ratio), ratio(x.bytes)]),
    notes: [
      "The full mesh emits more per service (retries, fault, CORS, mirror, header operations, DestinationRule policies, locality priorities): compare time with bytes.",
    ],
  };
}

function updateTable(updates: readonly UpdateRow[]): Table {
  return {
    title: "1c. ControlPlane.update with one active view (no server): full rebuild vs endpoint-only change",
    header: ["variant", "services", "full update ms", "endpoint-only ms", "of which: rebuildEndpoints", "analyze", "refresh CLAs", "EDS-only / full"],
    rows: updates.map((u) => [
      u.variant,
      u.n,
      ms(u.fullMs),
      `${u.endpointMeasured ? "" : "~"}${ms(u.endpointMs)}`,
      ms(u.modelMs),
      ms(u.analyzeMs),
      ms(u.edsMs),
      ratio(u.endpointMs / u.fullMs),
    ]),
    notes: [
      "endpoint-only = update(input, {EndpointSlice}) after one endpoint went not ready (2 CLAs change); single run each.",
      "breakdown columns are the fast path's parts measured separately on the same inputs: rebuildEndpoints (only the changed service's endpoints), the endpoint analyzer (IST0173), rebuilding and encoding the changed CLAs.",
      `above ${MAX_CONTROL_PLANE_N} services the ControlPlane itself is not run (bench time); "~" = sum of the measured parts, "-" = not measured.`,
    ],
  };
}
