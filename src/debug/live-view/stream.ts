// The live view's feed: Server-Sent Events, each a whole LiveState, sent when a client connects
// and again whenever a build changed something (config, endpoints, findings, history) or a
// proxy's sync state moved (connect, ACK, NACK, disconnect). The xDS server reports no event per
// ACK, so sync states are compared on a short poll, and only while someone is watching; a burst of
// changes is coalesced into one event.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { liveProxies, liveState, type LiveSources } from "./state.js";

export interface LiveStreamOptions {
  /** How often sync states are compared while clients are connected (default 250 ms). */
  readonly pollMs?: number;
  /** Quiet time that gathers a burst of changes into one event (default 50 ms). */
  readonly coalesceMs?: number;
  /** A comment line this often keeps idle connections open through proxies (default 15 s). */
  readonly heartbeatMs?: number;
}

export class LiveStream {
  private readonly clients = new Set<ServerResponse>();
  private timers: NodeJS.Timeout[] = [];
  private pending: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private syncSeen = "";
  private sequence = 0;

  constructor(
    private readonly src: LiveSources,
    private readonly logger: Logger,
    private readonly opts: LiveStreamOptions = {},
  ) {}

  /** Clients currently connected. */
  get size(): number {
    return this.clients.size;
  }

  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    // EventSource reconnects after this many milliseconds when the server goes away.
    res.write("retry: 1000\n\n");
    this.clients.add(res);
    if (this.clients.size === 1) this.start();
    this.send([res]);
    const drop = (): void => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    };
    req.once("close", drop);
    res.once("close", drop);
  }

  private start(): void {
    this.syncSeen = this.syncFingerprint();
    this.unsubscribe = this.src.controlPlane.onBuild(() => this.schedule());
    const poll = setInterval(() => {
      const now = this.syncFingerprint();
      if (now !== this.syncSeen) {
        this.syncSeen = now;
        this.schedule();
      }
    }, this.opts.pollMs ?? 250);
    const heartbeat = setInterval(() => {
      for (const c of this.clients) c.write(": keep-alive\n\n");
    }, this.opts.heartbeatMs ?? 15_000);
    this.timers = [poll, heartbeat];
    for (const t of this.timers) t.unref();
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
  }

  private syncFingerprint(): string {
    return JSON.stringify(liveProxies(this.src.syncStatus()));
  }

  // After the build's own synchronous work: the push history is recorded right after the build's listeners run.
  private schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.send([...this.clients]);
    }, this.opts.coalesceMs ?? 50);
    this.pending.unref();
  }

  private send(to: readonly ServerResponse[]): void {
    if (to.length === 0) return;
    let data: string;
    try {
      data = JSON.stringify(liveState(this.src));
    } catch (err) {
      this.logger.error({ err }, "live view: could not compute the state");
      return;
    }
    const event = `id: ${++this.sequence}\nevent: state\ndata: ${data}\n\n`;
    for (const c of to) c.write(event);
  }
}
