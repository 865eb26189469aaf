// Section 6: the targets of issue 12 item 3, each as figure, target and ratio. The server is
// `meshpilot serve --config-dir` in its own process (targets-server.ts), the load generator
// (src/loadgen) in another (targets-scenario.ts, targets-load.ts) writes the mesh into the
// directory, opens the proxies' streams and changes the mesh once a second.
//   - at the main scale (1000 services × 10 endpoints, 2000 proxies), per label mode: full sync
//     against loopback's time for the same bytes, endpoint change and VirtualService edit p99,
//     heap per proxy, peak RSS, and a soak at one change per second (CPU, RSS slope);
//   - at 50 services / 10 proxies, per label mode: peak RSS and CPU to the first full sync;
//   - translation of the 1000-service view;
//   - the scaling over proxies and over services.
import type { LabelMode } from "../../src/loadgen/node.js";
import { bytes, markdownTable, ms, type Cell, type Table } from "./report.js";
import { measureLoopback, type Loopback } from "./targets-loopback.js";
import { notRun, runScenario, type ScenarioResult } from "./targets-scenario.js";
import type { Soak } from "./targets-soak.js";
import { formatValue, targetsMarkdown, targetsTable, type TargetRow } from "./targets-table.js";
import { runStartup, type StartupRow } from "./startup.js";
import { timePipeline, totalMs, type TranslationRow } from "./translation.js";
import { describeStep, schedule, soakSize, targetsPlan, type Env, type Step, type TargetsPlan } from "./targets-plan.js";
import { generateMesh, inputOf } from "./mesh.js";

const MiB = 2 ** 20;
export const TARGETS = {
  endpointP99Ms: 100,
  vsEditP99Ms: 150,
  syncOverLoopback: 1.5,
  steadyCores: 0.25,
  peakRss: 500 * MiB,
  /** "RSS flat": at most 1 MiB a minute over the soak (10 MiB over the 10 minutes). */
  rssSlopePerMin: 1 * MiB,
  smallPeakRss: 120 * MiB,
  smallCpuToSyncS: 0.5,
  translationMs: 100,
  heapPerProxy: 50 * 1024,
} as const;

export interface TargetsOptions {
  readonly quick: boolean;
  readonly log: (s: string) => void;
  /** No scenario starts after this many ms of the section; those left are reported as not run. */
  readonly startWithinMs: number;
  /** The BENCH_TARGETS_* knobs (targets-plan.ts). */
  readonly env: Env;
}

export interface TargetsResult {
  readonly tables: Table[];
  readonly markdown: string;
  /** Scenarios that did not run, and why. */
  readonly notRun: readonly string[];
}

export async function runTargets(o: TargetsOptions): Promise<TargetsResult> {
  const p = targetsPlan(o.quick, o.env);
  const log = o.log;
  const steps = schedule(p);
  const deadline = performance.now() + o.startWithinMs;
  const skipped: string[] = [];
  log(`section 6: ${steps.length} scenarios, in this order: ${steps.map(describeStep).join("; ")}`);

  const tr = p.parts.has("translation")
    ? (log(`section 6: translation of the 1000-service view`),
      (["basic", "full"] as const).map((v) => timePipeline(inputOf(generateMesh(1000, v)), v, 1000, 3)))
    : [];
  // CLI start-up and serve at 50 services / 10 proxies, as section 7 measures them (test/bench/startup.ts).
  const startup = p.parts.has("startup") ? (log(`section 6: start-up (section 7's figures)`), await runStartup({ runs: o.quick ? 3 : 5, log })) : [];

  const results = new Map<Step, ScenarioResult>();
  let loop: Loopback | undefined;
  // The server runs with V8's code cache (src/cli/bundle-loader.ts), kept per set of Node flags;
  // the bench's server has flags of its own (the heap probe), so its first start after a build
  // compiles every chunk and writes the cache at exit. Left to the first scenario, that made
  // whichever label mode ran first look slower (small mesh, workloads first: 0.81 s against
  // 0.57–0.65 s). One unreported run of the small mesh writes it, so every scenario starts warm,
  // as serve does after its first start; the start-up part gives the cold figure beside it.
  const firstSmall = steps.find((s) => s.kind === "small");
  if (firstSmall) {
    log(`section 6: warming the server's code cache (one run of the small mesh, not reported)`);
    const w = firstSmall;
    await runScenario({ services: w.services, proxies: w.proxies, labels: w.labels as LabelMode, churnS: 1, timeoutMs: w.timeoutMs, log });
  }
  for (const planned of steps) {
    const soak =
      planned.labels === "soak"
        ? soakSize(
            p,
            [...results].map(([step, r]) => ({ step, synced: Number.isFinite(r.syncMs) })),
          )
        : undefined;
    const step: Step = soak ? { ...planned, ...soak } : planned;
    const labels = step.labels as LabelMode;
    const params = { services: step.services, proxies: step.proxies, labels, churnS: step.churnS, timeoutMs: step.timeoutMs };
    const what = soak ? `${describeStep({ ...step, labels: "soak" })} (labels ${labels})` : describeStep(step);
    if (performance.now() >= deadline) {
      const why = `the section's budget (${Math.round(o.startWithinMs / 60_000)} min to start a scenario) was spent`;
      skipped.push(`${what}: ${why}`);
      results.set(step, notRun(params, `not run: ${why}`));
      continue;
    }
    log(`section 6: ${what}`);
    results.set(step, await runScenario({ ...params, log }));
    // Loopback's throughput, for as many bytes as the first main-scale full sync carried: the
    // yardstick of every main row (measured once, early, on the same machine state).
    if (!loop && step.kind === "main") loop = await loopback(results.get(step)!, log);
  }
  loop ??= await loopback(undefined, log);

  const of = (kind: Step["kind"]): ScenarioResult[] => [...results].filter(([s]) => s.kind === kind).map(([, r]) => r);
  const small = of("small");
  const main = of("main");
  const soakRun = of("soak")[0];
  const rows: TargetRow[] = [];
  rows.push(...translationRows(tr));
  rows.push(...startup.filter((r) => !r.figure.includes("(reference)")).map(startupRow));
  for (const r of main) rows.push(...mainRows(r, loop));
  if (soakRun) rows.push(...soakRows(soakRun, p));
  for (const r of small) rows.push(...smallRows(r));
  const scaling = [...main.filter((r) => r.params.labels === "identical"), ...of("scaling")];
  const notes = targetNotes(p, loop, [...results.values()], skipped);
  const title = `6. Targets (issue 12 item 3): ${p.services} services × 10 endpoints, ${p.proxies} delta proxies; server = meshpilot serve --config-dir (own process)`;
  const proxyScaling = scaling.filter((r) => r.params.services === p.services).sort((a, b) => a.params.proxies - b.params.proxies);
  const serviceScaling = scaling.filter((r) => r.params.proxies === p.stepProxies).sort((a, b) => a.params.services - b.params.services);
  const sc = scalingTable(proxyScaling, serviceScaling, p.scalingChurnS);
  const cmp = modesTable(main);
  for (const s of skipped) log(`section 6: NOT RUN: ${s}`);
  return {
    // Without a main-scale run the side-by-side table has nothing to show.
    tables: [targetsTable(title, rows, notes), ...(main.length ? [cmp] : []), sc],
    notRun: skipped,
    markdown: [
      targetsMarkdown(rows),
      "",
      ...notes.map((n) => `- ${n}`),
      "",
      ...(main.length
        ? [
            `Label modes at ${p.services} services / ${p.proxies} proxies (ratio to identical; issue 12 item 1 wants ≤ 1.50):`,
            "",
            markdownTable(cmp.header, cmp.rows),
            "",
          ]
        : []),
      "Scaling (identical labels):",
      "",
      markdownTable(sc.header, sc.rows),
    ].join("\n"),
  };
}

async function loopback(r: ScenarioResult | undefined, log: (s: string) => void): Promise<Loopback> {
  const syncBytes = Math.max(r && Number.isFinite(r.syncBytes) ? r.syncBytes : 0, 256 * MiB);
  log(`section 6: loopback, ${bytes(syncBytes)} between two processes`);
  return measureLoopback(syncBytes, 300_000);
}

function startupRow(r: StartupRow): TargetRow {
  const mib = r.unit === "MiB";
  return { figure: r.figure, variant: "start-up", value: mib ? r.value * MiB : r.value, limit: mib ? r.target * MiB : r.target, unit: mib ? "bytes" : "s" };
}

function translationRows(tr: readonly TranslationRow[]): TargetRow[] {
  return tr.map((r) => ({
    figure: `translation of the ${r.n}-service view (build + translate + encode, median of ${r.runs})`,
    variant: `${r.variant} mesh`,
    value: totalMs(r),
    limit: TARGETS.translationMs,
    unit: "ms",
    detail: `translate ${ms(r.translateMs)} ms`,
  }));
}

function mainRows(r: ScenarioResult, loop: Loopback): TargetRow[] {
  const v = r.params.labels;
  const m = (x: number): { missing?: string } => (Number.isFinite(x) || !r.failed ? {} : { missing: r.failed });
  const wireMs = (r.weight.bytesPerChange / loop.throughput) * 1000;
  const loopMs = (r.syncBytes / loop.throughput) * 1000;
  const s = r.soak;
  const soakWhy = s ? {} : { missing: r.failed ?? "no churn" };
  return [
    {
      figure: "full sync of every proxy",
      variant: v,
      value: r.syncMs,
      limit: TARGETS.syncOverLoopback * loopMs,
      unit: "ms",
      limitNote: `1.5 × loopback's ${ms(loopMs)} ms for the same ${bytes(r.syncBytes)}`,
      ...m(r.syncMs),
    },
    {
      figure: "endpoint change → every proxy, p99",
      variant: v,
      value: r.endpoint.p99,
      limit: TARGETS.endpointP99Ms,
      unit: "ms",
      detail: `${r.endpoint.changes} changes × proxies, ${bytes(r.endpoint.bytesPerProxy)}/proxy`,
      ...m(r.endpoint.p99),
    },
    {
      figure: "VirtualService edit → every proxy, p99",
      variant: v,
      value: r.weight.p99,
      limit: TARGETS.vsEditP99Ms + wireMs,
      unit: "ms",
      limitNote: `150 ms + ${ms(wireMs)} ms wire`,
      detail: `${r.weight.changes} edits; ${bytes(r.weight.bytesPerProxy)}/proxy, ${bytes(r.weight.bytesPerChange)} per edit`,
      ...m(r.weight.p99),
    },
    {
      figure: "heap per connected proxy (server, after GC)",
      variant: v,
      value: r.heapPerProxy,
      limit: TARGETS.heapPerProxy,
      unit: "bytes",
      ...m(r.heapPerProxy),
    },
    { figure: "peak RSS (server, whole run)", variant: v, value: r.peakRss, limit: TARGETS.peakRss, unit: "bytes", ...m(r.peakRss) },
    {
      figure: `1 change/s: CPU${s ? ` (${s.seconds.toFixed(0)} s of churn)` : ""}`,
      variant: v,
      value: s?.cores ?? NaN,
      limit: TARGETS.steadyCores,
      unit: "cores",
      ...soakWhy,
    },
  ];
}

/** The soak's rows: CPU, peak RSS and the RSS slope over the long churn. */
export function soakRows(r: ScenarioResult, p: TargetsPlan): TargetRow[] {
  const atMain = r.params.services === p.services && r.params.proxies === p.proxies;
  const v = `${r.params.labels}, soak${atMain ? "" : ` at ${r.params.services} svc / ${r.params.proxies} proxies`}`;
  const s = r.soak;
  const why = s ? {} : { missing: r.failed ?? "no churn" };
  return [
    {
      figure: `soak, 1 change/s: CPU${s ? ` (${s.seconds.toFixed(0)} s)` : ""}`,
      variant: v,
      value: s?.cores ?? NaN,
      limit: TARGETS.steadyCores,
      unit: "cores",
      ...why,
    },
    {
      figure: "soak: peak RSS (server, whole run)",
      variant: v,
      value: r.peakRss,
      limit: TARGETS.peakRss,
      unit: "bytes",
      ...(Number.isFinite(r.peakRss) ? {} : why),
    },
    {
      figure: `soak: RSS slope${s ? ` after ${s.warmupS.toFixed(0)} s (${s.seconds.toFixed(0)} s)` : ""}`,
      variant: v,
      value: s?.rssSlope ?? NaN,
      limit: TARGETS.rssSlopePerMin,
      unit: "bytes/min",
      ...(s ? { detail: soakDetail(s) } : {}),
      ...why,
    },
  ];
}

/** Everything the slope leaves out: the whole churn's slope, the minute peaks' slope (targets-soak.ts), RSS at both ends, and the live heap (after GC) before and after. */
export function soakDetail(s: Soak): string {
  const minutes = s.seconds / 60;
  const live = (s.liveAfter - s.liveBefore) / minutes;
  return (
    `whole churn ${formatValue(s.rssSlopeWhole, "bytes/min")}; minute peaks ${formatValue(s.rssPeakSlope, "bytes/min")}; RSS ${bytes(s.rssFirst)} → ${bytes(s.rssLast)}, max ${bytes(s.rssMax)}; ` +
    `heap after GC ${bytes(s.liveBefore)} → ${bytes(s.liveAfter)} (${formatValue(live, "bytes/min")})`
  );
}

export function smallRows(r: ScenarioResult): TargetRow[] {
  const v = `${r.params.labels}, ${r.params.services} svc / ${r.params.proxies} proxies`;
  const m = (x: number): { missing?: string } => (Number.isFinite(x) || !r.failed ? {} : { missing: r.failed });
  return [
    { figure: "small mesh: peak RSS", variant: v, value: r.peakRss, limit: TARGETS.smallPeakRss, unit: "bytes", ...m(r.peakRss) },
    {
      figure: "small mesh: CPU to first full sync (from process start)",
      variant: v,
      value: r.cpuToSyncS,
      limit: TARGETS.smallCpuToSyncS,
      unit: "s",
      ...(r.cpuPhases ? { detail: cpuPhasesText(r.cpuPhases) } : {}),
      ...m(r.cpuToSyncS),
    },
  ];
}

/** The small row's CPU by phase (targets-scenario.ts says what each holds). */
function cpuPhasesText(c: NonNullable<ScenarioResult["cpuPhases"]>): string {
  return `start-up ${c.startupS.toFixed(2)} s, mesh written and read ${c.meshS.toFixed(2)} s, fleet sync ${c.syncS.toFixed(2)} s`;
}

function targetNotes(p: TargetsPlan, loop: Loopback, all: readonly ScenarioResult[], skipped: readonly string[]): string[] {
  return [
    `loopback: ${bytes(loop.bytes)} in ${ms(loop.ms)} ms (${(loop.throughput / 1e9).toFixed(2)} GB/s) over one TCP connection between two processes, measured in this run; it is the yardstick of full sync and the wire time of an edit.`,
    "Changes are edits of the config directory (one service's file rewritten and renamed into place): a latency runs from the edit to the proxy ACKing a response that holds it, through the file watch (a file renamed into place is read at once, one written in place after 50 ms of quiet), parsing, the push debouncer (a lone change is not delayed), translation and the push.",
    `Changes: the load generator (src/loadgen, its own process) changes the mesh once a second, an endpoint move and a VirtualService weight edit in turn, for ${p.churnS} s per label mode, ${p.scalingChurnS} s per scaling row and ${p.soakS} s in the soak, starting once the server is idle after the full sync (one 250 ms window under a tenth of a core, at most 10 s: the log line "before the churn" gives the wait); p99 over every (proxy, change), the first change of each kind (the server's cold code) included. A figure is given only when every proxy got every change.`,
    "Steady state: CPU = server CPU seconds / churn seconds (/proc/<pid>/stat); RSS slope = least squares over RSS samples every 0.5 s after the first tenth of the soak's churn (the warm-up), and next to it over the whole churn and over each whole minute's peak (under churn RSS is a sawtooth of V8's old space, period ~2 minutes at the main scale, so the plain slope depends on where its teeth fall; the peaks give its envelope), with the server's heap after GC before and after the churn (live memory; RSS also holds V8's room for garbage between major collections); the soak runs with workloads labels when that mode got in sync at this scale, else with identical labels, else at the largest proxy scaling row that got in sync.",
    "RSS and CPU are the server process's own (/proc/<pid>/stat, VmRSS, VmHWM); heap per proxy = the server's heap + ArrayBuffers after GC (measured inside it) with the fleet in sync, minus the same before the fleet connected, / proxies: the views' share is included; the CPU that measuring the heap costs the server (forced full GCs) is left out of its CPU to first full sync. MB is read as MiB.",
    ...(p.parts.has("small")
      ? [
          "Every server starts with V8's code cache, written by an unreported run of the small mesh before the scenarios (as serve runs after its first start); section 7 gives serve's start-up without it as a reference.",
          "Small mesh CPU by phase: start-up = ready on the empty directory; mesh written and read = while the load generator writes the mesh file by file (the server reads each burst of files, builds and pushes to one probe proxy); fleet sync = the 10 proxies' sync (the heap probe's collections excluded). Section 7's serve reads a complete directory once instead.",
        ]
      : []),
    "The proxies are the load generator's delta ADS clients claiming Envoy 1.40 (Envoy's subscription order, virtual hosts by VHDS, ACK each response), all in one process on the same 2 cores as the server: their work competes with the server's.",
    ...all
      .filter((r) => r.failed && !r.failed.startsWith("not run:"))
      .flatMap((r) => [
        `NOT REACHED: ${r.params.services} services / ${r.params.proxies} proxies, ${r.params.labels}: ${r.failed}`,
        ...(r.why ?? []).map((w) => `  why: ${w}`),
      ]),
    ...skipped.map((s) => `NOT RUN: ${s}`),
  ];
}

const MODE_FIGURES: readonly { name: string; value: (r: ScenarioResult) => number; show: (x: number) => string }[] = [
  { name: "full sync (ms)", value: (r) => r.syncMs, show: ms },
  { name: "endpoint change p99 (ms)", value: (r) => r.endpoint.p99, show: ms },
  { name: "VirtualService edit p99 (ms)", value: (r) => r.weight.p99, show: ms },
  { name: "server CPU to full sync (s)", value: (r) => r.syncCpuS, show: (x) => (Number.isFinite(x) ? x.toFixed(1) : "-") },
  { name: "peak RSS", value: (r) => r.peakRss, show: bytes },
  { name: "heap per proxy", value: (r) => r.heapPerProxy, show: bytes },
];

function modesTable(main: readonly ScenarioResult[]): Table {
  const id = main.find((r) => r.params.labels === "identical");
  const others = main.filter((r) => r !== id);
  const header = ["figure", "identical", ...others.flatMap((r) => [r.params.labels, "ratio"])];
  const rows: Cell[][] = MODE_FIGURES.map((f) => [
    f.name,
    id ? f.show(f.value(id)) : "-",
    ...others.flatMap((r) => {
      const q = id ? f.value(r) / f.value(id) : NaN;
      return [f.show(f.value(r)), Number.isFinite(q) ? q.toFixed(2) : "-"];
    }),
  ]);
  return { title: "6b. Label modes side by side (issue 12 item 1: every figure within 1.5× of identical)", header, rows };
}

function scalingTable(proxySteps: readonly ScenarioResult[], serviceSteps: readonly ScenarioResult[], churnS: number): Table {
  const header = [
    "services",
    "proxies",
    "full sync (s)",
    "MiB/proxy",
    "sync scaling",
    "endpoint p99 (ms)",
    "VS edit p99 (ms)",
    "VS edit bytes/proxy",
    "server CPU (s)",
    "peak RSS",
    "heap/proxy",
  ];
  const block = (rs: readonly ScenarioResult[], size: (r: ScenarioResult) => number): Cell[][] =>
    rs.map((r, i) => {
      const prev = i > 0 ? rs[i - 1] : undefined;
      const sc = prev ? r.syncMs / prev.syncMs / (size(r) / size(prev)) : NaN;
      return [
        r.params.services,
        r.params.proxies,
        Number.isFinite(r.syncMs) ? (r.syncMs / 1000).toFixed(2) : r.failed?.startsWith("not run") ? "not run" : r.failed ? "not reached" : "-",
        Number.isFinite(r.syncBytes) ? (r.syncBytes / r.params.proxies / MiB).toFixed(2) : "-",
        Number.isFinite(sc) ? sc.toFixed(2) : "-",
        ms(r.endpoint.p99),
        ms(r.weight.p99),
        bytes(r.weight.bytesPerProxy),
        Number.isFinite(r.cpuS) ? r.cpuS.toFixed(1) : "-",
        bytes(r.peakRss),
        bytes(r.heapPerProxy),
      ];
    });
  return {
    title: "6c. Scaling (identical labels): over proxies, then over services; sync scaling = (time ratio) / (size ratio), 1.00 = linear",
    header,
    rows: [...block(proxySteps, (r) => r.params.proxies), ...block(serviceSteps, (r) => r.params.services)],
    notes: [
      `server CPU = the server process's CPU seconds from its start to the end of the scenario (start-up, reading the mesh, sync, ${churnS} s of churn; the main scale's row: its own churn).`,
      "A scaling row that did not run or did not get in sync says so (not run / not reached); the notes of table 6 say why.",
    ],
  };
}
