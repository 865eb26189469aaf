// One scenario of the targets section: `meshpilot serve` (its own process, targets-server.ts)
// holding S services, P proxies of one label mode in the client process (another process), then
//   1. full sync: from opening the streams until every proxy holds CDS, EDS, LDS and RDS;
//   2. the server's heap per connected proxy (after GC, inside the server);
//   3. endpoint changes (file edits), each awaited at every proxy: latencies per proxy;
//   4. VirtualService weight edits, each awaited at every proxy: latencies and bytes per proxy;
//   5. optionally a soak: one change per second for a while, sampling the server's CPU and RSS,
//      then one more change that every proxy must get (nobody fell behind or dropped).
// Asserted (behaviour the figures depend on, never times): every proxy holds every resource,
// an endpoint change moves only EDS and reaches every proxy, an edit reaches every proxy.
import { outboundClusterName, serviceFqdn } from "../../src/model/names.js";
import type { LabelMode } from "./mesh.js";
import { namespaceOf, serviceName, SERVICE_PORT } from "./mesh.js";
import { SHORT_TYPES, type Counts, type FromClients } from "./push-protocol.js";
import { ClientFailure, ClientProcess } from "./push.js";
import { sleep } from "./report.js";
import { ConfigDir, ServerProcess, type ProcSample } from "./targets-server.js";
import { slope } from "./targets-table.js";

const now = (): number => performance.timeOrigin + performance.now();
/** Between tracked changes: longer than the push debouncer's quiet period, so each change is a lone one. */
const QUIET_MS = 300;

export interface ScenarioParams {
  readonly services: number;
  readonly proxies: number;
  readonly labels: LabelMode;
  /** Tracked endpoint changes and VirtualService edits (each). */
  readonly changes: number;
  /** Seconds of churn at one change per second (0: none). */
  readonly soakS: number;
  /** Bound of each wait. */
  readonly timeoutMs: number;
  readonly log: (s: string) => void;
}

export interface Soak {
  readonly seconds: number;
  readonly changes: number;
  /** Server CPU seconds per second over the soak. */
  readonly cores: number;
  /** RSS growth, bytes per minute (least squares over the samples after the first tenth). */
  readonly rssSlope: number;
  readonly rssFirst: number;
  readonly rssLast: number;
  readonly rssMax: number;
}

export interface ScenarioResult {
  readonly params: Omit<ScenarioParams, "log">;
  /** The phase that did not finish, and why; figures of later phases are NaN / empty. */
  readonly failed?: { readonly phase: string; readonly message: string };
  /** Server CPU seconds and RSS when it was ready (config loaded, nothing connected). */
  readonly atReady?: ProcSample;
  readonly readyMs: number;
  readonly syncMs: number;
  /** Bytes every proxy together received until in sync. */
  readonly syncBytes: number;
  /** Server CPU seconds since its start when the last proxy was in sync (start-up included). */
  readonly cpuToSyncS: number;
  readonly syncCpuS: number;
  readonly heapPerProxy: number;
  /** Per proxy and change: ms from the file edit to the proxy holding it. */
  readonly endpointLatencies: readonly number[];
  readonly endpointBytesPerProxy: number;
  readonly vsLatencies: readonly number[];
  /** Bytes per proxy per VirtualService edit (every type). */
  readonly vsBytesPerProxy: number;
  /** Bytes per VirtualService edit, all proxies together. */
  readonly vsBytesTotal: number;
  readonly soak?: Soak;
  readonly peakRss: number;
  /** Server CPU seconds over the whole scenario (start to stop). */
  readonly cpuS: number;
}

function total(c: Counts): number {
  return SHORT_TYPES.reduce((a, t) => a + c[t].bytes, 0);
}

function expectEdsOf(i: number): string[] {
  const host = serviceFqdn(serviceName(i), namespaceOf(i));
  return [outboundClusterName(SERVICE_PORT, undefined, host), outboundClusterName(SERVICE_PORT, "v1", host)].sort();
}

type Changed = Extract<FromClients, { event: "changed" }>;

export async function runScenario(p: ScenarioParams): Promise<ScenarioResult> {
  const { log, ...params } = p;
  const group = "targets";
  const out = {
    readyMs: NaN,
    syncMs: NaN,
    syncBytes: NaN,
    cpuToSyncS: NaN,
    syncCpuS: NaN,
    heapPerProxy: NaN,
    endpointLatencies: [] as number[],
    endpointBytesPerProxy: NaN,
    vsLatencies: [] as number[],
    vsBytesPerProxy: NaN,
    vsBytesTotal: NaN,
  };
  let atReady: ProcSample | undefined;
  let soak: Soak | undefined;
  let failed: ScenarioResult["failed"];
  let phase = "writing the config directory";
  const dir = new ConfigDir(p.services);
  let server: ServerProcess | undefined;
  let clients: ClientProcess | undefined;
  let last: ProcSample | undefined;

  // One tracked change: arm, edit, wait until every proxy holds it.
  const tracked = async (edit: () => void, expect: { eds?: string[]; rds?: string[] }): Promise<{ changed: Changed; t0: number }> => {
    clients!.send({ cmd: "arm", group });
    await clients!.next("armed", 10_000);
    const t0 = now();
    edit();
    clients!.send({ cmd: "await-change", group, expectEds: expect.eds ?? [], expectRds: expect.rds ?? [], timeoutMs: p.timeoutMs, settleMs: 100 });
    const changed = await clients!.next("changed", p.timeoutMs + 5_000);
    return { changed, t0 };
  };

  try {
    phase = "start-up";
    server = await ServerProcess.start(dir.dir, p.timeoutMs);
    out.readyMs = now() - server.startedAt;
    atReady = server.sample();
    clients = new ClientProcess();
    await clients.next("ready", 30_000);

    // The anchor (proxy 0) makes the first view, so the heap per proxy below is what one more proxy costs.
    phase = "anchor proxy";
    clients.send({
      cmd: "connect",
      group: "anchor",
      address: server.xdsAddress,
      count: 1,
      firstIndex: 0,
      timeoutMs: p.timeoutMs,
      selfCheck: true,
      labels: p.labels,
      services: p.services,
    });
    await clients.next("synced", p.timeoutMs + 5_000);
    const heap0 = await server.heapAfterGc();

    phase = `full sync of ${p.proxies - 1} proxies`;
    const cpu0 = server.sample().cpuS;
    const s0 = now();
    clients.send({
      cmd: "connect",
      group,
      address: server.xdsAddress,
      count: p.proxies - 1,
      firstIndex: 1,
      timeoutMs: p.timeoutMs,
      selfCheck: true,
      labels: p.labels,
      services: p.services,
    });
    const synced = await clients.next("synced", p.timeoutMs + 5_000);
    const atSync = server.sample();
    out.syncMs = Math.max(...synced.syncedAt) - s0;
    out.syncBytes = total(synced.totals);
    out.cpuToSyncS = atSync.cpuS;
    out.syncCpuS = atSync.cpuS - cpu0;
    const heap1 = await server.heapAfterGc();
    out.heapPerProxy = (heap1.heap + heap1.buffers - heap0.heap - heap0.buffers) / (p.proxies - 1);
    log(`    in sync after ${(out.syncMs / 1000).toFixed(1)} s (${(out.syncBytes / 2 ** 20).toFixed(0)} MiB), server CPU ${out.syncCpuS.toFixed(1)} s`);

    phase = "endpoint changes";
    let epBytes = 0;
    for (let r = 0; r < p.changes; r++) {
      const svc = (r * 7 + 3) % p.services;
      const expectEds = expectEdsOf(svc);
      await sleep(QUIET_MS);
      const { changed, t0 } = await tracked(() => dir.endpointChange(svc), { eds: expectEds });
      const others = SHORT_TYPES.filter((t) => t !== "eds").reduce((a, t) => a + changed.sinceArm[t].msgs, 0);
      if (others !== 0) throw new Error(`bench: an endpoint change sent ${others} non-EDS responses: ${JSON.stringify(changed.sinceArm)}`);
      if (changed.edsNames.join(",") !== expectEds.join(","))
        throw new Error(`bench: an endpoint change carried ${changed.edsNames.join(", ")}, expected ${expectEds.join(", ")}`);
      out.endpointLatencies.push(...changed.receivedAt.map((t) => t - t0));
      epBytes += total(changed.sinceArm);
    }
    out.endpointBytesPerProxy = epBytes / p.changes / (p.proxies - 1);

    phase = "VirtualService edits";
    let vsBytes = 0;
    for (let r = 0; r < p.changes; r++) {
      const svc = (r * 11 + 1) % p.services;
      await sleep(QUIET_MS);
      const { changed, t0 } = await tracked(() => dir.weightEdit(svc), { rds: [String(SERVICE_PORT)] });
      out.vsLatencies.push(...changed.receivedAt.map((t) => t - t0));
      vsBytes += total(changed.sinceArm);
    }
    out.vsBytesTotal = vsBytes / p.changes;
    out.vsBytesPerProxy = out.vsBytesTotal / (p.proxies - 1);

    if (p.soakS > 0) {
      phase = `soak (${p.soakS} s)`;
      soak = await runSoak(p, dir, server);
      phase = "the change after the soak";
      await sleep(QUIET_MS);
      const svc = p.services - 1;
      await tracked(() => dir.endpointChange(svc), { eds: expectEdsOf(svc) });
    }
  } catch (e) {
    if (!(e instanceof ClientFailure) && !(e instanceof Error && /not ready|did not report/.test(e.message))) throw e;
    failed = { phase, message: e.message };
    log(`    FAILED during ${phase}: ${e.message}`);
  } finally {
    try {
      if (server) last = server.sample();
    } catch {
      // the server is gone: its figures stay what was sampled before
    }
    await clients?.stop();
    await server?.stop();
    dir.remove();
  }
  return {
    params,
    ...(failed ? { failed } : {}),
    ...(atReady ? { atReady } : {}),
    ...out,
    ...(soak ? { soak } : {}),
    peakRss: last?.peakRssBytes ?? NaN,
    cpuS: last?.cpuS ?? NaN,
  };
}

/** One change per second (nine endpoint changes, then a VirtualService edit), the server sampled every second. */
async function runSoak(p: ScenarioParams, dir: ConfigDir, server: ServerProcess): Promise<Soak> {
  const samples: { t: number; s: ProcSample }[] = [];
  const t0 = now();
  let changes = 0;
  for (let k = 0; k < p.soakS; k++) {
    const due = t0 + k * 1000;
    await sleep(Math.max(0, due - now()));
    if (k % 10 === 9) dir.weightEdit((k * 13) % p.services);
    else dir.endpointChange((k * 17 + 5) % p.services);
    changes++;
    samples.push({ t: now(), s: server.sample() });
    if (k % 60 === 59) p.log(`    soak: ${k + 1} s, RSS ${(server.sample().rssBytes / 2 ** 20).toFixed(0)} MiB`);
  }
  await sleep(Math.max(0, t0 + p.soakS * 1000 - now()));
  samples.push({ t: now(), s: server.sample() });
  const first = samples[0]!;
  const lastS = samples[samples.length - 1]!;
  const steady = samples.slice(Math.floor(samples.length / 10));
  return {
    seconds: (lastS.t - first.t) / 1000,
    changes,
    cores: (lastS.s.cpuS - first.s.cpuS) / ((lastS.t - first.t) / 1000),
    rssSlope: slope(steady.map((x) => ({ x: (x.t - t0) / 60_000, y: x.s.rssBytes }))),
    rssFirst: first.s.rssBytes,
    rssLast: lastS.s.rssBytes,
    rssMax: Math.max(...samples.map((x) => x.s.rssBytes)),
  };
}
