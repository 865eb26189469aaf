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
import { pino, type Logger } from "pino";
import type { DeltaDiscoveryRequest, DiscoveryRequest } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { grpcJsAdsCall, type AdsCall } from "./ads-call.js";
import { AcceptGate, type AcceptGateOptions, type AcceptGateStats } from "./accept-gate.js";
import type { AttachedStream, Connection, StreamBacklog, StreamContext } from "./connection.js";
import { DeltaConnection } from "./delta-stream.js";
import { ISTIO_KEEPALIVE, Keepalive, type KeepaliveOptions, type KeepaliveStats } from "./keepalive.js";
import type { ProxySyncStatus, XdsObserver } from "./observer.js";
import { PushScheduler, type PushSchedulerOptions, type PushSchedulerStats } from "./push-scheduler.js";
import { H2GrpcServer } from "./h2-grpc-server.js";
import type { H2GrpcCall } from "./h2-grpc-call.js";
import { adsServerDefinition, DELTA_METHOD_PATH, loadRequestSchemas, SDS_SERVICE, sdsServerDefinition, SOTW_METHOD_PATH } from "./service-definition.js";
import type { SnapshotCache } from "./snapshot-cache.js";
import type { AuthSubject, PeerIdentity, PeerSecretSource } from "./peer.js";
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
  /**
   * What carries gRPC: meshpilot's own HTTP/2 ("h2", the default; src/h2/) or grpc-js over
   * node:http2 ("grpc-js"; also chosen by MESHPILOT_XDS_TRANSPORT=grpc-js).
   */
  readonly transport?: XdsTransport;
}

export type XdsTransport = "h2" | "grpc-js";

/** The transport when the options name none. */
export function defaultTransport(): XdsTransport {
  return process.env["MESHPILOT_XDS_TRANSPORT"] === "grpc-js" ? "grpc-js" : "h2";
}

/** A call as the server starts a stream on it: its AdsCall, who it comes from, whether it is over already. */
interface Incoming {
  readonly ads: AdsCall;
  readonly subject: AuthSubject;
  readonly cancelled: boolean;
}

const fromGrpcJs = (call: ServerDuplexStream<Buffer, Uint8Array>): Incoming => ({
  ads: grpcJsAdsCall(call),
  subject: call,
  get cancelled() {
    return call.cancelled;
  },
});

const fromH2 = (call: H2GrpcCall): Incoming => ({
  ads: call,
  subject: call,
  get cancelled() {
    return call.cancelled;
  },
});

export interface SecureXdsOptions {
  /** TLS server credentials (they may rotate the serving certificate themselves). */
  readonly credentials: ServerCredentials;
  /** Who a call comes from, or why it is refused. */
  readonly authenticate: (call: AuthSubject) => Promise<PeerIdentity | { error: string }>;
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
  const push = o.onPush;
  return {
    onConnect: wrap("onConnect", o.onConnect),
    onDisconnect: wrap("onDisconnect", o.onDisconnect),
    // Called for every response to every stream: its arguments are passed on as they are, not
    // gathered into an array for apply.
    onPush: push
      ? (type, proxyId, bytes, resourceCount, seconds, removedCount): void => {
          try {
            push.call(o, type, proxyId, bytes, resourceCount, seconds, removedCount);
          } catch (e) {
            log.error({ err: e, hook: "onPush" }, "xDS observer hook threw");
          }
        }
      : () => {},
    onNack: wrap("onNack", o.onNack),
  };
}

export class XdsServer {
  readonly transport: XdsTransport;
  private readonly grpc: Server | undefined;
  private readonly secureGrpc: Server | undefined;
  private readonly h2: H2GrpcServer | undefined;
  private readonly secureH2: H2GrpcServer | undefined;
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
    // Find proxies that vanished without closing their connection, but never drop one that is
    // only slow to answer a ping while it takes in a push (keepalive.ts).
    const keepalive = opts.keepalive ?? ISTIO_KEEPALIVE;
    const maxReceive = opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES;
    this.transport = opts.transport ?? defaultTransport();
    const ownKeepalive = (): Keepalive =>
      new Keepalive(
        keepalive,
        (peer) => [...(this.byPeer.get(peer) ?? [])].some((c) => c.waitingForServer),
        (peer) =>
          this.log.warn({ peer, quietMs: keepalive.timeMs + keepalive.timeoutMs }, "closing a proxy connection that went silent and did not answer a ping"),
      );
    const sotw = (c: Incoming): void => void this.opened(new SotwConnection(c.ads, this.ctx, ++this.nextStreamId));
    const delta = (c: Incoming): void => void this.opened(new DeltaConnection(c.ads, this.ctx, ++this.nextStreamId));
    const secureSotw =
      (secure: SecureXdsOptions) =>
      (c: Incoming): void =>
        this.authenticated(c, secure, (peer) => new SotwConnection(c.ads, this.ctx, ++this.nextStreamId, peer));
    const secureDelta =
      (secure: SecureXdsOptions) =>
      (c: Incoming): void =>
        this.authenticated(c, secure, (peer) => new DeltaConnection(c.ads, this.ctx, ++this.nextStreamId, peer));
    if (this.transport === "h2") {
      this.keepalive = ownKeepalive();
      this.h2 = new H2GrpcServer({ maxReceiveBytes: maxReceive });
      this.h2.route(SOTW_METHOD_PATH, (call) => sotw(fromH2(call)));
      this.h2.route(DELTA_METHOD_PATH, (call) => delta(fromH2(call)));
      if (opts.secure) {
        const secure = opts.secure;
        const h2 = (this.secureH2 = new H2GrpcServer({ maxReceiveBytes: maxReceive, credentials: secure.credentials }));
        const s = secureSotw(secure);
        const d = secureDelta(secure);
        for (const [path, serve] of [
          [SOTW_METHOD_PATH, s],
          [DELTA_METHOD_PATH, d],
          [`/${SDS_SERVICE}/StreamSecrets`, s],
          [`/${SDS_SERVICE}/DeltaSecrets`, d],
        ] as const)
          h2.route(path, (call) => serve(fromH2(call)));
        for (const svc of secure.services ?? []) h2.addUnaryService(svc.definition, svc.handlers);
      }
      return;
    }
    const serverOptions = {
      "grpc.max_receive_message_length": maxReceive,
      "grpc.max_send_message_length": -1,
      // channelz would keep a record per connection and time-stamp every message for an admin
      // service meshpilot does not serve.
      "grpc.enable_channelz": 0,
    };
    let grpc = new Server(serverOptions);
    let grpcOptions: Record<string, number> = serverOptions;
    if (Keepalive.canWatch(grpc)) {
      this.keepalive = ownKeepalive();
    } else {
      this.log.warn("grpc-js does not expose its HTTP/2 sessions: its own keepalive runs, which drops connections that answer pings late");
      grpcOptions = { ...serverOptions, "grpc.keepalive_time_ms": keepalive.timeMs, "grpc.keepalive_timeout_ms": keepalive.timeoutMs };
      grpc = new Server(grpcOptions);
    }
    this.grpc = grpc;
    grpc.addService(adsServerDefinition, {
      StreamAggregatedResources: (call: ServerDuplexStream<Buffer, Uint8Array>) => sotw(fromGrpcJs(call)),
      DeltaAggregatedResources: (call: ServerDuplexStream<Buffer, Uint8Array>) => delta(fromGrpcJs(call)),
    });
    if (opts.secure) {
      const secure = opts.secure;
      this.secureGrpc = new Server(grpcOptions);
      const s = secureSotw(secure);
      const d = secureDelta(secure);
      const sotwJs = (call: ServerDuplexStream<Buffer, Uint8Array>): void => s(fromGrpcJs(call));
      const deltaJs = (call: ServerDuplexStream<Buffer, Uint8Array>): void => d(fromGrpcJs(call));
      this.secureGrpc.addService(adsServerDefinition, { StreamAggregatedResources: sotwJs, DeltaAggregatedResources: deltaJs });
      this.secureGrpc.addService(sdsServerDefinition, { StreamSecrets: sotwJs, DeltaSecrets: deltaJs });
      for (const svc of secure.services ?? []) this.secureGrpc.addService(svc.definition, svc.handlers);
    }
  }

  /**
   * Authenticate a secure stream before it is served. Its requests wait unread meanwhile (a
   * stream without a data listener is paused), so none is lost.
   */
  private authenticated(call: Incoming, secure: SecureXdsOptions, start: (peer: PeerIdentity) => Connection<AdsRequestLike>): void {
    const refuse = (code: GrpcStatus, message: string): void => {
      this.log.warn({ peer: call.subject.getPeer(), code, reason: message }, "xDS stream refused");
      call.ads.fail(code, message);
    };
    secure.authenticate(call.subject).then(
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
  async listen(address: string = DEFAULT_XDS_ADDRESS): Promise<number> {
    loadRequestSchemas();
    const port = this.h2 ? await this.listenH2(this.h2, address) : await this.listenGrpcJs(this.grpc!, address, ServerCredentials.createInsecure());
    this.log.info({ address, port, transport: this.transport }, "xDS server listening");
    return port;
  }

  /** Bind the secure port (e.g. "0.0.0.0:15012") with the `secure` options' TLS; returns the bound port. */
  async listenSecure(address: string): Promise<number> {
    const creds = this.secureCredentials;
    if (!creds || (!this.secureH2 && !this.secureGrpc)) throw new Error("xDS server has no secure options");
    loadRequestSchemas();
    const port = this.secureH2 ? await this.listenH2(this.secureH2, address) : await this.listenGrpcJs(this.secureGrpc!, address, creds);
    this.log.info({ address, port, transport: this.transport }, "secure xDS server listening (TLS; CA and ADS)");
    return port;
  }

  private async listenH2(server: H2GrpcServer, address: string): Promise<number> {
    let port: number;
    try {
      port = await server.listen(address);
    } catch (e) {
      throw new Error(`xDS server cannot listen on ${address}: ${(e as Error).message}`, { cause: e });
    }
    this.acceptGate.gate(server.server);
    this.keepalive?.watchSessions(server.server);
    return port;
  }

  private listenGrpcJs(grpc: Server, address: string, creds: ServerCredentials): Promise<number> {
    return new Promise((resolve, reject) => {
      grpc.bindAsync(address, creds, (err, port) => {
        if (err) reject(new Error(`xDS server cannot listen on ${address}: ${err.message}`, { cause: err }));
        else {
          if (this.acceptGate.watchGrpcServer(grpc) > 0) this.log.warn("could not widen the xDS listening socket's backlog: a reconnect storm may overflow it");
          this.keepalive?.watchServer(grpc);
          resolve(port);
        }
      });
    });
  }

  /**
   * Stop: refuse new streams, then end open ones (proxies reconnect elsewhere or later and keep
   * their config meanwhile). Waits at most `graceMs` for a clean shutdown.
   */
  async close(graceMs = 1000): Promise<void> {
    for (const s of [...this.streams]) s.close("server shutting down", true);
    if (this.h2) {
      await Promise.all([this.h2.close(graceMs), this.secureH2?.close(graceMs)]);
      return;
    }
    const grpc = this.grpc!;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        grpc.forceShutdown();
        this.secureGrpc?.forceShutdown();
        resolve();
      }, graceMs);
      let pending = this.secureGrpc ? 2 : 1;
      const done = (): void => {
        if (--pending > 0) return;
        clearTimeout(timer);
        resolve();
      };
      grpc.tryShutdown(done);
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
