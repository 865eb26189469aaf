// One row of section 5 (workloads.ts), in a process of its own so that its peak RSS and CPU are
// its own: a ControlPlane + XdsServer holding the generated mesh, N delta ADS clients (in the
// push bench's client process) whose pod labels are alike, all distinct, or in 10 groups, then
//   - full sync: from opening the N streams until every client holds CDS, EDS, LDS and RDS;
//   - an endpoint change (EDS fast path) until every client got both changed CLAs;
//   - a VirtualService weight edit (a full rebuild) until every client got the route config;
// and the server's CPU seconds over those three, its peak RSS and peak heap (sampled).
// Parameters come as JSON in argv[2]; the result goes to the parent over IPC. Every wait is bounded.
import { pino } from "pino";
import { outboundClusterName, serviceFqdn } from "../../src/model/names.js";
import { ControlPlane, type BuildStats } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { XdsServer } from "../../src/xds/server.js";
import { generateMesh, inputOf, namespaceOf, serviceName, SERVICE_PORT, withEndpointChange, withWeightEdit, type LabelMode } from "./mesh.js";
import { ClientFailure, ClientProcess, waitConnected } from "./push.js";

export interface RowParams {
  readonly services: number;
  readonly clients: number;
  readonly labels: LabelMode;
  readonly timeoutMs: number;
}

export interface RowResult {
  readonly params: RowParams;
  /** Distinct translations and node classes after the full sync. */
  readonly views: number;
  readonly classes: number;
  /** Shared outbound translations the views are composed of (BuildStats.outboundKeys). */
  readonly outboundKeys: number;
  /** Shared parts the VirtualService edit translated again, and views whose own part it did. */
  readonly vsOutboundTranslations: number;
  readonly vsOwnTranslations: number;
  readonly syncMs: number;
  readonly endpointMs: number;
  readonly vsEditMs: number;
  /** ControlPlane.update() of the VirtualService edit alone (synchronous: model, every view, encode). */
  readonly vsUpdateMs: number;
  readonly cpuS: number;
  readonly peakRssBytes: number;
  readonly peakHeapBytes: number;
  /** Set when a phase did not finish: the figures of later phases are NaN. */
  readonly failed?: string;
}

export type RowMessage = { readonly event: "result"; readonly result: RowResult } | { readonly event: "error"; readonly message: string };

const now = (): number => performance.timeOrigin + performance.now();

async function runRow(p: RowParams): Promise<RowResult> {
  let gen = generateMesh(p.services, "basic");
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
  cp.update(inputOf(gen), "all");
  const server = new XdsServer({ cache, views: cp, logger: pino({ level: "silent" }) });
  const address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
  const clients = new ClientProcess();
  let peakRss = 0;
  let peakHeap = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const sampler = setInterval(sample, 50);
  const out = {
    syncMs: NaN,
    endpointMs: NaN,
    vsEditMs: NaN,
    vsUpdateMs: NaN,
    views: NaN,
    classes: NaN,
    outboundKeys: NaN,
    vsOutboundTranslations: NaN,
    vsOwnTranslations: NaN,
  };
  let failed: string | undefined;
  const cpu0 = process.cpuUsage();
  try {
    await clients.next("ready", 30_000);
    const s0 = now();
    clients.send({
      cmd: "connect",
      group: "g",
      address,
      count: p.clients,
      firstIndex: 0,
      timeoutMs: p.timeoutMs,
      selfCheck: true,
      labels: p.labels,
      services: p.services,
    });
    const synced = await clients.next("synced", p.timeoutMs + 5_000);
    out.syncMs = Math.max(...synced.syncedAt) - s0;
    await waitConnected(server, p.clients, 10_000);

    // Endpoint 0 (a v1 pod) of service 0 goes not ready: the EDS fast path.
    const host = serviceFqdn(serviceName(0), namespaceOf(0));
    const expectEds = [outboundClusterName(SERVICE_PORT, undefined, host), outboundClusterName(SERVICE_PORT, "v1", host)].sort();
    gen = withEndpointChange(gen, 0, new Set([0]));
    clients.send({ cmd: "arm", group: "g" });
    await clients.next("armed", 10_000);
    const c0 = now();
    const stats = cp.update(inputOf(gen), new Set(["EndpointSlice"]));
    if (!stats.fastPath) throw new Error("bench: the EndpointSlice change did not take the EDS fast path");
    // Views are made as proxies connect; an update reports how many there are.
    out.views = stats.views;
    out.classes = (stats as Partial<BuildStats>).classes ?? NaN;
    out.outboundKeys = (stats as Partial<BuildStats>).outboundKeys ?? NaN;
    clients.send({ cmd: "await-change", group: "g", expectEds, timeoutMs: p.timeoutMs, settleMs: 0 });
    const changed = await clients.next("changed", p.timeoutMs + 5_000);
    out.endpointMs = Math.max(...changed.receivedAt) - c0;

    // The VirtualService of service 1 moves from 90/10 to 80/20: one route in route config 8080.
    gen = withWeightEdit(gen, 1, 80);
    clients.send({ cmd: "arm", group: "g" });
    await clients.next("armed", 10_000);
    const v0 = now();
    const edit: Partial<BuildStats> = cp.update(inputOf(gen), new Set(["VirtualService"]));
    out.vsUpdateMs = now() - v0;
    out.vsOutboundTranslations = edit.outboundTranslations ?? NaN;
    out.vsOwnTranslations = edit.ownTranslations ?? NaN;
    clients.send({ cmd: "await-change", group: "g", expectEds: [], expectRds: [String(SERVICE_PORT)], timeoutMs: p.timeoutMs, settleMs: 0 });
    const edited = await clients.next("changed", p.timeoutMs + 5_000);
    out.vsEditMs = Math.max(...edited.receivedAt) - v0;
  } catch (e) {
    if (!(e instanceof ClientFailure)) throw e;
    failed = e.message;
  } finally {
    clearInterval(sampler);
    sample();
    await clients.stop();
    await server.close(2_000);
  }
  const cpu = process.cpuUsage(cpu0);
  // resourceUsage().maxRSS is in kilobytes: the process's true peak, between our samples too.
  const peakRssBytes = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  return { params: p, ...out, cpuS: (cpu.user + cpu.system) / 1e6, peakRssBytes, peakHeapBytes: peakHeap, ...(failed ? { failed } : {}) };
}

const params = JSON.parse(process.argv[2] ?? "{}") as RowParams;
runRow(params).then(
  (result) => void process.send?.({ event: "result", result } satisfies RowMessage, () => process.exit(0)),
  (e: unknown) => void process.send?.({ event: "error", message: (e as Error).stack ?? String(e) } satisfies RowMessage, () => process.exit(1)),
);
