// The push bench's client process: many delta ADS clients, each on its own gRPC channel (its own
// TCP connection, as one Envoy per pod would have), behaving like Envoy on ADS:
//   CDS subscribe "*" (with the node) → ACK, subscribe EDS for every EDS cluster's service name
//   → on the first EDS answer, LDS subscribe "*" → ACK, subscribe RDS for every route config the
//   listeners' HTTP connection managers name → ACK every response.
// A client "holds the full snapshot" once CDS and LDS arrived and every EDS/RDS name it asked for
// was received. Responses are read with a minimal wire reader (wire.ts); one client per group
// can also decode everything with the generated schemas and cross-check the reader.
//
// It runs in its own process (forked by push.ts) so that the server's heap is measured alone and
// the clients use the second core. Every wait is bounded.
import { create, fromBinary, toBinary, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { Client, credentials, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { ClusterSchema } from "../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { benchNode, type LabelMode } from "./mesh.js";
import { emptyCounts, type Counts, type FromClients, type ShortType, type ToClients } from "./push-protocol.js";
import { edsServiceName, listenerRouteNames, readDeltaResponse, type DeltaSummary } from "./wire.js";

const DELTA_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
const POLL_MS = 5;
/** Envoy's default HTTP/2 initial_stream_window_size and initial_connection_window_size. */
const ENVOY_HTTP2_WINDOW = 256 * 1024 * 1024;

const SHORT: Readonly<Record<string, ShortType>> = {
  [TYPE_URL.cluster]: "cds",
  [TYPE_URL.endpoint]: "eds",
  [TYPE_URL.listener]: "lds",
  [TYPE_URL.route]: "rds",
};

const now = (): number => performance.timeOrigin + performance.now();

// Thousands of clients learn the same names: keep one copy of each string.
const interned = new Map<string, string>();
function intern(s: string): string {
  const old = interned.get(s);
  if (old !== undefined) return old;
  interned.set(s, s);
  return s;
}

type RequestInit = MessageInitShape<typeof DeltaDiscoveryRequestSchema>;

class LeanClient {
  private readonly client: Client;
  private readonly call: ClientDuplexStream<Uint8Array, Buffer>;
  private readonly edsSubscribed = new Set<string>();
  private readonly rdsSubscribed = new Set<string>();
  /** Subscribed but not received yet. */
  private readonly edsPending = new Set<string>();
  private readonly rdsPending = new Set<string>();
  private gotCds = false;
  private gotLds = false;
  private ldsRequested = false;
  syncedAt: number | undefined;
  /** When the first response of each type arrived. */
  readonly firstAt: Partial<Record<ShortType, number>> = {};
  readonly startedAt = now();
  error: string | undefined;
  closing = false;
  readonly counts: Counts = emptyCounts();
  armed = false;
  sinceArm: Counts = emptyCounts();
  /** EDS name → when it first arrived after "arm". */
  armedEds = new Map<string, number>();
  /** RDS name → when it first arrived after "arm". */
  armedRds = new Map<string, number>();

  constructor(
    address: string,
    private readonly index: number,
    private readonly selfCheck: boolean,
    private readonly labels: LabelMode = "identical",
    private readonly services = 1,
  ) {
    // A local subchannel pool: otherwise grpc-js would share one connection between channels.
    // HTTP/2 windows as Envoy's defaults (256 MiB stream and connection windows); grpc-js' own
    // 64 KiB default would make the client, not the server, the bottleneck.
    this.client = new Client(address, credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.use_local_subchannel_pool": 1,
      "grpc-node.flow_control_window": ENVOY_HTTP2_WINDOW,
    });
    this.call = this.client.makeBidiStreamRequest<Uint8Array, Buffer>(
      DELTA_PATH,
      (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      (b) => b,
    );
    this.call.on("data", (b: Buffer) => this.onData(b));
    this.call.on("error", (e: ServiceError) => {
      if (!this.closing) this.error = `client ${this.index}: stream error ${e.code}: ${e.details}`;
    });
    this.call.on("status", (s: { code: number; details: string }) => {
      if (!this.closing && this.error === undefined) this.error = `client ${this.index}: stream ended (${s.code}: ${s.details})`;
    });
    const node = benchNode(this.index, this.labels, this.services);
    this.send({
      node: { id: node.id, cluster: node.cluster, metadata: node.metadata as JsonObject },
      typeUrl: TYPE_URL.cluster,
      resourceNamesSubscribe: ["*"],
    });
  }

  private send(init: RequestInit): void {
    this.call.write(toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, init)));
  }

  private onData(buf: Buffer): void {
    try {
      this.handle(buf);
    } catch (e) {
      this.error = `client ${this.index}: ${(e as Error).message}`;
    }
  }

  private handle(buf: Buffer): void {
    const r = readDeltaResponse(buf);
    const type = SHORT[r.typeUrl];
    if (!type) throw new Error(`response of unexpected type ${r.typeUrl}`);
    if (this.selfCheck) crossCheck(buf, r);
    const at = now();
    this.firstAt[type] ??= at;
    for (const c of this.armed ? [this.counts, this.sinceArm] : [this.counts]) {
      const t = c[type];
      t.msgs++;
      t.bytes += buf.length;
      t.resources += r.resources.length;
      t.removed += r.removed.length;
    }
    this.send({ typeUrl: r.typeUrl, responseNonce: r.nonce }); // ACK, as Envoy does once applied
    switch (type) {
      case "cds": {
        this.gotCds = true;
        const fresh: string[] = [];
        for (const res of r.resources) {
          const svc = edsServiceName(res.body);
          if (svc === undefined || this.edsSubscribed.has(svc)) continue;
          const name = intern(svc);
          this.edsSubscribed.add(name);
          this.edsPending.add(name);
          fresh.push(name);
        }
        if (fresh.length) this.send({ typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: fresh });
        if (this.edsSubscribed.size === 0) this.requestListeners();
        break;
      }
      case "eds":
        for (const res of r.resources) {
          this.edsPending.delete(res.name);
          if (this.armed && !this.armedEds.has(res.name)) this.armedEds.set(intern(res.name), at);
        }
        this.requestListeners(); // Envoy asks for listeners once its clusters are initialized
        break;
      case "lds": {
        this.gotLds = true;
        const fresh: string[] = [];
        for (const res of r.resources) {
          for (const rn of listenerRouteNames(res.body)) {
            if (this.rdsSubscribed.has(rn)) continue;
            const name = intern(rn);
            this.rdsSubscribed.add(name);
            this.rdsPending.add(name);
            fresh.push(name);
          }
        }
        if (fresh.length) this.send({ typeUrl: TYPE_URL.route, resourceNamesSubscribe: fresh });
        break;
      }
      case "rds":
        for (const res of r.resources) {
          this.rdsPending.delete(res.name);
          if (this.armed && !this.armedRds.has(res.name)) this.armedRds.set(intern(res.name), at);
        }
        break;
    }
    if (this.syncedAt === undefined && this.gotCds && this.gotLds && this.edsPending.size === 0 && this.rdsPending.size === 0) this.syncedAt = at;
  }

  private requestListeners(): void {
    if (this.ldsRequested) return;
    this.ldsRequested = true;
    this.send({ typeUrl: TYPE_URL.listener, resourceNamesSubscribe: ["*"] });
  }

  arm(): void {
    this.armed = true;
    this.sinceArm = emptyCounts();
    this.armedEds = new Map();
    this.armedRds = new Map();
  }

  close(): void {
    this.closing = true;
    this.call.end();
    this.call.cancel();
    this.client.close();
  }
}

/** One client per group decodes fully and checks the wire reader against the generated schemas. */
function crossCheck(buf: Buffer, r: DeltaSummary): void {
  const full = fromBinary(DeltaDiscoveryResponseSchema, buf);
  const names = full.resources.map((x) => x.name).join(",");
  if (full.typeUrl !== r.typeUrl || full.nonce !== r.nonce || names !== r.resources.map((x) => x.name).join(","))
    throw new Error("self-check: the wire reader disagrees with the schema decoder");
  if (full.removedResources.join(",") !== r.removed.join(",")) throw new Error("self-check: removed_resources differ");
  if (r.typeUrl === TYPE_URL.cluster) {
    for (const x of full.resources) {
      const c = fromBinary(ClusterSchema, x.resource!.value);
      const expected = c.clusterDiscoveryType.case === "type" && c.clusterDiscoveryType.value === 3 ? c.edsClusterConfig?.serviceName || c.name : undefined;
      if (edsServiceName(x.resource!.value) !== expected) throw new Error(`self-check: EDS service name of ${c.name} differs`);
    }
  }
}

const groups = new Map<string, LeanClient[]>();

function reply(m: FromClients): void {
  process.send?.(m);
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

async function waitFor(clients: readonly LeanClient[], done: (c: LeanClient) => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const failed = clients.find((c) => c.error !== undefined);
    if (failed) throw new Error(failed.error);
    const left = clients.filter((c) => !done(c)).length;
    if (left === 0) return;
    if (performance.now() > deadline) throw new Error(`${left} of ${clients.length} clients did not ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function sum(clients: readonly LeanClient[], pick: (c: LeanClient) => Counts): Counts {
  const out = emptyCounts();
  for (const c of clients) {
    const x = pick(c);
    for (const t of Object.keys(out) as ShortType[]) {
      out[t].msgs += x[t].msgs;
      out[t].bytes += x[t].bytes;
      out[t].resources += x[t].resources;
      out[t].removed += x[t].removed;
    }
  }
  return out;
}

async function handle(m: ToClients): Promise<void> {
  switch (m.cmd) {
    case "connect": {
      const cpu = process.cpuUsage();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const clients: LeanClient[] = [];
      for (let i = 0; i < m.count; i++) clients.push(new LeanClient(m.address, m.firstIndex + i, m.selfCheck && i === 0, m.labels, m.services));
      groups.set(m.group, clients);
      await waitFor(clients, (c) => c.syncedAt !== undefined, m.timeoutMs, "hold the full snapshot").finally(() => loop.disable());
      const min = (t: ShortType): number => Math.min(...clients.map((c) => c.counts[t].resources));
      reply({
        event: "synced",
        group: m.group,
        syncedAt: clients.map((c) => c.syncedAt!),
        firstAt: {
          cds: clients.map((c) => c.firstAt.cds!),
          eds: clients.map((c) => c.firstAt.eds!),
          lds: clients.map((c) => c.firstAt.lds!),
          rds: clients.map((c) => c.firstAt.rds!),
        },
        startedAt: clients.map((c) => c.startedAt),
        totals: sum(clients, (c) => c.counts),
        minResources: { cds: min("cds"), eds: min("eds"), lds: min("lds"), rds: min("rds") },
        clientCpuMs: cpuMs(cpu),
        loopMaxMs: loop.max / 1e6,
      });
      return;
    }
    case "arm":
      for (const c of groups.get(m.group) ?? []) c.arm();
      reply({ event: "armed", group: m.group });
      return;
    case "await-change": {
      const cpu = process.cpuUsage();
      const clients = groups.get(m.group) ?? [];
      const expectRds = m.expectRds ?? [];
      const got = (c: LeanClient): boolean => m.expectEds.every((n) => c.armedEds.has(n)) && expectRds.every((n) => c.armedRds.has(n));
      await waitFor(clients, got, m.timeoutMs, `receive the change (${[...m.expectEds, ...expectRds].join(", ")})`);
      await new Promise((r) => setTimeout(r, m.settleMs)); // anything else the change triggers arrives meanwhile
      const names = new Set<string>();
      for (const c of clients) for (const n of c.armedEds.keys()) names.add(n);
      reply({
        event: "changed",
        group: m.group,
        receivedAt: clients.map((c) => Math.max(...m.expectEds.map((n) => c.armedEds.get(n)!), ...expectRds.map((n) => c.armedRds.get(n)!))),
        sinceArm: sum(clients, (c) => c.sinceArm),
        edsNames: [...names].sort(),
        clientCpuMs: cpuMs(cpu),
      });
      return;
    }
    case "close":
      for (const c of groups.get(m.group) ?? []) c.close();
      groups.delete(m.group);
      reply({ event: "closed", group: m.group });
      return;
    case "exit":
      for (const g of groups.values()) for (const c of g) c.close();
      groups.clear();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 200).unref();
      return;
  }
}

process.on("message", (m: ToClients) => {
  handle(m).catch((e: unknown) => reply({ event: "error", message: (e as Error).message }));
});
process.on("disconnect", () => {
  for (const g of groups.values()) for (const c of g) c.close();
  setTimeout(() => process.exit(0), 200).unref();
});
reply({ event: "ready" });
