// Keepalive of proxy connections as gRPC's Go server does it (istiod's, 30 s / 10 s): a connection
// is pinged only after `timeMs` in which nothing was read from it, and closed only when neither the
// ping's ack nor anything else arrives within `timeoutMs` after. grpc-js pings every connection every
// keepalive time however busy it is, and closes it when the ack is late: a proxy busy taking in a
// big push (1000 delta clients in one load generator on a loaded machine) acks late although it
// ACKs every response, and 936 of 1000 were dropped ("Connection dropped") in one such run.
// So grpc-js' own keepalive is off and this one watches the HTTP/2 sessions of its servers.
import type { EventEmitter } from "node:events";

/** What is watched of a connection: node:http2's Http2Session, or meshpilot's own (src/h2/server-connection.ts). */
export interface PingableSession {
  readonly socket: { readonly bytesRead: number; readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined } | null | undefined;
  readonly destroyed: boolean;
  ping(acked: () => void): unknown;
  destroy(): void;
  once(event: "close", listener: () => void): unknown;
}

export interface KeepaliveOptions {
  /** Quiet time after which a connection is pinged. */
  readonly timeMs: number;
  /** How long after the ping something must arrive (the ack or anything else). */
  readonly timeoutMs: number;
}

export const ISTIO_KEEPALIVE: KeepaliveOptions = { timeMs: 30_000, timeoutMs: 10_000 };

export interface KeepaliveStats {
  /** Quiet periods checked, pings sent, connections closed for silence. */
  readonly checks: number;
  readonly pings: number;
  readonly closed: number;
}

/** What grpc-js keeps of a bound HTTP/2 server (1.14): its sessions. */
interface GrpcHttp2Servers {
  readonly http2Servers?: unknown;
}

export class Keepalive {
  private checks = 0;
  private pings = 0;
  private closed = 0;
  private readonly watched = new WeakSet<object>();

  /**
   * `waiting(peer)`: some stream of the connection from `peer` ("ip:port") waits on the server (its
   * turn, its view's build): then its silence is ours, and it is not pinged.
   */
  constructor(
    private readonly opts: KeepaliveOptions,
    private readonly waiting: (peer: string) => boolean = () => false,
    private readonly onClose: (peer: string) => void = () => {},
  ) {}

  get stats(): KeepaliveStats {
    return { checks: this.checks, pings: this.pings, closed: this.closed };
  }

  /**
   * Whether `server` (a grpc-js Server) exposes its HTTP/2 servers; without that the caller keeps
   * grpc-js' own keepalive.
   */
  static canWatch(server: object): boolean {
    return (server as GrpcHttp2Servers).http2Servers instanceof Map;
  }

  /** Watch every session of the grpc-js Server's bound HTTP/2 servers, present and future (call after each bind). */
  watchServer(server: object): void {
    const servers = (server as GrpcHttp2Servers).http2Servers;
    if (!(servers instanceof Map)) return;
    for (const [http2Server, entry] of servers as Map<EventEmitter, { sessions?: Set<PingableSession> }>) {
      if (this.watched.has(http2Server)) continue;
      this.watchSessions(http2Server);
      for (const s of entry.sessions ?? []) this.watch(s);
    }
  }

  /** Watch the sessions `server` emits as 'session' from now on (meshpilot's own HTTP/2 server). */
  watchSessions(server: EventEmitter): void {
    if (this.watched.has(server)) return;
    this.watched.add(server);
    server.on("session", (s: PingableSession) => this.watch(s));
  }

  watch(session: PingableSession): void {
    if (this.watched.has(session)) return;
    this.watched.add(session);
    const read = (): number => session.socket?.bytesRead ?? 0;
    const peer = `${session.socket?.remoteAddress ?? ""}:${session.socket?.remotePort ?? ""}`;
    let seen = read();
    let timer: NodeJS.Timeout | undefined;
    const quiet = (): void => {
      timer = setTimeout(() => {
        if (session.destroyed) return;
        this.checks++;
        if (read() !== seen || this.waiting(peer)) {
          seen = read();
          return quiet();
        }
        this.ping(session, () => {
          if (session.destroyed) return;
          if (read() !== seen) {
            seen = read();
            return quiet();
          }
          this.closed++;
          this.onClose(peer);
          session.destroy();
        });
      }, this.opts.timeMs);
      timer.unref();
    };
    quiet();
    session.once("close", () => clearTimeout(timer));
  }

  /**
   * Ping, then call `decide` once `timeoutMs` passed. Deciding on the next turn (setImmediate)
   * lets an ack that arrived while this process was busy be read first: after a long stall, timers
   * run before the socket is read.
   */
  private ping(session: PingableSession, decide: () => void): void {
    this.pings++;
    try {
      session.ping(() => {});
    } catch {
      // closed meanwhile: decide finds it destroyed, or silent
    }
    setTimeout(() => setImmediate(decide), this.opts.timeoutMs).unref();
  }
}
