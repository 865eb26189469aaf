// Section 6: the targets of issue 12 item 3, each as figure, target and ratio. The server is
// `meshpilot serve --config-dir` in its own process (targets-server.ts), the proxies are delta
// ADS clients in another (targets-scenario.ts); changes are edits of the config directory.
//   - at the main scale (1000 services × 10 endpoints, 2000 proxies), per label mode: full sync
//     against loopback's time for the same bytes, endpoint change and VirtualService edit p99,
//     heap per proxy, peak RSS, and a soak at one change per second (CPU, RSS slope);
//   - at 50 services / 10 proxies, per label mode: peak RSS and CPU to the first full sync;
//   - translation of the 1000-service view;
//   - the scaling over proxies and over services.
import { LABEL_MODES, type LabelMode } from "./mesh.js";
import { bytes, markdownTable, ms, type Cell, type Table } from "./report.js";
import { measureLoopback, type Loopback } from "./targets-loopback.js";
import { runScenario, type ScenarioResult } from "./targets-scenario.js";
import { percentile, targetsMarkdown, targetsTable, type TargetRow } from "./targets-table.js";
import { runTranslation, totalMs, type TranslationRow } from "./translation.js";

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
}

interface Plan {
  readonly services: number;
  readonly proxies: number;
  readonly changes: number;
  /** The soak of the first mode (the long one) and of the others. */
  readonly soakS: number;
  readonly otherSoakS: number;
  readonly timeoutMs: number;
  readonly proxySteps: readonly number[];
  readonly serviceSteps: readonly number[];
  /** Proxies of the service scaling rows. */
  readonly serviceStepProxies: number;
}

function plan(quick: boolean): Plan {
  const env = (k: string): number | undefined => (process.env[k] !== undefined ? Number(process.env[k]) : undefined);
  return quick
    ? {
        services: 100,
        proxies: 50,
        changes: 3,
        soakS: env("BENCH_TARGETS_SOAK_S") ?? 30,
        otherSoakS: 10,
        timeoutMs: 120_000,
        proxySteps: [10, 25],
        serviceSteps: [20, 100, 500],
        serviceStepProxies: 10,
      }
    : {
        services: 1000,
        proxies: 2000,
        changes: 5,
        soakS: env("BENCH_TARGETS_SOAK_S") ?? 600,
        otherSoakS: 60,
        timeoutMs: 400_000,
        proxySteps: [100, 1000],
        serviceSteps: [100, 1000, 5000],
        serviceStepProxies: 100,
      };
}

/** The label modes, the realistic one first (it gets the long soak). */
function modes(): LabelMode[] {
  const all = [...LABEL_MODES];
  const first = (all as string[]).includes("workloads") ? ("workloads" as LabelMode) : "identical";
  return [first, ...all.filter((m) => m !== first)];
}

export interface TargetsResult {
  readonly tables: Table[];
  readonly markdown: string;
}

export async function runTargets(o: TargetsOptions): Promise<TargetsResult> {
  const p = plan(o.quick);
  const log = o.log;
  const rows: TargetRow[] = [];

  log(`section 6: translation of the 1000-service view`);
  const tr = runTranslation([1000], ["basic", "full"], () => undefined).rows;

  const small: ScenarioResult[] = [];
  for (const labels of modes()) {
    log(`section 6: 50 services / 10 proxies, labels ${labels}`);
    small.push(await runScenario({ services: 50, proxies: 10, labels, changes: 3, soakS: 0, timeoutMs: 60_000, log }));
  }

  const main: ScenarioResult[] = [];
  for (const [i, labels] of modes().entries()) {
    const soakS = i === 0 ? p.soakS : p.otherSoakS;
    log(`section 6: ${p.services} services / ${p.proxies} proxies, labels ${labels}, soak ${soakS} s`);
    main.push(await runScenario({ services: p.services, proxies: p.proxies, labels, changes: p.changes, soakS, timeoutMs: p.timeoutMs, log }));
  }

  // Loopback's throughput now, for as many bytes as the largest full sync carried.
  const syncBytes = Math.max(...main.map((r) => (Number.isFinite(r.syncBytes) ? r.syncBytes : 0)), 256 * MiB);
  log(`section 6: loopback, ${bytes(syncBytes)} between two processes`);
  const loop = await measureLoopback(syncBytes, 300_000);

  const scaling: ScenarioResult[] = [];
  for (const proxies of p.proxySteps) {
    log(`section 6: scaling, ${p.services} services / ${proxies} proxies`);
    scaling.push(await runScenario({ services: p.services, proxies, labels: "identical", changes: 3, soakS: 0, timeoutMs: p.timeoutMs, log }));
  }
  const mainIdentical = main.find((r) => r.params.labels === "identical");
  if (mainIdentical) scaling.push(mainIdentical);
  for (const services of p.serviceSteps) {
    const have = scaling.find((r) => r.params.services === services && r.params.proxies === p.serviceStepProxies);
    if (have) continue;
    log(`section 6: scaling, ${services} services / ${p.serviceStepProxies} proxies`);
    scaling.push(await runScenario({ services, proxies: p.serviceStepProxies, labels: "identical", changes: 3, soakS: 0, timeoutMs: p.timeoutMs, log }));
  }

  rows.push(...translationRows(tr));
  for (const r of main) rows.push(...mainRows(r, loop));
  for (const r of small) rows.push(...smallRows(r));
  const notes = targetNotes(p, loop, [...main, ...small, ...scaling]);
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
  const why = r.failed ? `${r.failed.phase}: ${r.failed.message}` : undefined;
  const m = (x: number): { missing?: string } => (Number.isFinite(x) || !why ? {} : { missing: why });
  const wireMs = (r.vsBytesTotal / loop.throughput) * 1000;
  const loopMs = (r.syncBytes / loop.throughput) * 1000;
  const p99 = (xs: readonly number[]): number => percentile(xs, 99);
  const out: TargetRow[] = [
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
      value: p99(r.endpointLatencies),
      limit: TARGETS.endpointP99Ms,
      unit: "ms",
      detail: `${r.endpointLatencies.length} samples, ${bytes(r.endpointBytesPerProxy)}/proxy`,
      ...m(p99(r.endpointLatencies)),
    },
    {
      figure: "VirtualService edit → every proxy, p99",
      variant: v,
      value: p99(r.vsLatencies),
      limit: TARGETS.vsEditP99Ms + wireMs,
      unit: "ms",
      limitNote: `150 ms + ${ms(wireMs)} ms wire`,
      detail: `${bytes(r.vsBytesPerProxy)}/proxy, ${bytes(r.vsBytesTotal)} per edit`,
      ...m(p99(r.vsLatencies)),
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
  ];
  const s = r.soak;
  const soakWhy = s ? undefined : (why ?? "no soak");
  out.push(
    {
      figure: `steady state, 1 change/s: CPU${s ? ` (${s.seconds.toFixed(0)} s)` : ""}`,
      variant: v,
      value: s?.cores ?? NaN,
      limit: TARGETS.steadyCores,
      unit: "cores",
      ...(soakWhy ? { missing: soakWhy } : {}),
    },
    {
      figure: `steady state: RSS slope${s ? ` (${s.seconds.toFixed(0)} s)` : ""}`,
      variant: v,
      value: s?.rssSlope ?? NaN,
      limit: TARGETS.rssSlopePerMin,
      unit: "bytes/min",
      ...(s ? { detail: `RSS ${bytes(s.rssFirst)} → ${bytes(s.rssLast)}, max ${bytes(s.rssMax)}` } : {}),
      ...(soakWhy ? { missing: soakWhy } : {}),
    },
  );
  return out;
}

function smallRows(r: ScenarioResult): TargetRow[] {
  const v = `${r.params.labels}, ${r.params.services} svc / ${r.params.proxies} proxies`;
  const why = r.failed ? `${r.failed.phase}: ${r.failed.message}` : undefined;
  return [
    {
      figure: "small mesh: peak RSS",
      variant: v,
      value: r.peakRss,
      limit: TARGETS.smallPeakRss,
      unit: "bytes",
      ...(why && !Number.isFinite(r.peakRss) ? { missing: why } : {}),
    },
    {
      figure: "small mesh: CPU to first full sync (from process start)",
      variant: v,
      value: r.cpuToSyncS,
      limit: TARGETS.smallCpuToSyncS,
      unit: "s",
      ...(why && !Number.isFinite(r.cpuToSyncS) ? { missing: why } : {}),
    },
  ];
}

function targetNotes(p: Plan, loop: Loopback, all: readonly ScenarioResult[]): string[] {
  return [
    `loopback: ${bytes(loop.bytes)} in ${ms(loop.ms)} ms (${(loop.throughput / 1e9).toFixed(2)} GB/s) over one TCP connection between two processes, measured in this run; it is the yardstick of full sync and the wire time of an edit.`,
    "Changes are edits of the config directory (write + rename of one service's file): latencies run from the rename to the proxy holding the change, through the file watch (50 ms quiet period), parsing, the push debouncer (a lone change is not delayed), translation and the push.",
    `Tracked changes: ${p.changes} endpoint changes (one endpoint of one service toggles ready) and ${p.changes} VirtualService edits (one service's 90/10 split toggles to 80/20) per mode; p99 over every proxy × change.`,
    "Soak: one change per second (9 endpoint changes, then a VirtualService edit, repeated); CPU = server CPU seconds / soak seconds from /proc; RSS slope = least squares over samples each second after the first tenth; afterwards one more change must reach every proxy.",
    "RSS and CPU are the server process's own (/proc/<pid>/stat, VmRSS, VmHWM); heap per proxy = the server's heap + ArrayBuffers after GC (measured inside it), with P-1 proxies connected against one, / (P-1). MB is read as MiB.",
    "The proxies are delta ADS clients (Envoy's subscription order, ACK each response) in one separate process on the same 2 cores; their work competes with the server's.",
    ...all
      .filter((r) => r.failed)
      .map((r) => `NOT REACHED: ${r.params.services} services / ${r.params.proxies} proxies, ${r.params.labels}: ${r.failed!.phase}: ${r.failed!.message}`),
  ];
}

const MODE_FIGURES: readonly { name: string; value: (r: ScenarioResult) => number; show: (x: number) => string }[] = [
  { name: "full sync (ms)", value: (r) => r.syncMs, show: ms },
  { name: "endpoint change p99 (ms)", value: (r) => percentile(r.endpointLatencies, 99), show: ms },
  { name: "VirtualService edit p99 (ms)", value: (r) => percentile(r.vsLatencies, 99), show: ms },
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
        Number.isFinite(r.syncMs) ? (r.syncMs / 1000).toFixed(2) : r.failed ? `not reached (${r.failed.phase})` : "-",
        Number.isFinite(r.syncBytes) ? (r.syncBytes / (r.params.proxies - 1) / MiB).toFixed(2) : "-",
        Number.isFinite(sc) ? sc.toFixed(2) : "-",
        ms(percentile(r.endpointLatencies, 99)),
        ms(percentile(r.vsLatencies, 99)),
        Number.isFinite(r.cpuS) ? r.cpuS.toFixed(1) : "-",
        bytes(r.peakRss),
        bytes(r.heapPerProxy),
      ];
    });
  return {
    title: "6c. Scaling (identical labels): over proxies, then over services; sync scaling = (time ratio) / (size ratio), 1.00 = linear",
    header,
    rows: [...block(proxySteps, (r) => r.params.proxies), ...block(serviceSteps, (r) => r.params.services)],
    notes: ["server CPU = the server process's CPU seconds from its start to the end of the scenario (start-up, sync, the tracked changes)."],
  };
}
