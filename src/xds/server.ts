// The ADS gRPC server: accepts SotW and delta streams, counts streams per view (activating a
// view on its first stream, deactivating it after its last), and reports per-proxy sync status.
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerDuplexStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { pino, type Logger } from "pino";
import type { DeltaDiscoveryRequest, DiscoveryRequest } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { AcceptGate, type AcceptGateOptions, type AcceptGateStats } from "./accept-gate.js";
import type { AttachedStream, Connection, StreamBacklog, StreamContext } from "./connection.js";
import { DeltaConnection } from "./delta-stream.js";
import { ISTIO_KEEPALIVE, Keepalive, type KeepaliveOptions, type KeepaliveStats } from "./keepalive.js";
import type { ProxySyncStatus, XdsObserver } from "./observer.js";
import { PushScheduler, type PushSchedulerOptions, type PushSchedulerStats } from "./push-scheduler.js";
import { adsServerDefinition, loadRequestSchemas, sdsServerDefinition } from "./service-definition.js";
import type { SnapshotCache } from "./snapshot-cache.js";
import type { PeerIdentity, PeerSecretSource } from "./peer.js";
import type { NodeInfo, ViewProvider } from "./snapshot.js";
import { SotwConnection } from "./sotw-stream.js";

export const DEFAULT_XDS_ADDRESS = "0.0.0.0:15010";
export const DEFAULT_SECURE_XDS_ADDRESS = "0.0.0.0:15012";

type AdsRequestLike = DiscoveryRequest | DeltaDiscoveryRequest;

/**
 * Requests are small, but a delta reconnect lists every resource version the proxy has
 * (initial_resource_versions); grpc-js' default 4 MiB limit is too tight for big meshes.
 */
const DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

export interface XdsServerOptions {
  readonly cache: SnapshotCache;
  readonly views: ViewProvider;
  readonly logger?: Logger;
  readonly observer?: XdsObserver;
  /** Sent as `control_plane.identifier` in every response. */
  readonly controlPlaneId?: string;
  readonly maxReceiveMessageBytes?: number;
  /** How writes to many streams are spread over time and memory (see push-scheduler.ts). */
  readonly push?: PushSchedulerOptions;
  /**
   * Send Secrets (credentialName keys) on unauthenticated streams too. Development only; istiod
   * never does. Default false: the plaintext port serves configuration without Secrets.
   */
  readonly plaintextSecrets?: boolean;
  /**
   * Split route configurations by VHDS for delta streams of Envoys that take it (default true):
   * a VirtualService edit then re-sends the virtual hosts it changes, not whole route
   * configurations. false: every stream gets route configurations whole.
   */
  readonly vhds?: boolean;
  /** The secure port (istiod's 15012): TLS, every stream authenticated; see listenSecure. */
  readonly secure?: SecureXdsOptions;
  /** When a quiet connection is pinged, and how long its answer may take (keepalive.ts; Istio's 30 s / 10 s). */
  readonly keepalive?: KeepaliveOptions;
  /** How many connections arriving together are set up per turn of the event loop (accept-gate.ts). */
  readonly accept?: AcceptGateOptions;
}

export interface SecureXdsOptions {
  /** TLS server credentials (they may rotate the serving certificate themselves). */
  readonly credentials: ServerCredentials;
  /** Who a call comes from, or why it is refused. */
  readonly authenticate: (call: ServerSurfaceCall) => Promise<PeerIdentity | { error: string }>;
  /** The peers' own Secrets (`default`, `ROOTCA`), attached per stream. */
  readonly peerSecrets?: PeerSecretSource;
  /** More gRPC services on the secure port (Istio's CA). */
  readonly services?: readonly { readonly definition: ServiceDefinition; readonly handlers: UntypedServiceImplementation }[];
}

/** Observer hooks feed metrics; a faulty one must not take proxy streams down with it. */
function guarded(o: XdsObserver, log: Logger): XdsObserver {
  const wrap =
    <A extends unknown[]>(name: string, f: ((...a: A) => void) | undefined) =>
    (...a: A): void => {
      if (!f) return;
      try {
        f.apply(o, a);
      } catch (e) {
        log.error({ err: e, hook: name }, "xDS observer hook threw");
      }
    };
  return {
    onConnect: wrap("onConnect", o.onConnect),
    onDisconnect: wrap("onDisconnect", o.onDisconnect),
    onPush: wrap("onPush", o.onPush),
    onNack: wrap("onNack", o.onNack),
  };
}

export class XdsServer {
  private readonly grpc: Server;
  private readonly secureGrpc: Server | undefined;
  private readonly secureCredentials: ServerCredentials | undefined;
  /** Undefined when grpc-js' own keepalive runs instead (its HTTP/2 servers were not found). */
  private readonly keepalive: Keepalive | undefined;
  private readonly acceptGate: AcceptGate;
  private readonly streams = new Set<AttachedStream>();
  /** Every open stream by its peer's address, bound to a view or not yet (keepalive asks). */
  private readonly byPeer = new Map<string, Set<Connection<AdsRequestLike>>>();
  private readonly viewRefs = new Map<string, number>();
  private readonly ctx: StreamContext;
  private nextStreamId = 0;
  private readonly log: Logger;

  constructor(opts: XdsServerOptions) {
    this.log = opts.logger ?? pino({ level: "silent" });
    const views = opts.views;
    this.secureCredentials = opts.secure?.credentials;
    this.acceptGate = new AcceptGate(opts.accept);
    this.ctx = {
      cache: opts.cache,
      views,
      logger: this.log,
      observer: guarded(opts.observer ?? {}, this.log),
      controlPlaneId: opts.controlPlaneId ?? "meshpilot",
      scheduler: new PushScheduler({
        ...opts.push,
        onFlushError: (err) => this.log.error({ err }, "building or writing a response failed; other streams are served"),
      }),
      plaintextSecrets: opts.plaintextSecrets ?? false,
      vhds: opts.vhds ?? true,
      attach: (conn, key, node) => this.attach(conn, key, node),
      detach: (conn, key) => this.detach(conn, key),
    };
    const serverOptions = {
      "grpc.max_receive_message_length": opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
      "grpc.max_send_message_length": -1,
      // channelz would keep a record per connection and time-stamp every message for an admin
      // service meshpilot does not serve.
      "grpc.enable_channelz": 0,
    };
    // Find proxies that vanished without closing their connection, but never drop one that is
    // only slow to answer a ping while it takes in a push (keepalive.ts).
    const keepalive = opts.keepalive ?? ISTIO_KEEPALIVE;
    this.grpc = new Server(serverOptions);
    let grpcOptions: Record<string, number> = serverOptions;
    if (Keepalive.canWatch(this.grpc)) {
      this.keepalive = new Keepalive(
        keepalive,
        (peer) => [...(this.byPeer.get(peer) ?? [])].some((c) => c.waitingForServer),
        (peer) =>
          this.log.warn({ peer, quietMs: keepalive.timeMs + keepalive.timeoutMs }, "closing a proxy connection that went silent and did not answer a ping"),
      );
    } else {
      this.log.warn("grpc-js does not expose its HTTP/2 sessions: its own keepalive runs, which drops connections that answer pings late");
      grpcOptions = { ...serverOptions, "grpc.keepalive_time_ms": keepalive.timeMs, "grpc.keepalive_timeout_ms": keepalive.timeoutMs };
      this.grpc = new Server(grpcOptions);
    }
    this.grpc.addService(adsServerDefinition, {
      StreamAggregatedResources: (call: ServerDuplexStream<Buffer, Uint8Array>) => {
        this.opened(new SotwConnection(call, this.ctx, ++this.nextStreamId));
      },
      DeltaAggregatedResources: (call: ServerDuplexStream<Buffer, Uint8Array>) => {
        this.opened(new DeltaConnection(call, this.ctx, ++this.nextStreamId));
      },
    });
    if (opts.secure) {
      const secure = opts.secure;
      this.secureGrpc = new Server(grpcOptions);
      const sotw = (call: ServerDuplexStream<Buffer, Uint8Array>): void => {
        this.authenticated(call, secure, (peer) => new SotwConnection(call, this.ctx, ++this.nextStreamId, peer));
      };
      const delta = (call: ServerDuplexStream<Buffer, Uint8Array>): void => {
        this.authenticated(call, secure, (peer) => new DeltaConnection(call, this.ctx, ++this.nextStreamId, peer));
      };
      this.secureGrpc.addService(adsServerDefinition, { StreamAggregatedResources: sotw, DeltaAggregatedResources: delta });
      this.secureGrpc.addService(sdsServerDefinition, { StreamSecrets: sotw, DeltaSecrets: delta });
      for (const svc of secure.services ?? []) this.secureGrpc.addService(svc.definition, svc.handlers);
    }
  }

  /**
   * Authenticate a secure stream before it is served. Its requests wait unread meanwhile (a
   * stream without a data listener is paused), so none is lost.
   */
  private authenticated<Req>(
    call: ServerDuplexStream<Req, Uint8Array>,
    secure: SecureXdsOptions,
    start: (peer: PeerIdentity) => Connection<AdsRequestLike>,
  ): void {
    const refuse = (code: GrpcStatus, message: string): void => {
      this.log.warn({ peer: call.getPeer(), code, reason: message }, "xDS stream refused");
      call.emit("error", Object.assign(new Error(message), { code, details: message }));
    };
    secure.authenticate(call).then(
      (who) => {
        if (call.cancelled) return;
        if ("error" in who) return refuse(GrpcStatus.UNAUTHENTICATED, `authentication failed: ${who.error}`);
        const conn = this.opened(start(who));
        if (secure.peerSecrets) {
          const stop = secure.peerSecrets.watch(who, (secrets) => conn.setOwnSecrets(secrets));
          conn.onClose(stop);
        }
      },
      (err: Error) => refuse(GrpcStatus.INTERNAL, `authentication failed: ${err.message}`),
    );
  }

  /** Bind (e.g. "0.0.0.0:15010"; port 0 picks a free port) and return the bound port. */
  listen(address: string = DEFAULT_XDS_ADDRESS): Promise<number> {
    loadRequestSchemas();
    return new Promise((resolve, reject) => {
      this.grpc.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new Error(`xDS server cannot listen on ${address}: ${err.message}`, { cause: err }));
        else {
          this.watchAccepts(this.grpc);
          this.keepalive?.watchServer(this.grpc);
          this.log.info({ address, port }, "xDS server listening");
          resolve(port);
        }
      });
    });
  }

  /** Bind the secure port (e.g. "0.0.0.0:15012") with the `secure` options' TLS; returns the bound port. */
  listenSecure(address: string): Promise<number> {
    const grpc = this.secureGrpc;
    const creds = this.secureCredentials;
    if (!grpc || !creds) return Promise.reject(new Error("xDS server has no secure options"));
    loadRequestSchemas();
    return new Promise((resolve, reject) => {
      grpc.bindAsync(address, creds, (err, port) => {
        if (err) reject(new Error(`secure xDS server cannot listen on ${address}: ${err.message}`, { cause: err }));
        else {
          this.watchAccepts(grpc);
          this.keepalive?.watchServer(grpc);
          this.log.info({ address, port }, "secure xDS server listening (TLS; CA and ADS)");
          resolve(port);
        }
      });
    });
  }

  private watchAccepts(grpc: Server): void {
    if (this.acceptGate.watchGrpcServer(grpc) > 0) this.log.warn("could not widen the xDS listening socket's backlog: a reconnect storm may overflow it");
  }

  /**
   * Stop: refuse new streams, then end open ones (proxies reconnect elsewhere or later and keep
   * their config meanwhile). Waits at most `graceMs` for a clean shutdown.
   */
  async close(graceMs = 1000): Promise<void> {
    for (const s of [...this.streams]) s.close("server shutting down", true);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpc.forceShutdown();
        this.secureGrpc?.forceShutdown();
        resolve();
      }, graceMs);
      let pending = this.secureGrpc ? 2 : 1;
      const done = (): void => {
        if (--pending > 0) return;
        clearTimeout(timer);
        resolve();
      };
      this.grpc.tryShutdown(done);
      this.secureGrpc?.tryShutdown(done);
    });
  }

  /** One entry per connected proxy stream that has announced its node. */
  syncStatus(): ProxySyncStatus[] {
    const out: ProxySyncStatus[] = [];
    for (const s of this.streams) {
      const st = s.syncStatus();
      if (st) out.push(st);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id) || a.connectedSince.getTime() - b.connectedSince.getTime());
  }

  /** What each proxy stream holds back (unflushed and unanswered bytes), for metrics and tests. */
  backlog(): StreamBacklog[] {
    return [...this.streams].map((s) => s.backlog());
  }

  /** Keepalive counters (undefined when grpc-js' own keepalive runs). */
  get keepaliveStats(): KeepaliveStats | undefined {
    return this.keepalive?.stats;
  }

  /** Connections set up at once or in a later turn (accept-gate.ts). */
  get acceptStats(): AcceptGateStats {
    return this.acceptGate.stats;
  }

  get pushStats(): PushSchedulerStats {
    return this.ctx.scheduler.stats;
  }

  /** Run `task` once the streams owed a response now were served (PushScheduler.afterPush). */
  afterPush(task: () => void): void {
    this.ctx.scheduler.afterPush(task);
  }

  /** Connected proxy ids by the key (node class) their streams follow. */
  proxiesByKey(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const s of this.streams) {
      if (s.viewKey === undefined) continue;
      const ids = out.get(s.viewKey);
      if (ids) ids.push(s.proxyId);
      else out.set(s.viewKey, [s.proxyId]);
    }
    return out;
  }

  get connectedProxies(): number {
    return this.streams.size;
  }

  private opened<C extends Connection<AdsRequestLike>>(conn: C): C {
    const peer = conn.peerAddress;
    let set = this.byPeer.get(peer);
    if (!set) this.byPeer.set(peer, (set = new Set()));
    set.add(conn);
    conn.onClose(() => {
      set.delete(conn);
      if (set.size === 0 && this.byPeer.get(peer) === set) this.byPeer.delete(peer);
    });
    return conn;
  }

  private attach(conn: AttachedStream, key: string, node: NodeInfo): void {
    this.streams.add(conn);
    const n = this.viewRefs.get(key) ?? 0;
    this.viewRefs.set(key, n + 1);
    if (n === 0) {
      this.log.info({ view: key }, "view activated");
      this.ctx.views.activate(key, node);
    }
  }

  private detach(conn: AttachedStream, key: string): void {
    if (!this.streams.delete(conn)) return;
    const n = (this.viewRefs.get(key) ?? 1) - 1;
    if (n > 0) {
      this.viewRefs.set(key, n);
      return;
    }
    this.viewRefs.delete(key);
    this.log.info({ view: key }, "view deactivated");
    this.ctx.views.deactivate(key);
  }
}
