// N proxies reconnecting at once, as after a restart of meshpilot: a fresh server (config loaded,
// no view built yet) and N lean delta clients (push-clients.ts, a process of their own) that all
// open their streams at the same moment. Measured in the server's process: how long until every
// client holds its full snapshot, the longest event-loop stall meanwhile (monitorEventLoopDelay;
// the target is 100 ms), and whether anything was refused or dropped (a client's stream error
// fails the run; the server counts disconnects). Shared by the e2e test (which asserts
// convergence and no errors, never the stall) and the bench (which prints the stall with its
// target).
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pino } from "pino";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { BUILD_SLICE_MS } from "../../src/pipeline/sliced-work.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { XdsServer } from "../../src/xds/server.js";
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
}

export interface ReconnectStormResult {
  readonly services: number;
  readonly clients: number;
  readonly labels: LabelMode;
  /** From the connect command to the last client holding its full snapshot. */
  readonly syncMs: number;
  readonly loopMaxMs: number;
  readonly loopP99Ms: number;
  /** Streams the server saw end during the storm (none should). */
  readonly disconnects: number;
  readonly connected: number;
  /** Node classes (xDS keys) served; proxies of a class share one snapshot. */
  readonly views: number;
  /** Times the push scheduler held streams at its cap of unanswered bytes. */
  readonly heldAtCap: number;
  readonly serverCpuMs: number;
}

const silent = pino({ level: "silent" });

export async function runReconnectStorm(o: ReconnectStormOptions): Promise<ReconnectStormResult> {
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: silent, sliceMs: BUILD_SLICE_MS });
  cp.update(inputOf(generateMesh(o.services, "basic")), "all");
  let disconnects = 0;
  const server = new XdsServer({ cache, views: cp, logger: silent, observer: { onDisconnect: () => void disconnects++ } });
  const port = await server.listen("127.0.0.1:0");
  const clients = new ClientProcess();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  try {
    await clients.next("ready", 60_000);
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    loop.enable();
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
    const synced = await clients.next("synced", o.timeoutMs + 10_000);
    loop.disable();
    const d = process.cpuUsage(cpu);
    return {
      services: o.services,
      clients: synced.syncedAt.length,
      labels: o.labels,
      syncMs: Math.max(...synced.syncedAt) - (performance.timeOrigin + t0),
      loopMaxMs: loop.max / 1e6,
      loopP99Ms: loop.percentile(99) / 1e6,
      disconnects,
      connected: server.connectedProxies,
      views: cache.keys().length,
      heldAtCap: server.pushStats.heldAtCap,
      serverCpuMs: (d.user + d.system) / 1000,
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
    detail: `p99 ${r.loopP99Ms.toFixed(0)} ms; all synced in ${(r.syncMs / 1000).toFixed(1)} s; ${r.views} node classes; ${r.disconnects} dropped`,
  };
}
