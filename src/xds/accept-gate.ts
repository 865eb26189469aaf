// New connections get their HTTP/2 session a few at a time, so that a reconnect storm's work is
// spread over turns of the event loop. When 2000 proxies reconnect at once, their connections are
// set up over many turns, but their first requests arrive together: one poll phase read the
// HEADERS and first DATA of hundreds of sessions, and each became a stream, a grpc-js call and an
// xDS connection (~0.3 ms of CPU apiece, plus the GC that garbage brings on). That phase was the
// event loop's longest turn (150–250 ms of CPU). So at most `maxOpening` sessions may be waiting
// for their first stream at a time, and at most `maxPerTurn` are set up in one turn; the other
// connections wait in a queue, in order of arrival.
//
// A waiting connection is accepted (by the kernel and by Node): what the proxy sends meanwhile is
// read into the socket's buffer, and its HTTP/2 session takes that in when it is set up (Node
// handles a socket read from before its session existed). The gate holds the 'connection' event:
// on a plaintext server it creates the session; on a TLS one it starts the handshake (a key
// exchange and a signature, the costliest step of a new connection), and the connection counts
// as opening from then until its session's first stream, its connection closing, or `openingMs`.
//
// The listening sockets' backlog is widened too: Node listens with 511, and 2000 connections
// arriving while the process is busy overflowed it (the kernel dropped them, then answered with
// resets: "read ECONNRESET" for some proxies of the storm on a loaded machine). Go servers, istiod
// among them, listen with the system's maximum (net.core.somaxconn, 4096 by default).
import type { Server, Socket } from "node:net";
import { Server as TlsServer } from "node:tls";
import type { Http2Session } from "node:http2";

/** The backlog the listening sockets get (the kernel caps it at net.core.somaxconn). */
export const LISTEN_BACKLOG = 4096;

export interface AcceptGateOptions {
  /**
   * Sessions set up and not yet past their first stream, above which new ones wait. In the
   * reconnect bench (2000 proxies) the longest turn's CPU was 33–50 ms with 8 or 16, 51–59 with
   * 32, 67–70 with 64, 95–230 ungated; the time to sync all did not move.
   */
  readonly maxOpening?: number;
  /** At most this many sessions are set up in one turn. */
  readonly maxPerTurn?: number;
  /**
   * A session that opens no stream for this long stops counting against `maxOpening` (a client
   * that connects and waits must not hold others back).
   */
  readonly openingMs?: number;
}

/** Counters for tests and metrics. */
export interface AcceptGateStats {
  /** Connections handed on to the server's own handlers. */
  readonly admitted: number;
  /** Connections that waited for a later turn. */
  readonly deferred: number;
  /** Connections closed while they waited (by the peer, or because the server stopped listening). */
  readonly dropped: number;
  /** The most connections handed on in one turn. */
  readonly maxInOneTurn: number;
  /** Sessions set up and waiting for their first stream now. */
  readonly opening: number;
}

type ConnectionListener = (this: Server, socket: Socket) => void;

interface Waiting {
  readonly server: Server;
  readonly socket: Socket;
  readonly handlers: readonly ConnectionListener[];
}

/** A session between its set-up (on TLS: the start of its handshake) and its first stream. */
interface Opening {
  readonly at: number;
  done: boolean;
  /** TLS: the peer's address and port, which its TLS socket has too once the handshake is over. */
  peer?: string;
}

/** What grpc-js keeps of a bound HTTP/2 server (1.14): its net.Server, as the key. */
interface GrpcHttp2Servers {
  readonly http2Servers?: unknown;
}

const ignoreError = (): void => {};

export class AcceptGate {
  private readonly maxOpening: number;
  private readonly maxPerTurn: number;
  private readonly openingMs: number;
  private readonly queue: Waiting[] = [];
  private head = 0;
  private readonly gated = new WeakSet<Server>();
  /** Oldest first. */
  private readonly opening: Opening[] = [];
  private openingCount = 0;
  /** The admission running now, so that the 'session' it emits is tied to it. */
  private admitting: Opening | undefined;
  /** Admissions that made a session (which then ends their opening). */
  private readonly tied = new WeakSet<Opening>();
  /** TLS connections admitted and still in their handshake, by peer address and port. */
  private readonly handshaking = new Map<string, Opening>();
  private inTurn = 0;
  private scheduled = false;
  private expiry: NodeJS.Timeout | undefined;
  private admitted = 0;
  private deferred = 0;
  private dropped = 0;
  private maxInOneTurn = 0;

  constructor(opts: AcceptGateOptions = {}) {
    this.maxOpening = Math.max(1, opts.maxOpening ?? 16);
    this.maxPerTurn = Math.max(1, opts.maxPerTurn ?? 16);
    this.openingMs = opts.openingMs ?? 1000;
  }

  get stats(): AcceptGateStats {
    return { admitted: this.admitted, deferred: this.deferred, dropped: this.dropped, maxInOneTurn: this.maxInOneTurn, opening: this.openingCount };
  }

  /**
   * Gate every HTTP/2 server a grpc-js Server has bound, and widen their backlog (call after each
   * bind). Returns the servers whose backlog could not be widened.
   */
  watchGrpcServer(server: object): number {
    const servers = (server as GrpcHttp2Servers).http2Servers;
    if (!(servers instanceof Map)) return 0;
    let narrow = 0;
    for (const s of servers.keys()) {
      if (this.gated.has(s as Server)) continue;
      if (!widenBacklog(s as Server)) narrow++;
      this.gate(s as Server);
    }
    return narrow;
  }

  /** Route `server`'s new connections through the gate; its own handlers run, in order, on admission. */
  gate(server: Server): void {
    if (this.gated.has(server)) return;
    this.gated.add(server);
    const handlers = server.listeners("connection") as ConnectionListener[];
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => this.arrive({ server, socket, handlers }));
    server.on("session", (session: Http2Session) => this.opened(session));
    if (!(server instanceof TlsServer)) return;
    // The session is made by the server's own 'secureConnection' listeners: tie it to the
    // admission of its connection around them.
    server.prependListener("secureConnection", (socket: Socket) => {
      this.admitting = this.handshaking.get(peerOf(socket));
    });
    server.on("secureConnection", () => {
      const o = this.admitting;
      this.admitting = undefined;
      if (!o) return;
      this.forgetPeer(o);
      if (!this.tied.has(o)) this.done(o);
    });
  }

  private arrive(w: Waiting): void {
    if (this.queue.length === this.head && this.room()) return this.admit(w);
    this.deferred++;
    // Until its handlers run nobody listens for the socket's errors: a reset must not throw.
    w.socket.on("error", ignoreError);
    this.queue.push(w);
    this.schedule();
  }

  private room(): boolean {
    if (this.inTurn >= this.maxPerTurn) return false;
    if (this.openingCount < this.maxOpening) return true;
    this.expire(performance.now());
    return this.openingCount < this.maxOpening;
  }

  private admit(w: Waiting): void {
    this.inTurn++;
    this.maxInOneTurn = Math.max(this.maxInOneTurn, this.inTurn);
    this.schedule();
    w.socket.removeListener("error", ignoreError);
    if (w.socket.destroyed || !w.server.listening) {
      this.dropped++;
      w.socket.destroy();
      return;
    }
    this.admitted++;
    const o: Opening = { at: performance.now(), done: false };
    this.opening.push(o);
    this.openingCount++;
    if (w.server instanceof TlsServer) {
      // The handshake starts; the session comes after it, in 'secureConnection'. A connection
      // whose handshake fails closes (its TCP socket does, under the TLS socket).
      o.peer = peerOf(w.socket);
      this.handshaking.set(o.peer, o);
      w.socket.once("close", () => this.done(o));
      for (const h of w.handlers) h.call(w.server, w.socket);
      return;
    }
    this.admitting = o;
    try {
      for (const h of w.handlers) h.call(w.server, w.socket);
    } finally {
      this.admitting = undefined;
    }
    // No session came of it (refused, or not HTTP/2): nothing to wait for.
    if (!this.tied.has(o)) this.done(o);
  }

  private opened(session: Http2Session): void {
    const o = this.admitting;
    if (!o) return;
    this.tied.add(o);
    const finish = (): void => this.done(o);
    session.once("stream", finish);
    session.once("close", finish);
  }

  private done(o: Opening): void {
    this.forgetPeer(o);
    if (o.done) return;
    o.done = true;
    this.openingCount--;
    while (this.opening.length > 0 && this.opening[0]!.done) this.opening.shift();
    if (this.head < this.queue.length) this.schedule();
  }

  /** Sessions that opened no stream within `openingMs` stop counting. */
  private expire(now: number): void {
    for (const o of this.opening) {
      if (now - o.at < this.openingMs) break;
      this.forgetPeer(o);
      if (!o.done) {
        o.done = true;
        this.openingCount--;
      }
    }
    while (this.opening.length > 0 && this.opening[0]!.done) this.opening.shift();
  }

  private forgetPeer(o: Opening): void {
    if (o.peer === undefined) return;
    if (this.handshaking.get(o.peer) === o) this.handshaking.delete(o.peer);
    o.peer = undefined;
  }

  /** Next turn: a fresh count, and the waiting connections' share of it. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.inTurn = 0;
      while (this.head < this.queue.length && this.room()) this.admit(this.queue[this.head++]!);
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.inTurn === 0) this.waitForExpiry();
    });
  }

  /** Full of sessions that have not opened a stream yet: look again when the oldest stops counting. */
  private waitForExpiry(): void {
    if (this.expiry) return;
    const oldest = this.opening[0];
    const wait = oldest ? Math.max(1, oldest.at + this.openingMs - performance.now()) : this.openingMs;
    this.expiry = setTimeout(() => {
      this.expiry = undefined;
      this.schedule();
    }, wait);
    this.expiry.unref();
  }
}

/** A connection's peer, the same on a TCP socket and on the TLS socket over it. */
function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ""}|${socket.remotePort ?? ""}`;
}

/**
 * Listen again on `server`'s bound socket with a wider backlog (Linux updates the backlog of a
 * socket that already listens). False if the server has no such socket or the call failed.
 */
export function widenBacklog(server: Server, backlog = LISTEN_BACKLOG): boolean {
  const handle = (server as unknown as { _handle?: { listen?: (backlog: number) => number } | null })._handle;
  if (typeof handle?.listen !== "function") return false;
  return handle.listen(backlog) === 0;
}
