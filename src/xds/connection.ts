// What SotW and delta ADS streams share: reading the node from the first request and binding the
// stream to its view, following that view's snapshots, writing responses in make-before-break
// order, one at a time, and cleaning up however the stream ends.
//
// Responses are never built ahead of time: a type that owes a response is only marked, and the
// stream asks the server's PushScheduler for a turn; `flushNow` then builds from the *current*
// snapshot. So a slow proxy never queues stale versions, a stream waiting for its first snapshot
// simply stays marked, and a thousand streams are served without stalling the event loop.
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Node } from "../gen/envoy/config/core/v3/base_pb.js";
import { nodeInfo } from "./node.js";
import type { ProxySyncStatus, ShortType, Transport, XdsObserver } from "./observer.js";
import type { SnapshotCache } from "./snapshot-cache.js";
import type { Flushable, PushScheduler } from "./push-scheduler.js";
import type { NodeInfo, ResourceMap, Snapshot, ViewProvider } from "./snapshot.js";
import type { PeerIdentity } from "./peer.js";
import { routeForm, takesVhds } from "./route-form.js";
import { StreamSecrets } from "./stream-secrets.js";
import type { TypeState } from "./stream-state.js";
import type { AdsCall } from "./ads-call.js";
import type { PieceWriter } from "./gather-write.js";
import type { Pieces } from "./wire.js";
import { isKnownTypeUrl, PUSH_ORDER, SHORT_TYPE, TYPE_URL, type TypeUrl } from "./type-urls.js";

/** What a stream needs from its server. */
export interface StreamContext {
  readonly cache: SnapshotCache;
  readonly views: ViewProvider;
  readonly logger: Logger;
  readonly observer: XdsObserver;
  readonly controlPlaneId: string;
  readonly scheduler: PushScheduler;
  /**
   * Unauthenticated (plaintext) streams receive the view's Secrets too. Development only: anyone
   * who reaches the port could read private keys.
   */
  readonly plaintextSecrets: boolean;
  /** Send route configurations split by VHDS to delta streams of Envoys that take them (route-delivery.ts). */
  readonly vhds: boolean;
  /** The stream has a view: count it (activating the view if it is the first). */
  attach(conn: AttachedStream, key: string, node: NodeInfo): void;
  /** The stream is gone: uncount it (deactivating the view if it was the last). */
  detach(conn: AttachedStream, key: string): void;
}

/** A stream as its server sees it. */
export interface AttachedStream {
  readonly proxyId: string;
  readonly viewKey: string | undefined;
  syncStatus(): ProxySyncStatus | undefined;
  backlog(): StreamBacklog;
  close(reason: string, endCall: boolean): void;
}

export interface Built {
  readonly message: Pieces;
  readonly resourceCount: number;
  /** Delta: names in `removed_resources`. */
  readonly removedCount?: number;
}

/** What one stream holds back, for tests and metrics. */
export interface StreamBacklog {
  readonly proxyId: string;
  readonly streamId: number;
  /** Written and not yet flushed to the socket (at most one response). */
  readonly unflushedBytes: number;
  /** Sent and not yet answered (at most one response per type). */
  readonly unansweredBytes: number;
  /** A response went unanswered for the scheduler's `stallMs`: not counted against its cap. */
  readonly slow: boolean;
}

/** A request as read from the stream, undecoded, and when it arrived. */
interface Received {
  readonly raw: Uint8Array;
  readonly at: number;
}

/**
 * Requests up to this size (ACKs, NACKs, a few names) are decoded and handled in the turn that
 * read them; bigger ones wait for the scheduler's intake. ACKs must not wait: they release the
 * scheduler's cap on unanswered bytes, which holds back every stream's next response.
 */
const HANDLE_AT_ONCE_BYTES = 1024;

interface AdsRequest {
  readonly node?: Node | undefined;
  readonly typeUrl: string;
}

/**
 * Why an authenticated peer may not be this node, or undefined if it may: as istiod, the node's
 * namespace must be the identity's, and a node that names its ServiceAccount must name the identity's.
 */
function identityMismatch(peer: PeerIdentity, namespace: string | undefined, node: NodeInfo): string | undefined {
  if (namespace === undefined) return `its namespace is unknown, so it cannot be matched to the identity ${peer.namespace}/${peer.serviceAccount}`;
  if (namespace !== peer.namespace)
    return `the node is in namespace ${JSON.stringify(namespace)} but the caller's identity is in ${JSON.stringify(peer.namespace)} (service account ${peer.serviceAccount})`;
  const sa = node.metadata["SERVICE_ACCOUNT"];
  if (typeof sa === "string" && sa !== "" && sa !== peer.serviceAccount) {
    return `node metadata SERVICE_ACCOUNT ${JSON.stringify(sa)} is not the caller's service account ${JSON.stringify(peer.serviceAccount)}`;
  }
  return undefined;
}

/**
 * Names of remembered requests as a view's own strings, by the map they were looked up in: one
 * request (workload proxies of every namespace ask for the same clusters' endpoints) is looked up
 * in as many maps as there are namespace parts, so each pair is kept, not only the last one.
 */
const canonical = new WeakMap<readonly string[], WeakMap<ResourceMap, readonly string[]>>();
/** Canonical name lists that hold each name of a map once and nothing else, and that map. */
const wholeMaps = new WeakMap<readonly string[], ResourceMap>();

/**
 * The map whose names `names` (from canonicalNames) are, each once and nothing else: an Envoy's
 * first EDS request names every cluster of its view, and its stream can take the map's names as
 * its subscription without a lookup per name. Undefined for any other list.
 */
export function wholeMapOf(names: readonly string[]): ResourceMap | undefined {
  return wholeMaps.get(names);
}

/** `names` as `current`'s own strings; a remembered request's list is looked up once per map. */
export function canonicalNamesIn(current: ResourceMap, names: readonly string[]): readonly string[] {
  // A remembered request's names (frozen, request-memo.ts) come from every proxy of a view alike.
  if (!Object.isFrozen(names)) return names.map((n) => current.get(n)?.name ?? n);
  let byMap = canonical.get(names);
  const kept = byMap?.get(current);
  if (kept) return kept;
  const own = Object.freeze(names.map((n) => current.get(n)?.name ?? n));
  if (!byMap) canonical.set(names, (byMap = new WeakMap()));
  byMap.set(current, own);
  if (own.length > 0 && own.length === current.size && own.every((n) => current.has(n)) && new Set(own).size === own.length) wholeMaps.set(own, current);
  return own;
}

export abstract class Connection<Req extends AdsRequest> implements AttachedStream, Flushable {
  abstract readonly transport: Transport;
  proxyId = "";
  node: NodeInfo | undefined;
  viewKey: string | undefined;
  readonly connectedSince = new Date();
  /** The peer's address, as grpc-js gives it ("ip:port"): how keepalive finds a session's streams. */
  readonly peerAddress: string;
  protected readonly types = new Map<TypeUrl, TypeState>();
  /** The values of `types`, for owes(): asked after every ACK and every write, of every stream. */
  private readonly typeStates: TypeState[] = [];
  /** The values of `types` by their place in PUSH_ORDER, for flushNow. */
  private readonly inPushOrder: (TypeState | undefined)[] = PUSH_ORDER.map(() => undefined);
  protected log: Logger;
  /**
   * Whether `log` writes debug lines, asked once per logger: each stream's child logger has a
   * shape of its own, so reading its `debug` on every push was a megamorphic lookup (and the
   * fields object was built for nothing).
   */
  private debugOn: boolean;
  private nonceCounter = 0;
  private closed = false;
  /**
   * Bytes of the response written and not yet flushed to the socket (0: none). The next one
   * waits: a proxy that stops reading holds one response here, never a queue of versions.
   */
  private unflushed = 0;
  // Per type, the last response the proxy has not answered yet is kept in its TypeState
  // (`unanswered`), with what releases its bytes from the scheduler's cap: a proxy that is slow to
  // take in what it was sent holds back the others' turns instead of piling up more unread data.
  private unwatch: (() => void) | undefined;
  /**
   * Requests received before the stream is bound to its view, handled on its first scheduler
   * turn. When a thousand proxies reconnect at once their first requests arrive in one turn of
   * the event loop; binding each there (the first of a view builds it) stalled the loop for
   * seconds. Undefined once bound.
   */
  private unbound: Received[] | undefined = [];
  /**
   * Requests too big to handle in the turn that read them (subscriptions to thousands of names),
   * and any that arrive after them, in order: handled on the scheduler's intake, in slices.
   */
  private inbox: Received[] = [];
  private readonly warnedTypes = new Set<string>();
  /** What Secrets this stream may see, laid over the view's snapshot. */
  protected readonly secrets: StreamSecrets;
  /** The proxy takes route configurations split by VHDS (set with the node). */
  protected vhds = false;
  private readonly closeHooks: (() => void)[] = [];
  private readonly writeMessage: PieceWriter;
  /** A response was handed to the socket: the next may be built (one function for every write). */
  private readonly flushed = (): void => {
    this.unflushed = 0;
    this.requestFlush();
  };

  constructor(
    protected readonly call: AdsCall,
    protected readonly ctx: StreamContext,
    readonly streamId: number,
    /** The authenticated peer; undefined on the plaintext port. */
    readonly peer?: PeerIdentity,
  ) {
    this.log = ctx.logger.child({ stream: streamId });
    this.debugOn = this.log.isLevelEnabled("debug");
    this.peerAddress = call.getPeer();
    this.secrets = new StreamSecrets(peer !== undefined || ctx.plaintextSecrets);
    this.writeMessage = call.write;
    // The proxy half-closed: finish our side with OK.
    call.read({ message: (raw) => this.onData(raw), end: () => this.close("client ended the stream", true) });
    call.onGone((reason) => this.close(reason, false));
  }

  /** A request's bytes as the transport's message (throws on bytes that are none). */
  protected abstract decode(raw: Uint8Array): Req;
  /** Handle one request of a known type (node and view are settled). */
  protected abstract handleRequest(req: Req, type: TypeUrl, st: TypeState, at: number): void;
  /** Build the response `st` owes from `snapshot`, or undefined if nothing is to be sent. */
  protected abstract build(type: TypeUrl, st: TypeState, snapshot: Snapshot): Built | undefined;
  protected abstract newTypeState(): TypeState;
  /** A response of `type` was written. */
  protected afterWrite(_type: TypeUrl): void {}

  protected state(type: TypeUrl): TypeState {
    let st = this.types.get(type);
    if (!st) {
      st = this.newTypeState();
      this.types.set(type, st);
      this.typeStates.push(st);
      this.inPushOrder[PUSH_ORDER.indexOf(type)] = st;
    }
    return st;
  }

  /**
   * Subscribed names as the view's own strings where it has them: thousands of proxies subscribe
   * to the same thousands of names, and each request decodes fresh copies.
   */
  protected canonicalNames(type: TypeUrl, names: readonly string[]): readonly string[] {
    if (names.length === 0) return names; // an ACK: no need to look at the snapshot
    const current = this.viewKey === undefined ? undefined : this.snapshot()?.resources.get(type);
    if (!current) return names;
    return canonicalNamesIn(current, names);
  }

  /** Nonces only need to be unique within a stream (xds_protocol "Basic Protocol Overview"). */
  protected nextNonce(): string {
    return (++this.nonceCounter).toString(36);
  }

  private onData(raw: Uint8Array): void {
    if (this.closed) return;
    const at = performance.now();
    if (this.unbound) {
      // Binding may build a view (translate and encode): on the scheduler's turn, in slices.
      this.unbound.push({ raw, at });
      if (this.unbound.length === 1) this.ctx.scheduler.request(this);
      return;
    }
    if (this.inbox.length === 0 && raw.length <= HANDLE_AT_ONCE_BYTES) return this.take({ raw, at });
    this.inbox.push({ raw, at });
    if (this.inbox.length === 1) this.ctx.scheduler.takeIn(this);
  }

  /** Handle the requests waiting in the inbox (the scheduler's intake, or before a flush). */
  takeNow(): void {
    const waiting = this.inbox;
    this.inbox = [];
    for (const r of waiting) if (!this.closed) this.take(r);
  }

  private take({ raw, at }: Received): void {
    let req: Req;
    try {
      req = this.decode(raw);
    } catch (e) {
      this.fail(
        GrpcStatus.INVALID_ARGUMENT,
        `request is not a valid ${this.transport === "delta" ? "DeltaDiscoveryRequest" : "DiscoveryRequest"}: ${(e as Error).message}`,
      );
      return;
    }
    this.handle(req, at);
  }

  private handle(req: Req, at: number): void {
    try {
      if (this.viewKey === undefined && !this.bind(req)) return;
      if (!isKnownTypeUrl(req.typeUrl)) {
        if (!this.warnedTypes.has(req.typeUrl)) {
          this.warnedTypes.add(req.typeUrl);
          this.log.warn({ typeUrl: req.typeUrl }, "request for a type this server does not serve; ignored");
        }
        return;
      }
      const st = this.state(req.typeUrl);
      this.answered(st, (req as { responseNonce?: string }).responseNonce ?? "");
      this.handleRequest(req, req.typeUrl, st, at);
      this.requestFlush();
    } catch (e) {
      this.log.error({ err: e }, "failed to handle an xDS request");
      this.fail(GrpcStatus.INTERNAL, `internal error: ${(e as Error).message}`);
    }
  }

  /** First request: read the node, ask for the view key, follow the view. */
  private bind(req: Req): boolean {
    if (!req.node || req.node.id === "") {
      this.fail(GrpcStatus.INVALID_ARGUMENT, "the first request of a stream must carry node with a non-empty id");
      return false;
    }
    const node = nodeInfo(req.node);
    this.node = node;
    this.proxyId = node.id;
    const view = this.ctx.views.viewKey(node);
    if ("error" in view) {
      this.fail(GrpcStatus.INVALID_ARGUMENT, `node ${JSON.stringify(node.id)} rejected: ${view.error}`);
      return false;
    }
    const refused = this.peer && identityMismatch(this.peer, view.namespace, node);
    if (refused) {
      this.fail(GrpcStatus.PERMISSION_DENIED, `node ${JSON.stringify(node.id)} refused: ${refused}`);
      return false;
    }
    this.viewKey = view.key;
    this.vhds = this.transport === "delta" && this.ctx.vhds && takesVhds(node);
    this.log = this.log.child({ proxy: node.id, view: view.key });
    this.debugOn = this.log.isLevelEnabled("debug");
    this.unwatch = this.ctx.cache.watch(view.key, (_snapshot, changed, setAt) => this.onSnapshot(changed, setAt));
    // After watching: activate may set the first snapshot synchronously.
    this.ctx.attach(this, view.key, node);
    this.log.info(
      { transport: this.transport, ...(this.peer ? { identity: `${this.peer.namespace}/${this.peer.serviceAccount}`, via: this.peer.via } : {}) },
      "proxy connected",
    );
    this.ctx.observer.onConnect?.(node.id, view.key, this.transport);
    return true;
  }

  /** This stream's own Secrets (its identity's workload certificate and root) are new: push what it subscribed to. */
  setOwnSecrets(secrets: ResourceMap): void {
    if (this.closed) return;
    this.secrets.setOwn(secrets);
    this.types.get(TYPE_URL.secret)?.owe("changed", performance.now());
    this.requestFlush();
  }

  /** Run `hook` once the stream is closed (at once if it already is). */
  onClose(hook: () => void): void {
    if (this.closed) hook();
    else this.closeHooks.push(hook);
  }

  /** The view's current snapshot as this stream may see it (Secrets it is entitled to only). */
  protected snapshot(): Snapshot | undefined {
    const s = this.viewKey === undefined ? undefined : this.ctx.cache.get(this.viewKey);
    return s && routeForm(this.secrets.apply(s), this.vhds);
  }

  private onSnapshot(changed: ReadonlySet<TypeUrl>, setAt: number): void {
    if (this.closed) return;
    try {
      for (const t of changed) this.types.get(t)?.owe("changed", setAt);
      this.requestFlush();
    } catch (e) {
      this.log.error({ err: e }, "failed to push a snapshot");
      this.fail(GrpcStatus.INTERNAL, `internal error: ${(e as Error).message}`);
    }
  }

  private answered(st: TypeState, nonce: string): void {
    const u = st.unanswered;
    if (!u || nonce === "") return;
    if (nonce !== u.nonce) {
      u.since = u.sentAt; // answered an older response: it keeps up, one response behind
      return;
    }
    st.unanswered = undefined;
    this.ctx.scheduler.release(u);
  }

  /** Some response went unanswered for `stallMs`: the proxy does not keep up (or never answers). */
  private slow(now: number): boolean {
    for (let i = 0; i < this.typeStates.length; i++) {
      const u = this.typeStates[i]!.unanswered;
      if (u && now - u.since >= this.ctx.scheduler.stallMs) return true;
    }
    return false;
  }

  backlog(): StreamBacklog {
    let unanswered = 0;
    for (const st of this.typeStates) unanswered += st.unanswered?.bytes ?? 0;
    return { proxyId: this.proxyId, streamId: this.streamId, unflushedBytes: this.unflushed, unansweredBytes: unanswered, slow: this.slow(performance.now()) };
  }

  private requestFlush(): void {
    if (!this.closed && this.unflushed === 0 && this.owes()) this.ctx.scheduler.request(this);
  }

  /**
   * The proxy waits on us: requests not handled yet, or a response owed and not written (waiting
   * for its turn, or for its view's first build). A silent proxy is then not a sign of a dead one.
   */
  get waitingForServer(): boolean {
    if (this.closed) return false;
    return (this.unbound?.length ?? 0) > 0 || (this.unflushed === 0 && this.owes());
  }

  private owes(): boolean {
    for (let i = 0; i < this.typeStates.length; i++) if (this.typeStates[i]!.pending !== "none") return true;
    return false;
  }

  /**
   * Write the first response owed in CDS → EDS → LDS → RDS order. One response at a time: the
   * next is built (from the snapshot current then) once this one is flushed to the socket.
   */
  flushNow(): void {
    if (this.unbound) {
      const early = this.unbound;
      this.unbound = undefined;
      for (const r of early) if (!this.closed) this.take(r);
    }
    if (this.inbox.length > 0) this.takeNow(); // requests first, in order: they may change what is owed
    if (this.closed || this.unflushed > 0 || this.viewKey === undefined) return;
    const snapshot = this.snapshot();
    if (!snapshot) return; // hold until the view's first snapshot arrives
    for (let i = 0; i < PUSH_ORDER.length; i++) {
      const st = this.inPushOrder[i];
      if (!st || st.pending === "none") continue;
      const type = PUSH_ORDER[i]!;
      const since = st.pendingSince;
      const out = this.build(type, st, snapshot);
      st.settle();
      if (!out) continue;
      const bytes = out.message.length;
      const now = performance.now();
      const superseded = st.unanswered;
      if (superseded) this.ctx.scheduler.release(superseded); // the proxy answers only the newest
      const sent = { nonce: st.nonceSent, bytes, sentAt: now, since: superseded?.since ?? now };
      // A slow stream's bytes are not counted: it must not hold back the others' turns again.
      if (!this.slow(now)) this.ctx.scheduler.track(sent);
      st.unanswered = sent;
      this.unflushed = bytes;
      this.writeMessage(out.message, this.flushed);
      const short: ShortType = SHORT_TYPE[type];
      this.ctx.observer.onPush?.(short, this.proxyId, bytes, out.resourceCount, (performance.now() - since) / 1000, out.removedCount ?? 0);
      if (this.debugOn)
        this.log.debug(
          { type: short, version: st.versionSent, nonce: st.nonceSent, resources: out.resourceCount, removed: out.removedCount ?? 0, bytes },
          "pushed",
        );
      this.afterWrite(type);
      return;
    }
  }

  protected recordNack(type: TypeUrl, st: TypeState, nonce: string, message: string): void {
    const news = st.nack(nonce, message);
    const short = SHORT_TYPE[type];
    this.ctx.observer.onNack?.(short, this.proxyId, message);
    const fields = { type: short, version: st.lastNack?.version, nonce, reason: message };
    if (news) this.log.warn(fields, "proxy rejected config (NACK); keeping it on its last accepted version");
    else this.log.debug(fields, "repeated NACK");
  }

  /** End the stream with a gRPC error status. */
  protected fail(code: GrpcStatus, message: string): void {
    if (this.closed) return;
    this.log.warn({ code, reason: message }, "ending xDS stream with an error");
    this.call.fail(code, message);
  }

  close(reason: string, endCall: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    this.ctx.scheduler.forget(this);
    this.inbox = [];
    for (const st of this.typeStates) {
      if (st.unanswered) this.ctx.scheduler.release(st.unanswered);
      st.unanswered = undefined;
    }
    for (const h of this.closeHooks.splice(0)) h();
    if (endCall) this.call.end();
    if (this.viewKey !== undefined) {
      this.ctx.detach(this, this.viewKey);
      this.log.info({ reason }, "proxy disconnected");
      this.ctx.observer.onDisconnect?.(this.proxyId, this.viewKey, this.transport);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  syncStatus(): ProxySyncStatus | undefined {
    if (this.viewKey === undefined || !this.node) return undefined;
    const types: ProxySyncStatus["types"] = {};
    for (const t of PUSH_ORDER) {
      const st = this.types.get(t);
      if (st) types[SHORT_TYPE[t]] = st.status();
    }
    return {
      id: this.proxyId,
      cluster: this.node.cluster,
      viewKey: this.viewKey,
      transport: this.transport,
      connectedSince: this.connectedSince,
      ...(this.node.userAgentVersion !== undefined ? { proxyVersion: this.node.userAgentVersion } : {}),
      controlPlane: this.ctx.controlPlaneId,
      types,
    };
  }
}
