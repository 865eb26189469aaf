// One simulated sidecar: what it counts and when, independent of the protocol its transport
// speaks (delta-proxy.ts, sotw-proxy.ts). Each proxy has its own gRPC channel, hence its own TCP
// connection, as one Envoy per pod has; HTTP/2 windows are Envoy's defaults (256 MiB), since
// 64 KiB would make the client, not the server, the bottleneck. The stream is grpc-call.ts'.
import { create, type JsonObject } from "@bufbuild/protobuf";
import { NodeSchema, type Node } from "../gen/envoy/config/core/v3/base_pb.js";
import type { ChangeWatch, Seen } from "./changes.js";
import { emptyCounts, type Counts, type ShortType } from "./counts.js";
import { EnvoyFlow, vhostRoute, type FlowSender } from "./flow.js";
import { GrpcChannel, type GrpcCall } from "./grpc-call.js";
import { semanticVersion, type XdsNode } from "./node.js";
import { PLAINTEXT, type ProxyTransport } from "./secure.js";
import type { WireResource } from "./wire.js";

/** Envoy's default HTTP/2 initial_stream_window_size and initial_connection_window_size. */
const ENVOY_HTTP2_WINDOW = 256 * 1024 * 1024;

export const now = (): number => performance.timeOrigin + performance.now();

export type Protocol = "delta" | "sotw";
export const PROTOCOLS: readonly Protocol[] = ["delta", "sotw"];

export interface ProxyOptions {
  /** host:port of the xDS server. */
  readonly address: string;
  /** How to reach it (default plaintext). */
  readonly transport?: ProxyTransport;
  /**
   * Delta: keep the version of every resource held and, on a new stream, declare them
   * (initial_resource_versions), as Envoy does, so that the server sends only what changed
   * (default true; false: no versions kept, a reconnect is a new proxy's, nothing is counted as unchanged).
   */
  readonly resume?: boolean;
  readonly node: XdsNode;
  /** For messages. */
  readonly index: number;
  /** Changes to look for in what arrives. */
  readonly changes?: ChangeWatch;
  /** Clusters the proxy must hold before it counts as synced. */
  readonly expectClusters?: ReadonlySet<string>;
  /** Reopen the stream after it fails (with backoff), instead of failing the proxy. */
  readonly reconnect?: boolean;
  /** Cross-check the wire reader against the full decoder (delta; costly: one proxy of a fleet). */
  readonly selfCheck?: boolean;
  readonly initialFetchTimeoutMs?: number;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5_000;

export abstract class LoadProxy implements FlowSender {
  protected readonly client: GrpcChannel;
  protected readonly flow: EnvoyFlow;
  readonly startedAt = now();
  syncedAt: number | undefined;
  /** When the first response of each type arrived. */
  readonly firstAt: Partial<Record<ShortType, number>> = {};
  /** The nonce of the last response of each type (any stream). */
  readonly lastNonce: Partial<Record<ShortType, string>> = {};
  /** Fatal: the proxy gave up (a stream failed and reconnecting is off). */
  error: string | undefined;
  /** Stream failures seen (each followed by a reconnect when enabled). */
  errors = 0;
  reconnects = 0;
  lastError: string | undefined;
  closing = false;
  readonly counts: Counts = emptyCounts();
  /** Counts until the proxy first held the full snapshot. */
  syncCounts: Counts | undefined;
  /** Streams opened so far (a stream after the first is a resumed one). */
  streams = 0;
  /** What arrived on resumed streams: what the server re-sent after a reconnect, and later pushes on them. */
  readonly resumed: Counts = emptyCounts();
  /** Names declared in initial_resource_versions on resumed streams, per type. */
  readonly offered: Partial<Record<ShortType, number>> = {};
  /** The types the current stream has answered (a response arrived on it), and when it last did. */
  answered = new Set<ShortType>();
  lastAnsweredAt = 0;
  /** Change id → when this proxy ACKed a response carrying it. */
  readonly seen: Seen = new Map();
  armed = false;
  sinceArm: Counts = emptyCounts();
  /** EDS / RDS name → when it first arrived after arm(); RDS also counts a route configuration's virtual hosts by VHDS. */
  armedEds = new Map<string, number>();
  armedRds = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = RECONNECT_MIN_MS;

  constructor(protected readonly opts: ProxyOptions) {
    const transport = opts.transport ?? PLAINTEXT;
    this.client = new GrpcChannel({
      address: opts.address,
      window: ENVOY_HTTP2_WINDOW,
      ...(transport.tls ? { tls: transport.tls } : {}),
      ...(transport.authority !== undefined ? { authority: transport.authority } : {}),
    });
    this.flow = new EnvoyFlow(this, opts.expectClusters, opts.initialFetchTimeoutMs);
  }

  protected call: GrpcCall | undefined;
  private nodeSent = false;

  abstract subscribe(type: ShortType, added: readonly string[], removed: readonly string[]): void;
  /** The ADS method the transport speaks. */
  protected abstract readonly method: string;
  /** One response of the current stream. */
  protected abstract handle(buf: Buffer): void;
  /** A new stream begins: per-stream state (nonces) starts over. */
  protected onNewStream(): void {}

  /** Opens a new stream (the node goes on its first request). */
  protected open(): void {
    const call: GrpcCall = this.client.call(this.method, (this.opts.transport ?? PLAINTEXT).metadata(), {
      message: (b) => {
        if (call !== this.call) return;
        try {
          this.handle(b);
        } catch (e) {
          this.error ??= `proxy ${this.opts.index}: ${(e as Error).message}`;
        }
      },
      status: (code, details) => {
        if (call === this.call) this.failed(code === 0 ? `stream ended (0: ${details})` : `stream error ${code}: ${details}`);
      },
    });
    this.call = call;
    this.nodeSent = false;
    this.streams++;
    this.answered = new Set();
    this.onNewStream();
  }

  protected endStream(): void {
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }

  /** The node, for the first request of a stream only (as Envoy's set_node_on_first_message_only). */
  protected nodeOnce(): Node | undefined {
    if (this.nodeSent) return undefined;
    this.nodeSent = true;
    const n = this.opts.node;
    return create(NodeSchema, {
      id: n.id,
      cluster: n.cluster,
      metadata: n.metadata as JsonObject,
      ...(n.envoyVersion !== undefined
        ? { userAgentName: "envoy", userAgentVersionType: { case: "userAgentBuildVersion", value: { version: semanticVersion(n.envoyVersion) } } }
        : {}),
    });
  }

  /** What the proxy holds and asks for now (see EnvoyFlow.names). */
  names(): ReturnType<EnvoyFlow["names"]> {
    return this.flow.names();
  }

  get synced(): boolean {
    return this.syncedAt !== undefined;
  }

  /** Bookkeeping every response gets, before the transport ACKs and the flow reacts. */
  protected received(
    type: ShortType,
    buf: Buffer,
    resources: readonly WireResource[],
    resourceBytes: number,
    removed: number,
    nonce: string,
    at: number,
    unchanged = 0,
  ): void {
    this.firstAt[type] ??= at;
    this.lastNonce[type] = nonce;
    this.backoffMs = RECONNECT_MIN_MS;
    this.answered.add(type);
    this.lastAnsweredAt = at;
    const into = [this.counts];
    if (this.armed) into.push(this.sinceArm);
    if (this.streams > 1) into.push(this.resumed);
    for (const c of into) {
      const t = c[type];
      t.msgs++;
      t.bytes += buf.length;
      t.resources += resources.length;
      t.resourceBytes += resourceBytes;
      t.removed += removed;
      t.unchanged += unchanged;
    }
    if (this.armed && type !== "cds" && type !== "lds" && type !== "sds") {
      const m = type === "eds" ? this.armedEds : this.armedRds;
      // A virtual host by VHDS is a change of the route configuration its name starts with.
      for (const r of resources) {
        const name = type === "vhds" ? vhostRoute(r.name) : r.name;
        if (!m.has(name)) m.set(name, at);
      }
    }
  }

  /** After the ACK went out: the changes this response carried, and whether the proxy is now in sync. */
  protected applied(type: ShortType, buf: Buffer, at: number): void {
    this.opts.changes?.scan(this.seen, type, buf, at);
    if (this.syncedAt === undefined && this.flow.synced) {
      this.syncedAt = at;
      this.syncCounts = structuredClone(this.counts);
    }
  }

  protected failed(message: string): void {
    if (this.closing) return;
    this.errors++;
    this.lastError = `proxy ${this.opts.index}: ${message}`;
    this.endStream();
    if (!this.opts.reconnect) {
      this.error ??= this.lastError;
      return;
    }
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closing) return;
      this.reopen();
    }, this.backoffMs);
    this.backoffMs = Math.min(RECONNECT_MAX_MS, this.backoffMs * 2);
  }

  private reopen(): void {
    this.reconnects++;
    this.open();
    this.flow.resubscribe();
  }

  /**
   * The stream drops (as when a connection is lost) and the proxy reconnects at once, resuming
   * with what it holds. Not counted as a stream error.
   */
  dropStream(): void {
    if (this.closing || this.error !== undefined) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.endStream();
    this.reopen();
  }

  /** The types the current stream asked for that it has not answered yet. */
  unanswered(): ShortType[] {
    return this.flow.subscribedTypes().filter((t) => !this.answered.has(t));
  }

  /** What keeps the proxy out of sync (EnvoyFlow.waitingFor). */
  waitingFor(): string[] {
    return this.flow.waitingFor();
  }

  /**
   * Why the proxy is not in sync (or failed), for a report: its fatal or last stream error (gRPC
   * code and message), reconnects, what it still waits for, and the last nonce of each type.
   */
  diagnosis(): string {
    const parts: string[] = [];
    const err = this.error ?? this.lastError;
    if (err) parts.push(err);
    else parts.push(`proxy ${this.opts.index}: no stream error`);
    if (this.errors) parts.push(`${this.errors} stream error(s), ${this.reconnects} reconnect(s)`);
    const waiting = this.waitingFor();
    if (waiting.length) parts.push(`waiting for ${waiting.join("; ")}`);
    const nonces = (Object.entries(this.lastNonce) as [ShortType, string][]).map(([t, n]) => `${t} ${n}`);
    parts.push(nonces.length ? `last nonces: ${nonces.join(", ")}` : "no response received");
    return parts.join(" | ");
  }

  /** From now on, count separately what arrives (sinceArm, armedEds, armedRds). */
  arm(): void {
    this.armed = true;
    this.sinceArm = emptyCounts();
    this.armedEds = new Map();
    this.armedRds = new Map();
  }

  close(): void {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.flow.stop();
    this.endStream();
    this.client.close();
  }
}
