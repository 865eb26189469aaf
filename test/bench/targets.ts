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
import { LABEL_MODES, type LabelMode } from "../../src/loadgen/node.js";
import { bytes, markdownTable, ms, type Cell, type Table } from "./report.js";
import { measureLoopback, type Loopback } from "./targets-loopback.js";
import { notRun, runScenario, type ScenarioParams, type ScenarioResult } from "./targets-scenario.js";
import { targetsMarkdown, targetsTable, type TargetRow } from "./targets-table.js";
import { runStartup, type StartupRow } from "./startup.js";
import { timePipeline, totalMs, type TranslationRow } from "./translation.js";
import { generateMesh, inputOf } from "./mesh.js";

const MiB = 2 ** 20;
/** Changes (one a second) in each scaling row: enough for the p99s there, short for the budget. */
const SCALING_CHURN_S = 6;
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
}

interface Plan {
  readonly services: number;
  readonly proxies: number;
  /** Seconds of churn (one change per second) of the soak, and of each label mode's run. */
  readonly soakS: number;
  readonly churnS: number;
  readonly timeoutMs: number;
  readonly proxySteps: readonly number[];
  readonly serviceSteps: readonly number[];
  /** Proxies of the service scaling rows. */
  readonly serviceStepProxies: number;
}

function plan(quick: boolean): Plan {
  const env = (k: string): number | undefined => (process.env[k] !== undefined ? Number(process.env[k]) : undefined);
  // BENCH_TARGETS_SCALE=1000x200: the main scale's services × proxies, for a machine that cannot carry the default.
  const scale = /^(\d+)x(\d+)$/.exec(process.env["BENCH_TARGETS_SCALE"] ?? "");
  const base: Plan = quick
    ? {
        services: 100,
        proxies: 50,
        soakS: 30,
        churnS: 10,
        timeoutMs: 120_000,
        proxySteps: [10, 25],
        serviceSteps: [20, 100, 500],
        serviceStepProxies: 10,
      }
    : {
        services: 1000,
        proxies: 2000,
        soakS: 600,
        churnS: 30,
        timeoutMs: 400_000,
        proxySteps: [100, 1000],
        serviceSteps: [100, 1000, 5000],
        serviceStepProxies: 100,
      };
  return {
    ...base,
    soakS: env("BENCH_TARGETS_SOAK_S") ?? base.soakS,
    ...(scale ? { services: Number(scale[1]), proxies: Number(scale[2]) } : {}),
  };
}

/** The label modes, the realistic one (each proxy a pod of one of the services) first. */
function modes(): LabelMode[] {
  return ["workloads", ...LABEL_MODES.filter((m) => m !== "workloads")];
}

export interface TargetsResult {
  readonly tables: Table[];
  readonly markdown: string;
}

export async function runTargets(o: TargetsOptions): Promise<TargetsResult> {
  const p = plan(o.quick);
  const log = o.log;
  const rows: TargetRow[] = [];
  const deadline = performance.now() + o.startWithinMs;
  const scenario = async (s: Omit<ScenarioParams, "log">): Promise<ScenarioResult> => {
    if (performance.now() < deadline) return runScenario({ ...s, log });
    log(`    not run: the section's budget is spent`);
    return notRun(s, `not run: the section's budget (${Math.round(o.startWithinMs / 60_000)} min to start a scenario) was spent`);
  };

  log(`section 6: translation of the 1000-service view`);
  const tr = (["basic", "full"] as const).map((v) => timePipeline(inputOf(generateMesh(1000, v)), v, 1000, 3));

  // CLI start-up and serve at 50 services / 10 proxies, as section 7 measures them (test/bench/startup.ts).
  log(`section 6: start-up (section 7's figures)`);
  const startup = await runStartup({ runs: o.quick ? 3 : 5, log });

  const small: ScenarioResult[] = [];
  for (const labels of modes()) {
    log(`section 6: 50 services / 10 proxies, labels ${labels}`);
    small.push(await scenario({ services: 50, proxies: 10, labels, churnS: 4, timeoutMs: 60_000 }));
  }

  const main: ScenarioResult[] = [];
  for (const labels of modes()) {
    log(`section 6: ${p.services} services / ${p.proxies} proxies, labels ${labels}, churn ${p.churnS} s`);
    main.push(await scenario({ services: p.services, proxies: p.proxies, labels, churnS: p.churnS, timeoutMs: p.timeoutMs }));
  }
  // The soak: in the realistic mode if its fleet got in sync above, else with identical labels
  // (a soak of a fleet that never syncs measures nothing).
  const soakMode = main.find((r) => r.params.labels === "workloads" && !r.failed) ? "workloads" : "identical";
  log(`section 6: soak, ${p.services} services / ${p.proxies} proxies, labels ${soakMode}, ${p.soakS} s of churn`);
  const soak = await scenario({ services: p.services, proxies: p.proxies, labels: soakMode, churnS: p.soakS, timeoutMs: p.timeoutMs });

  // Loopback's throughput now, for as many bytes as the largest full sync carried.
  const syncBytes = Math.max(...main.map((r) => (Number.isFinite(r.syncBytes) ? r.syncBytes : 0)), 256 * MiB);
  log(`section 6: loopback, ${bytes(syncBytes)} between two processes`);
  const loop = await measureLoopback(syncBytes, 300_000);

  // Scaling, smallest first, so that a spent budget cuts the largest rows.
  const scaling: ScenarioResult[] = [];
  const mainIdentical = main.find((r) => r.params.labels === "identical");
  if (mainIdentical) scaling.push(mainIdentical);
  const steps = [
    ...p.serviceSteps.map((services) => ({ services, proxies: p.serviceStepProxies })),
    ...p.proxySteps.map((proxies) => ({ services: p.services, proxies })),
  ].sort((a, b) => a.services * a.proxies - b.services * b.proxies);
  for (const step of steps) {
    if (scaling.some((r) => r.params.services === step.services && r.params.proxies === step.proxies)) continue;
    log(`section 6: scaling, ${step.services} services / ${step.proxies} proxies`);
    scaling.push(await scenario({ ...step, labels: "identical", churnS: SCALING_CHURN_S, timeoutMs: p.timeoutMs }));
  }

  rows.push(...translationRows(tr));
  rows.push(...startup.filter((r) => !r.figure.includes("(reference)")).map(startupRow));
  for (const r of main) rows.push(...mainRows(r, loop));
  rows.push(...soakRows(soak));
  for (const r of small) rows.push(...smallRows(r));
  const notes = targetNotes(p, loop, [...main, soak, ...small, ...scaling]);
  const title = `6. Targets (issue 12 item 3): ${p.services} services × 10 endpoints, ${p.proxies} delta proxies; server = meshpilot serve --config-dir (own process)`;
  const proxyScaling = scaling.filter((r) => r.params.services === p.services).sort((a, b) => a.params.proxies - b.params.proxies);
  const serviceScaling = scaling.filter((r) => r.params.proxies === p.serviceStepProxies).sort((a, b) => a.params.services - b.params.services);
  const sc = scalingTable(proxyScaling, serviceScaling);
  const cmp = modesTable(main);
  return {
    tables: [targetsTable(title, rows, notes), cmp, sc],
    markdown: [
      targetsMarkdown(rows),
      "",
      ...notes.map((n) => `- ${n}`),
      "",
      `Label modes at ${p.services} services / ${p.proxies} proxies (ratio to identical; issue 12 item 1 wants ≤ 1.50):`,
      "",
      markdownTable(cmp.header, cmp.rows),
      "",
      "Scaling (identical labels):",
      "",
      markdownTable(sc.header, sc.rows),
    ].join("\n"),
  };
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
export function soakRows(r: ScenarioResult): TargetRow[] {
  const v = `${r.params.labels}, soak`;
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
      figure: `soak: RSS slope${s ? ` (${s.seconds.toFixed(0)} s)` : ""}`,
      variant: v,
      value: s?.rssSlope ?? NaN,
      limit: TARGETS.rssSlopePerMin,
      unit: "bytes/min",
      ...(s ? { detail: `RSS ${bytes(s.rssFirst)} → ${bytes(s.rssLast)}, max ${bytes(s.rssMax)}` } : {}),
      ...why,
    },
  ];
}

function smallRows(r: ScenarioResult): TargetRow[] {
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
      ...m(r.cpuToSyncS),
    },
  ];
}

function targetNotes(p: Plan, loop: Loopback, all: readonly ScenarioResult[]): string[] {
  return [
    `loopback: ${bytes(loop.bytes)} in ${ms(loop.ms)} ms (${(loop.throughput / 1e9).toFixed(2)} GB/s) over one TCP connection between two processes, measured in this run; it is the yardstick of full sync and the wire time of an edit.`,
    "Changes are edits of the config directory (one service's file rewritten and renamed into place): a latency runs from the edit to the proxy ACKing a response that holds it, through the file watch (its 50 ms quiet period included), parsing, the push debouncer (a lone change is not delayed), translation and the push.",
    `Changes: the load generator (src/loadgen, its own process) changes the mesh once a second, an endpoint move and a VirtualService weight edit in turn, for ${p.churnS} s per label mode and ${p.soakS} s in the soak; p99 over every (proxy, change). A figure is given only when every proxy got every change.`,
    "Steady state: CPU = server CPU seconds / churn seconds (/proc/<pid>/stat); RSS slope = least squares over RSS samples every 0.5 s after the first tenth of the soak's churn; the soak runs with workloads labels when that mode got in sync at this scale, else with identical labels.",
    "RSS and CPU are the server process's own (/proc/<pid>/stat, VmRSS, VmHWM); heap per proxy = the server's heap + ArrayBuffers after GC (measured inside it) with the fleet in sync, minus the same before the fleet connected, / proxies: the views' share is included. MB is read as MiB.",
    "The proxies are the load generator's delta ADS clients (Envoy's subscription order, ACK each response), all in one process on the same 2 cores as the server: their work competes with the server's.",
    ...all.filter((r) => r.failed).map((r) => `NOT REACHED: ${r.params.services} services / ${r.params.proxies} proxies, ${r.params.labels}: ${r.failed}`),
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

function scalingTable(proxySteps: readonly ScenarioResult[], serviceSteps: readonly ScenarioResult[]): Table {
  const header = [
    "services",
    "proxies",
    "full sync (s)",
    "MiB/proxy",
    "sync scaling",
    "endpoint p99 (ms)",
    "VS edit p99 (ms)",
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
        Number.isFinite(r.syncMs) ? (r.syncMs / 1000).toFixed(2) : r.failed ? "not reached" : "-",
        Number.isFinite(r.syncBytes) ? (r.syncBytes / (r.params.proxies - 1) / MiB).toFixed(2) : "-",
        Number.isFinite(sc) ? sc.toFixed(2) : "-",
        ms(r.endpoint.p99),
        ms(r.weight.p99),
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
      `server CPU = the server process's CPU seconds from its start to the end of the scenario (start-up, reading the mesh, sync, ${SCALING_CHURN_S} s of churn).`,
    ],
  };
}
