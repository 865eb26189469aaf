// N proxies reconnecting at once, as after a restart of meshpilot: a fresh server (config loaded,
// no view built yet) and N lean delta clients (push-clients.ts, a process of their own) that all
// open their streams at the same moment. Measured in the server's process: how long until every
// client holds its full snapshot, the longest event-loop stall meanwhile (monitorEventLoopDelay;
// the target is 100 ms), and whether anything was refused or dropped (a client's stream error
// fails the run; the server counts disconnects). Shared by the e2e test (which asserts
// convergence and no errors, never the stall) and the bench (which prints the stall with its
// target).
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pino } from "pino";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { BUILD_SLICE_MS } from "../../src/pipeline/sliced-work.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { XdsServer } from "../../src/xds/server.js";
import type { AcceptGateOptions } from "../../src/xds/accept-gate.js";
import { generateMesh, inputOf, type LabelMode } from "./mesh.js";
import { ClientProcess } from "./push.js";
import type { TargetRow } from "./targets-table.js";

/** Issue 12 item 4: no event-loop stall longer than this while N proxies reconnect. */
export const RECONNECT_STALL_TARGET_MS = 100;

export interface ReconnectStormOptions {
  readonly services: number;
  readonly clients: number;
  readonly labels: LabelMode;
  readonly timeoutMs: number;
  /** Build views at once, in the turn that binds their first stream (as before sliced builds), to compare. */
  readonly buildAtOnce?: boolean;
  /** The server's accept gate (accept-gate.ts), to compare settings. */
  readonly accept?: AcceptGateOptions;
}

export interface ReconnectStormResult {
  readonly services: number;
  readonly clients: number;
  readonly labels: LabelMode;
  /** From the connect command to the last client holding its full snapshot. */
  readonly syncMs: number;
  readonly loopMaxMs: number;
  readonly loopP99Ms: number;
  /**
   * The most CPU the server's main thread used between two ticks of a 5 ms timer: what the longest
   * turn itself cost, without the time the machine's load kept the process off a core (the loop
   * delay counts that too). Where Linux gives no per-thread figure, the process's (with GC helper
   * threads, so an upper bound).
   */
  readonly turnCpuMaxMs: number;
  /** Streams the server saw end during the storm (none should). */
  readonly disconnects: number;
  readonly connected: number;
  /** Node classes (xDS keys) served; proxies of a class share one snapshot. */
  readonly views: number;
  /** Times the push scheduler held streams at its cap of unanswered bytes. */
  readonly heldAtCap: number;
  /** The push scheduler's longest turn (its slice plus the longest single flush). */
  readonly pushTurnMaxMs: number;
  /** Views built across turns (ControlPlane sliceMs): turns taken, the longest, views left waiting. */
  readonly build: { readonly turns: number; readonly steps: number; readonly longestTurnMs: number; readonly waitingViews: number };
  /** The machine's 1-minute load average before and after (2 cores: above 2, turns wait for a core). */
  readonly load: readonly [number, number];
  readonly serverCpuMs: number;
  /** Connections set up in a later turn than they arrived in, and the most set up in one turn. */
  readonly accept: { readonly deferred: number; readonly maxInOneTurn: number };
}

const silent = pino({ level: "silent" });

/**
 * The main thread's CPU time in ms: its schedstat (nanoseconds on a core) where Linux gives it,
 * else the process's (which adds GC helper threads, so an upper bound).
 */
function mainThreadCpu(): () => number {
  const schedstat = `/proc/self/task/${process.pid}/schedstat`;
  try {
    readFileSync(schedstat, "latin1");
    return () => Number(readFileSync(schedstat, "latin1").split(" ")[0]) / 1e6;
  } catch {
    return () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
  }
}

/** CPU per tick of a 5 ms timer (a turn longer than that delays the next tick): the most of it. */
function watchTurnCpu(): () => number {
  const cpuMs = mainThreadCpu();
  let last = cpuMs();
  let max = 0;
  const tick = setInterval(() => {
    const now = cpuMs();
    max = Math.max(max, now - last);
    last = now;
  }, 5);
  return () => {
    clearInterval(tick);
    return max;
  };
}

export async function runReconnectStorm(o: ReconnectStormOptions): Promise<ReconnectStormResult> {
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: silent, ...(o.buildAtOnce ? {} : { sliceMs: BUILD_SLICE_MS }) });
  cp.update(inputOf(generateMesh(o.services, "basic")), "all");
  let disconnects = 0;
  const server = new XdsServer({
    cache,
    views: cp,
    logger: silent,
    observer: { onDisconnect: () => void disconnects++ },
    ...(o.accept ? { accept: o.accept } : {}),
  });
  const port = await server.listen("127.0.0.1:0");
  const clients = new ClientProcess();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let turnCpuMaxMs = 0;
  try {
    await clients.next("ready", 60_000);
    const loadBefore = loadavg()[0]!;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    loop.enable();
    const turnCpu = watchTurnCpu();
    clients.send({
      cmd: "connect",
      group: "storm",
      address: `127.0.0.1:${port}`,
      count: o.clients,
      firstIndex: 0,
      timeoutMs: o.timeoutMs,
      selfCheck: true,
      labels: o.labels,
      services: o.services,
    });
    const synced = await clients.next("synced", o.timeoutMs + 10_000).finally(() => (turnCpuMaxMs = turnCpu()));
    loop.disable();
    const d = process.cpuUsage(cpu);
    return {
      services: o.services,
      clients: synced.syncedAt.length,
      labels: o.labels,
      syncMs: Math.max(...synced.syncedAt) - (performance.timeOrigin + t0),
      loopMaxMs: loop.max / 1e6,
      loopP99Ms: loop.percentile(99) / 1e6,
      turnCpuMaxMs,
      disconnects,
      connected: server.connectedProxies,
      views: cache.keys().length,
      heldAtCap: server.pushStats.heldAtCap,
      pushTurnMaxMs: server.pushStats.longestRoundMs,
      build: cp.buildWork ?? { turns: 0, steps: 0, longestTurnMs: 0, waitingViews: 0 },
      load: [loadBefore, loadavg()[0]!],
      serverCpuMs: (d.user + d.system) / 1000,
      accept: server.acceptStats,
    };
  } finally {
    loop.disable();
    await clients.stop();
    await server.close(500);
  }
}

export function reconnectStormRow(r: ReconnectStormResult): TargetRow {
  return {
    figure: `${r.clients} proxies reconnecting at once: longest event-loop stall`,
    variant: `${r.services} services, ${r.labels}`,
    value: r.loopMaxMs,
    limit: RECONNECT_STALL_TARGET_MS,
    unit: "ms",
    detail: `p99 ${r.loopP99Ms.toFixed(0)} ms; longest turn's own CPU ${r.turnCpuMaxMs.toFixed(0)} ms (push ${r.pushTurnMaxMs.toFixed(0)} ms, view builds ${r.build.longestTurnMs.toFixed(0)} ms); ${r.accept.deferred} connections set up in a later turn (at most ${r.accept.maxInOneTurn} a turn); all synced in ${(r.syncMs / 1000).toFixed(1)} s; ${r.views} node classes; ${r.disconnects} dropped`,
  };
}
