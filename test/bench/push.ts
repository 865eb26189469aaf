// Section 2: the whole control plane on loopback. An XdsServer serves a ControlPlane holding a
// synthetic mesh; a forked client process (push-clients.ts) opens K delta ADS streams, each on
// its own connection, and behaves like Envoy. Measured per K:
//   - time until every client holds the full snapshot (CDS, EDS, LDS, RDS);
//   - time until every client received an endpoint-only change, asserting that the change moved
//     only EDS bytes (no CDS/LDS/RDS response at all) and only the ClusterLoadAssignments that changed;
//   - the server's heap per connected proxy (heapUsed after GC, delta / K).
// One "anchor" client stays connected throughout, so the view (one snapshot shared by all
// clients) exists before each round and its cost is measured once, apart from the per-proxy cost.
import { fork, type ChildProcess } from "node:child_process";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { outboundClusterName, serviceFqdn } from "../../src/model/names.js";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { XdsServer } from "../../src/xds/server.js";
import { benchNode, generateMesh, inputOf, namespaceOf, serviceName, SERVICE_PORT, withEndpointChange, type GeneratedMesh, type Variant } from "./mesh.js";
import { TYPE_URL_OF } from "../../src/loadgen/counts.js";
import { routeForm } from "../../src/xds/route-form.js";
import { SHORT_TYPES, type Counts, type FromClients, type ShortType, type ToClients } from "./push-protocol.js";
import { bytes, median, minus, ms, retainedAfterGc, sleep, type Table } from "./report.js";

const now = (): number => performance.timeOrigin + performance.now();
const silent = pino({ level: "silent" });

export interface PushRound {
  readonly clients: number;
  readonly syncMaxMs: number;
  readonly syncP50Ms: number;
  readonly syncBytesPerClient: number;
  readonly syncServerCpuMs: number;
  readonly syncClientCpuMs: number;
  /** Longest event-loop stall of the server / client process during the full sync. */
  readonly syncServerLoopMaxMs: number;
  readonly syncClientLoopMaxMs: number;
  readonly heapPerProxy: number;
  readonly buffersPerProxy: number;
  readonly updateMs: number;
  readonly changeMaxMs: number;
  readonly changeP50Ms: number;
  readonly changeEdsBytesPerClient: number;
  readonly changeEdsResourcesPerClient: number;
  readonly changeOtherBytes: number;
}

export interface PushResult {
  readonly services: number;
  readonly variant: Variant;
  readonly coldFirstProxyMs: number;
  /** heap + buffers the first proxy's view added. */
  readonly viewHeap: number;
  readonly snapshotBytes: Record<ShortType, number>;
  readonly snapshotResources: Record<ShortType, number>;
  readonly rounds: PushRound[];
  /** Client counts not run because their estimated full sync exceeded maxEstimatedSyncMs. */
  readonly skipped: number[];
  /** A round the clients could not finish (later rounds of this mesh are then skipped). */
  readonly failed?: { readonly clients: number; readonly phase: string; readonly message: string; readonly serverLoopMaxMs: number };
}

/** The client side gave up (a stream dropped, a wait timed out): reported as a result, not a crash. */
export class ClientFailure extends Error {}

/** Request/response over the IPC channel, one at a time, every wait bounded. */
export class ClientProcess {
  private readonly child: ChildProcess;
  private waiter: { resolve: (m: FromClients) => void; reject: (e: Error) => void } | undefined;
  private readonly early: FromClients[] = [];
  private exited = false;

  constructor() {
    this.child = fork(fileURLToPath(new URL("./push-clients.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx", "--max-old-space-size=8192", ...(process.env["BENCH_CLIENT_NODE_ARGS"]?.split(" ").filter(Boolean) ?? [])],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child.on("message", (m: FromClients) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (!w) this.early.push(m);
      else if (m.event === "error") w.reject(new ClientFailure(m.message));
      else w.resolve(m);
    });
    this.child.on("exit", (code) => {
      this.exited = true;
      this.waiter?.reject(new ClientFailure(`the client process exited (code ${code})`));
      this.waiter = undefined;
    });
  }

  next<E extends FromClients["event"]>(event: E, timeoutMs: number): Promise<Extract<FromClients, { event: E }>> {
    const got = this.early.shift();
    const p = got
      ? Promise.resolve(got)
      : new Promise<FromClients>((resolve, reject) => {
          if (this.exited) return reject(new ClientFailure("the client process is gone"));
          this.waiter = { resolve, reject };
        });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new ClientFailure(`no "${event}" from the client process within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    return Promise.race([p, timeout])
      .finally(() => clearTimeout(timer))
      .then((m) => {
        if (m.event === "error") throw new ClientFailure(m.message);
        if (m.event !== event) throw new Error(`bench: expected "${event}" from the client process, got "${m.event}"`);
        return m as Extract<FromClients, { event: E }>;
      });
  }

  send(m: ToClients): void {
    this.child.send(m);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.send({ cmd: "exit" });
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await gone;
    clearTimeout(t);
  }
}

export async function waitConnected(server: XdsServer, n: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (server.connectedProxies !== n) {
    if (performance.now() > deadline) throw new Error(`bench: server still has ${server.connectedProxies} streams, expected ${n}, after ${timeoutMs} ms`);
    await sleep(20);
  }
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

function totalBytes(c: Counts): number {
  return SHORT_TYPES.reduce((a, t) => a + c[t].bytes, 0);
}

export interface PushOptions {
  readonly services: number;
  readonly variant: Variant;
  readonly clientCounts: readonly number[];
  /** Bound for one round's full sync. */
  readonly syncTimeoutMs: number;
  /**
   * Skip a round whose full sync, extrapolated linearly from the previous round, would take
   * longer than this (the machine is shared; the bench must stay bounded). Skipped counts are returned.
   */
  readonly maxEstimatedSyncMs: number;
  readonly log: (s: string) => void;
}

export async function runPush(o: PushOptions): Promise<PushResult> {
  let gen: GeneratedMesh = generateMesh(o.services, o.variant);
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: silent });
  cp.update(inputOf(gen), "all");
  // Server-side timestamps: when each proxy's stream was bound, and its last write per type.
  const serverSeen = { connectAt: [] as number[], lastPushAt: { cds: 0, eds: 0, lds: 0, rds: 0, vhds: 0 } as Record<ShortType, number>, pushes: 0 };
  const server = new XdsServer({
    cache,
    views: cp,
    logger: silent,
    observer: {
      onConnect: () => void serverSeen.connectAt.push(now()),
      onPush: (type) => {
        if (type === "sds") return; // the generated meshes name no credentials
        serverSeen.lastPushAt[type] = now();
        serverSeen.pushes++;
      },
    },
  });
  const port = await server.listen("127.0.0.1:0");
  const address = `127.0.0.1:${port}`;
  const clients = new ClientProcess();
  const rounds: PushRound[] = [];
  try {
    await clients.next("ready", 30_000);
    const heapNoView = retainedAfterGc();

    // The anchor: first proxy of the view (cold: translate + encode + push), kept connected.
    const t0 = now();
    clients.send({ cmd: "connect", group: "anchor", address, count: 1, firstIndex: 0, timeoutMs: o.syncTimeoutMs, selfCheck: true });
    const anchor = await clients.next("synced", o.syncTimeoutMs + 5_000);
    const coldFirstProxyMs = anchor.syncedAt[0]! - t0;
    const viewRetained = minus(retainedAfterGc(), heapNoView);
    const viewHeap = viewRetained.heap + viewRetained.buffers;
    const key = cp.viewKey({ ...benchNode(0) });
    if ("error" in key) throw new Error(key.error);
    const snap = cache.get(key.key);
    if (!snap || cache.keys().length !== 1) throw new Error(`bench: expected exactly one view snapshot, found ${cache.keys().length}`);
    // The view as the clients' streams see it (delta streams of an Envoy that takes VHDS: route configurations in their VHDS form).
    const form = routeForm(snap, true);
    const snapshotResources = Object.fromEntries(SHORT_TYPES.map((t) => [t, form.resources.get(TYPE_URL_OF[t])?.size ?? 0])) as Record<ShortType, number>;
    const snapshotBytes = Object.fromEntries(
      SHORT_TYPES.map((t) => [t, [...(form.resources.get(TYPE_URL_OF[t])?.values() ?? [])].reduce((a, r) => a + r.body.length, 0)]),
    ) as Record<ShortType, number>;
    o.log(`  push: ${o.services} services, anchor synced in ${ms(coldFirstProxyMs)} ms (cold view), view heap ${bytes(viewHeap)}`);

    let firstIndex = 1;
    const skipped: number[] = [];
    let failed: PushResult["failed"];
    for (const [round, k] of o.clientCounts.entries()) {
      const last = rounds[rounds.length - 1];
      const estimate = last ? (last.syncMaxMs * k) / last.clients : 0;
      if (failed || skipped.length > 0 || estimate > o.maxEstimatedSyncMs) {
        if (failed) {
          skipped.push(k);
          continue;
        }
        o.log(`  push: skipping ${k} clients on ${o.services} services: estimated full sync ${ms(estimate)} ms > ${o.maxEstimatedSyncMs} ms`);
        skipped.push(k);
        continue;
      }
      const group = `round-${round}`;
      const heap0 = retainedAfterGc();
      const cpu0 = process.cpuUsage();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      serverSeen.connectAt.length = 0;
      const s0 = now();
      clients.send({ cmd: "connect", group, address, count: k, firstIndex, timeoutMs: o.syncTimeoutMs, selfCheck: true });
      firstIndex += k;
      let synced: Extract<FromClients, { event: "synced" }>;
      try {
        synced = await clients.next("synced", o.syncTimeoutMs + 5_000);
      } catch (e) {
        loop.disable();
        if (!(e instanceof ClientFailure)) throw e;
        failed = { clients: k, phase: "full sync", message: e.message, serverLoopMaxMs: loop.max / 1e6 };
        o.log(`  push: ${k} clients FAILED during full sync: ${e.message} (longest server event-loop stall ${ms(failed.serverLoopMaxMs)} ms)`);
        continue;
      }
      const syncServerCpuMs = cpuMs(cpu0);
      loop.disable();
      const syncServerLoopMaxMs = loop.max / 1e6;
      const syncTimes = synced.syncedAt.map((t) => t - s0);
      o.log(
        `    server (ms from connect): last stream bound ${ms(Math.max(...serverSeen.connectAt) - s0)}, last write ${SHORT_TYPES.map((t) => `${t} ${ms(serverSeen.lastPushAt[t] - s0)}`).join(", ")}`,
      );
      o.log(
        `    phases (max over clients, ms from connect): opened ${ms(Math.max(...synced.startedAt) - s0)}, ${SHORT_TYPES.map((t) => `${t} ${ms(Math.max(...synced.firstAt[t]) - s0)}`).join(", ")}, synced ${ms(Math.max(...syncTimes))}`,
      );
      for (const t of SHORT_TYPES) {
        if (synced.minResources[t] < snapshotResources[t])
          throw new Error(`bench: a client got ${synced.minResources[t]} ${t} resources, the snapshot has ${snapshotResources[t]}`);
      }
      await waitConnected(server, k + 1, 10_000);
      const perProxy = minus(retainedAfterGc(), heap0);
      const heapPerProxy = perProxy.heap / k;
      const buffersPerProxy = perProxy.buffers / k;

      // Endpoint-only change: endpoint 0 (a v1 pod) of one service goes not ready.
      const svc = round % o.services;
      gen = withEndpointChange(gen, svc, new Set([0]));
      const host = serviceFqdn(serviceName(svc), namespaceOf(svc));
      const expectEds = [outboundClusterName(SERVICE_PORT, undefined, host), outboundClusterName(SERVICE_PORT, "v1", host)].sort();
      const input = inputOf(gen);
      clients.send({ cmd: "arm", group });
      await clients.next("armed", 10_000);
      const c0 = now();
      const stats = cp.update(input, new Set(["EndpointSlice"]));
      const updateMs = now() - c0;
      if (!stats.fastPath) throw new Error("bench: the EndpointSlice change did not take the EDS fast path");
      clients.send({ cmd: "await-change", group, expectEds, timeoutMs: o.syncTimeoutMs, settleMs: 300 });
      let changed: Extract<FromClients, { event: "changed" }>;
      try {
        changed = await clients.next("changed", o.syncTimeoutMs + 5_000);
      } catch (e) {
        if (!(e instanceof ClientFailure)) throw e;
        failed = { clients: k, phase: "endpoint change", message: e.message, serverLoopMaxMs: NaN };
        o.log(`  push: ${k} clients FAILED during the endpoint change: ${e.message}`);
        continue;
      }
      const changeTimes = changed.receivedAt.map((t) => t - c0);

      // The assertion the EDS fast path exists for: only EDS moved, and only what changed.
      const other = totalBytes(changed.sinceArm) - changed.sinceArm.eds.bytes;
      const otherMsgs = SHORT_TYPES.filter((t) => t !== "eds").reduce((a, t) => a + changed.sinceArm[t].msgs, 0);
      if (other !== 0 || otherMsgs !== 0)
        throw new Error(`bench: the endpoint change sent ${otherMsgs} non-EDS responses (${other} bytes): ${JSON.stringify(changed.sinceArm)}`);
      if (changed.sinceArm.eds.bytes === 0 || changed.sinceArm.eds.msgs !== k)
        throw new Error(`bench: expected one EDS response per client (${k}), got ${changed.sinceArm.eds.msgs}`);
      if (changed.edsNames.join(",") !== expectEds.join(","))
        throw new Error(`bench: the endpoint change carried ${changed.edsNames.join(", ")}, expected ${expectEds.join(", ")}`);
      if (changed.sinceArm.eds.resources !== k * expectEds.length)
        throw new Error(`bench: the endpoint change carried ${changed.sinceArm.eds.resources} CLAs over ${k} clients, expected ${k * expectEds.length}`);

      const r: PushRound = {
        clients: k,
        syncMaxMs: Math.max(...syncTimes),
        syncP50Ms: median(syncTimes),
        syncBytesPerClient: totalBytes(synced.totals) / k,
        syncServerCpuMs,
        syncClientCpuMs: synced.clientCpuMs,
        syncServerLoopMaxMs,
        syncClientLoopMaxMs: synced.loopMaxMs,
        heapPerProxy,
        buffersPerProxy,
        updateMs,
        changeMaxMs: Math.max(...changeTimes),
        changeP50Ms: median(changeTimes),
        changeEdsBytesPerClient: changed.sinceArm.eds.bytes / k,
        changeEdsResourcesPerClient: changed.sinceArm.eds.resources / k,
        changeOtherBytes: other,
      };
      rounds.push(r);
      o.log(`  push: ${k} clients: full sync ${ms(r.syncMaxMs)} ms, endpoint change ${ms(r.changeMaxMs)} ms, heap/proxy ${bytes(r.heapPerProxy)}`);

      clients.send({ cmd: "close", group });
      await clients.next("closed", 10_000);
      await waitConnected(server, 1, 15_000);
    }
    if (!failed) {
      clients.send({ cmd: "close", group: "anchor" });
      await clients.next("closed", 10_000);
      await waitConnected(server, 0, 15_000);
    }
    return {
      services: o.services,
      variant: o.variant,
      coldFirstProxyMs,
      viewHeap,
      snapshotBytes,
      snapshotResources,
      rounds,
      skipped,
      ...(failed ? { failed } : {}),
    };
  } finally {
    await clients.stop();
    await server.close(2_000);
  }
}

export function pushTable(results: readonly PushResult[]): Table {
  return {
    title: "2. Push over loopback: delta ADS clients sharing one view (real gRPC streams, one connection each)",
    header: [
      "services",
      "clients",
      "full sync all ms",
      "p50 ms",
      "MiB/client",
      "server CPU ms",
      "client CPU ms",
      "max stall srv/cli ms",
      "EDS change all ms",
      "p50 ms",
      "update() ms",
      "EDS B/client",
      "CLAs/client",
      "non-EDS B",
      "heap/proxy",
      "buffers/proxy",
    ],
    rows: results.flatMap((res) => [
      ...res.rounds.map((r) => [
        res.services,
        r.clients,
        ms(r.syncMaxMs),
        ms(r.syncP50Ms),
        (r.syncBytesPerClient / 1024 / 1024).toFixed(2),
        ms(r.syncServerCpuMs),
        ms(r.syncClientCpuMs),
        `${ms(r.syncServerLoopMaxMs)}/${ms(r.syncClientLoopMaxMs)}`,
        ms(r.changeMaxMs),
        ms(r.changeP50Ms),
        ms(r.updateMs),
        Math.round(r.changeEdsBytesPerClient),
        r.changeEdsResourcesPerClient,
        r.changeOtherBytes,
        bytes(r.heapPerProxy),
        bytes(r.buffersPerProxy),
      ]),
      ...(res.failed
        ? [
            [
              res.services,
              res.failed.clients,
              `FAILED (${res.failed.phase})`,
              "-",
              "-",
              "-",
              "-",
              `${ms(res.failed.serverLoopMaxMs)}/-`,
              "-",
              "-",
              "-",
              "-",
              "-",
              "-",
              "-",
              "-",
            ],
          ]
        : []),
    ]),
    notes: [
      ...results.flatMap((res) =>
        res.failed
          ? [
              `FAILED: ${res.failed.clients} clients on the ${res.services}-service mesh, ${res.failed.phase}: ${res.failed.message}.`,
              ...(/dropped/i.test(res.failed.message)
                ? [
                    "  (The server's keepalive pings every 30 s and drops a connection whose ack it has not processed within 10 s: an event-loop stall that long drops healthy proxies.)",
                  ]
                : []),
            ]
          : [],
      ),
      ...results
        .filter((res) => res.skipped.length > 0)
        .map(
          (res) =>
            `NOT RUN: ${res.skipped.join(", ")} clients on the ${res.services}-service mesh (${res.failed ? "after the failure above" : "estimated too long for the bench budget on this machine now"}); see the smaller mesh's rows.`,
        ),
      ...results.map(
        (res) =>
          `${res.services}-service ${res.variant} mesh: snapshot ${SHORT_TYPES.map((t) => `${t.toUpperCase()} ${res.snapshotResources[t]} (${bytes(res.snapshotBytes[t])})`).join(", ")}; first proxy of the view (cold: translate+encode+push) ${ms(res.coldFirstProxyMs)} ms; view heap ${bytes(res.viewHeap)}.`,
      ),
      "Clients: a separate forked Node process on the same 2 cores (the load generator's delta clients, claiming Envoy 1.40: CDS/LDS wildcard, EDS/RDS by name, VHDS by wildcard, ACK each; 256 MiB HTTP/2 windows as Envoy).",
      "full sync = from opening the streams until the last client holds CDS+EDS+LDS+RDS and the VHDS virtual hosts; EDS change = from ControlPlane.update() until the last client got both changed CLAs.",
      "Asserted per round: only EDS responses after the endpoint change (non-EDS B = 0), exactly the 2 changed ClusterLoadAssignments per client, every client got every resource of the snapshot.",
      "max stall = longest event-loop delay of the server / client process during the full sync (monitorEventLoopDelay).",
      "update() ms = the synchronous ControlPlane.update (EDS fast path: changed endpoints, endpoint analyzer, changed CLAs); streams then write on later event-loop turns (xds/push-scheduler.ts).",
      "heap/proxy = server heapUsed delta after GC / clients, view already built (an anchor client stays connected); buffers/proxy = ArrayBuffer memory (outside heapUsed) per client; native HTTP/2 state is in neither.",
    ],
  };
}
