// One scenario of the targets section: `meshpilot serve` (its own process, targets-server.ts) on
// an empty config directory, and the load generator (its own process, targets-load.ts) writing S
// services into it, opening P delta streams of one label mode, then changing the mesh once a
// second for a while (endpoint moves and VirtualService weight edits in turn). From its report:
// the full sync, each change's latency at every proxy, bytes per change; from /proc, sampled here:
// the server's CPU and RSS over time; from the probe: the server's heap per connected proxy.
// Behaviour the figures rely on is checked, never a time: a figure is only given when every
// proxy converged (synced, got every change); otherwise the scenario says what was not reached.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SHORT_TYPES, type Counts } from "../../src/loadgen/counts.js";
import type { LabelMode } from "../../src/loadgen/node.js";
import { readCpuSeconds, readMemory } from "../../src/loadgen/proc.js";
import type { KindReport, LoadReport } from "../../src/loadgen/report.js";
import type { Heap, LoadMessage, LoadParams } from "./targets-load.js";
import { ServerProcess } from "./targets-server.js";
import { soakFigures, type Sample, type Soak } from "./targets-soak.js";

const now = (): number => performance.timeOrigin + performance.now();
const SAMPLE_MS = 500;
/**
 * The server is stopped above this RSS and the scenario reported as not reached: a mode that makes
 * a view per proxy can otherwise take the shared machine's memory (the target is 500 MiB).
 */
const RSS_GUARD = 3 * 2 ** 30;
/** Diagnoses kept per scenario not reached. */
const WHY_LINES = 3;

export interface ScenarioParams {
  readonly services: number;
  readonly proxies: number;
  readonly labels: LabelMode;
  /** Seconds of churn at one change per second (at least a few: the change latencies come from it). */
  readonly churnS: number;
  /** Bound of the server's start, the mesh being served and the full sync, each. */
  readonly timeoutMs: number;
  readonly log: (s: string) => void;
}

export interface KindFigures {
  readonly changes: number;
  readonly p99: number;
  readonly samples: number;
  /** Bytes per change, all proxies together, of the types that carry this kind. */
  readonly bytesPerChange: number;
  readonly bytesPerProxy: number;
}

export interface ScenarioResult {
  readonly params: Omit<ScenarioParams, "log">;
  /** What was not reached, and why; figures that depend on it are NaN. */
  readonly failed?: string;
  /** For a scenario not reached: what the first proxies said (stream error, what they waited for, last nonces). */
  readonly why?: readonly string[];
  readonly syncMs: number;
  /** Bytes every proxy together received until in sync. */
  readonly syncBytes: number;
  /** Server CPU seconds since its start when the fleet was in sync (start-up and reading the mesh included). */
  readonly cpuToSyncS: number;
  /**
   * Where cpuToSyncS went: the server's CPU when it was ready on the empty directory (start-up),
   * then while the load generator wrote the mesh file by file and one probe proxy got it (every
   * file read, each burst of them built and pushed), then the fleet's sync (heap probe excluded).
   */
  readonly cpuPhases?: { readonly startupS: number; readonly meshS: number; readonly syncS: number };
  readonly syncCpuS: number;
  readonly heapPerProxy: number;
  readonly endpoint: KindFigures;
  readonly weight: KindFigures;
  readonly soak?: Soak;
  /** VmHWM of the server at the end: its peak RSS over the whole scenario. */
  readonly peakRss: number;
  /** Server CPU seconds over the whole scenario. */
  readonly cpuS: number;
  /** The load generator's first errors, verbatim. */
  readonly errors: readonly string[];
}

function minus(a: Counts, b: Counts): Counts {
  return Object.fromEntries(SHORT_TYPES.map((t) => [t, { ...a[t], bytes: a[t].bytes - b[t].bytes, msgs: a[t].msgs - b[t].msgs }])) as Counts;
}

const num = (x: number | null | undefined): number => (typeof x === "number" ? x : NaN);

function kindFigures(k: KindReport | undefined, bytes: number, proxies: number, converged: boolean): KindFigures {
  if (!k) return { changes: 0, p99: NaN, samples: 0, bytesPerChange: NaN, bytesPerProxy: NaN };
  const perChange = bytes / k.changes;
  return {
    changes: k.changes,
    p99: converged ? num(k.latency.p99) : NaN,
    samples: k.latency.count,
    bytesPerChange: perChange,
    bytesPerProxy: perChange / proxies,
  };
}

function runLoadProcess(params: LoadParams, boundMs: number, log: (s: string) => void): Promise<Extract<LoadMessage, { event: "report" }>> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL("./targets-load.ts", import.meta.url)), [JSON.stringify(params)], {
      // BENCH_LOAD_NODE_ARGS: extra Node options for the load generator, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
      execArgv: ["--import", "tsx", "--max-old-space-size=8192", ...(process.env["BENCH_LOAD_NODE_ARGS"]?.split(" ").filter(Boolean) ?? [])],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let settled = false;
    const finish = (e: Error | undefined, r?: Extract<LoadMessage, { event: "report" }>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(kill);
      if (e) reject(e);
      else resolve(r!);
    };
    const kill = setTimeout(() => {
      child.kill("SIGKILL");
      finish(new Error(`the load generator was still running after ${Math.round(boundMs / 1000)} s; killed`));
    }, boundMs);
    child.on("message", (m: LoadMessage) => {
      if (m.event === "log") log(`    loadgen: ${m.line}`);
      else if (m.event === "report") finish(undefined, m);
      else finish(new Error(m.message));
    });
    child.on("exit", (code) => finish(new Error(`the load generator exited with code ${code} before reporting`)));
  });
}

export async function runScenario(p: ScenarioParams): Promise<ScenarioResult> {
  const { log, ...params } = p;
  const dir = mkdtempSync(path.join(tmpdir(), "meshpilot-targets-"));
  const heapFile = `${dir}.heap.json`;
  const samples: Sample[] = [];
  let server: ServerProcess | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let guarded: string | undefined;
  try {
    server = await ServerProcess.start(dir, heapFile, p.timeoutMs);
    const pid = server.pid;
    const sample = (): void => {
      try {
        const s = { t: now(), cpuS: readCpuSeconds(pid), rss: readMemory(pid).rssBytes };
        samples.push(s);
        if (s.rss > RSS_GUARD && !guarded) {
          guarded = `the server's RSS passed ${RSS_GUARD / 2 ** 30} GiB (${(s.rss / 2 ** 30).toFixed(2)} GiB); stopped it`;
          log(`    ${guarded}`);
          void server?.stop();
        }
      } catch {
        // the server is gone: the scenario's result says so
      }
    };
    sample();
    sampler = setInterval(sample, SAMPLE_MS);
    const bound = 3 * p.timeoutMs + p.churnS * 1000 + 120_000;
    const r = await runLoadProcess(
      {
        serverPid: pid,
        heapFile,
        options: {
          target: server.xdsAddress,
          fleet: [{ protocol: "delta", count: p.proxies }],
          labels: p.labels,
          services: p.services,
          configDir: dir,
          churnRate: 1,
          durationS: p.churnS,
          serverPid: pid,
          syncTimeoutMs: p.timeoutMs,
          readyTimeoutMs: p.timeoutMs,
          changeTimeoutMs: 60_000,
          // A dropped stream is a failure to report, not something to paper over.
          reconnect: false,
          // Never reconnecting, the proxies need no versions to resume with (they would cost the client ~100 B per resource).
          resume: false,
        },
      },
      bound,
      log,
    );
    clearInterval(sampler);
    sample();
    if (guarded) throw new Error(guarded);
    const mem = readMemory(pid);
    return result(params, r, samples, mem.hwmBytes, samples[samples.length - 1]?.cpuS ?? NaN);
  } catch (e) {
    const full = guarded ?? (e as Error).message;
    // "full sync incomplete: ...; the first: <diagnosis> || <diagnosis>" (runLoad's log line).
    const [message = full, diagnoses] = full.split("; the first: ");
    log(`    FAILED: ${full}`);
    let peak = NaN;
    try {
      if (server) peak = readMemory(server.pid).hwmBytes;
    } catch {
      // gone
    }
    return { ...notRun(params, message), peakRss: peak, ...(diagnoses ? { why: diagnoses.split(" || ") } : {}) };
  } finally {
    if (sampler) clearInterval(sampler);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(heapFile, { force: true });
  }
}

function result(
  params: ScenarioResult["params"],
  m: Extract<LoadMessage, { event: "report" }>,
  samples: readonly Sample[],
  peakRss: number,
  cpuS: number,
): ScenarioResult {
  const r: LoadReport = m.report;
  const fleet = r.fleets[0]!;
  const problems: string[] = [];
  if (fleet.synced < params.proxies) problems.push(`full sync: ${fleet.synced} of ${params.proxies} proxies in sync`);
  if (fleet.failed > 0 || fleet.streamErrors > 0) problems.push(`${fleet.failed} proxies failed, ${fleet.streamErrors} stream errors`);
  const ep = r.churn.byKind.endpoint;
  const wt = r.churn.byKind.weight;
  if (ep?.missing) problems.push(`${ep.missing} (proxy, endpoint change) pairs never arrived`);
  if (wt?.missing) problems.push(`${wt.missing} (proxy, VirtualService edit) pairs never arrived`);
  const synced = fleet.synced === params.proxies;
  const churn = minus(fleet.received, fleet.syncReceived);
  const eds = churn.eds.bytes;
  const others = SHORT_TYPES.filter((t) => t !== "eds").reduce((a, t) => a + churn[t].bytes, 0);
  const heap = (h: Heap | undefined): number => (h ? h.heap + h.buffers : NaN);
  const span = { at: m.churnAt ?? NaN, durationMs: r.churn.durationMs, changes: r.churn.changes.length };
  const soak = soakFigures(samples, span, SAMPLE_MS, {
    ...(m.heapSynced ? { synced: m.heapSynced } : {}),
    ...(m.heapChurned ? { churned: m.heapChurned } : {}),
  });
  const why = [...new Set([...r.notInSync, ...r.errors])].slice(0, WHY_LINES);
  return {
    params,
    ...(problems.length ? { failed: problems.join("; "), why } : {}),
    syncMs: synced ? num(r.fullSyncMs) : NaN,
    syncBytes: SHORT_TYPES.reduce((a, t) => a + fleet.syncReceived[t].bytes, 0),
    cpuToSyncS: synced ? num(m.cpuAtSync) : NaN,
    ...(synced ? cpuPhases(m) : {}),
    syncCpuS: synced ? num(r.server?.syncCpuS) : NaN,
    heapPerProxy: synced ? (heap(m.heapSynced) - heap(m.heapBefore)) / params.proxies : NaN,
    endpoint: kindFigures(ep, eds, params.proxies, synced && !ep?.missing),
    weight: kindFigures(wt, others, params.proxies, synced && !wt?.missing),
    ...(soak && synced ? { soak } : {}),
    peakRss,
    cpuS,
    errors: r.errors,
  };
}

/** The server's CPU to the fleet's sync by phase, from the load process's readings (none when one is missing). */
export function cpuPhases(m: Pick<Extract<LoadMessage, { event: "report" }>, "cpuAtSetup" | "cpuAtServed" | "cpuAtSync">): Pick<ScenarioResult, "cpuPhases"> {
  const { cpuAtSetup: setup, cpuAtServed: served, cpuAtSync: sync } = m;
  if (setup === undefined || served === undefined || sync === undefined) return {};
  return { cpuPhases: { startupS: setup, meshS: served - setup, syncS: sync - served } };
}

/** A scenario without figures: `message` says why. */
export function notRun(params: ScenarioResult["params"], message: string): ScenarioResult {
  const none: KindFigures = { changes: 0, p99: NaN, samples: 0, bytesPerChange: NaN, bytesPerProxy: NaN };
  return {
    params,
    failed: message,
    syncMs: NaN,
    syncBytes: NaN,
    cpuToSyncS: NaN,
    syncCpuS: NaN,
    heapPerProxy: NaN,
    endpoint: none,
    weight: none,
    peakRss: NaN,
    cpuS: NaN,
    errors: [],
  };
}
