/**
 * A small HTTP backend for tests and the demo. It answers every request with JSON
 * `{version, name, path, method, headers, protocol}` and the header `x-backend-version`, counts
 * what it receives, and can be told to misbehave (fail the first N requests, delay, or answer
 * through a custom handler).
 *
 * One port speaks both HTTP/1.1 and HTTP/2 cleartext with prior knowledge (h2c), chosen per
 * connection from the first bytes, so Envoy clusters configured either way can reach it.
 *
 *   const v1 = await startBackend({ version: "v1" });     // 127.0.0.1:<ephemeral>
 *   v1.failNext(2, 503);                                   // the next 2 requests get 503
 *   …
 *   expect(v1.count).toBe(3);
 *   await v1.close();
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import { listenOrAdopt } from "./net.js";

export interface BackendOptions {
  /** Reported in the body and in `x-backend-version`. */
  readonly version: string;
  /** Reported as `name` in the body and `x-backend-name`; default `backend`. */
  readonly name?: string;
  /** Default 127.0.0.1. Any 127.0.0.0/8 address works on Linux without setup. */
  readonly host?: string;
  /** Default 0 (ephemeral). */
  readonly port?: number;
  /** Serve this already-listening server's connections instead of listening at host:port (see NetNs.listen). */
  readonly listening?: net.Server;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** `1.1` or `2.0`. */
  readonly httpVersion: string;
  /** 1-based order of arrival. */
  readonly seq: number;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Decides a reply; return undefined to fall through to the default JSON echo. */
export type Handler = (req: RecordedRequest, body: string) => Reply | undefined | Promise<Reply | undefined>;

export interface Backend {
  readonly version: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  /** Requests received since start or reset(). */
  readonly count: number;
  readonly requests: readonly RecordedRequest[];
  /** The next `n` requests are answered with `status` (default 503) and body `injected failure`. */
  failNext(n: number, status?: number): void;
  /** Every answer waits this long first (0 to stop). */
  setDelay(ms: number): void;
  /** Custom behaviour, consulted before the default echo (undefined to remove). */
  setHandler(handler: Handler | undefined): void;
  /** Clears counts, recorded requests and injected behaviour. */
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const H2_PREFACE = "PRI * HTTP/2.0\r\n";

/** A duplex over `socket` that first yields `head` (bytes already read from it). */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(head);
  socket.on("data", (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on("end", () => d.push(null));
  socket.on("close", () => d.destroy());
  return d;
}

export async function startBackend(options: BackendOptions): Promise<Backend> {
  const version = options.version;
  const name = options.name ?? "backend";
  const host = options.host ?? "127.0.0.1";
  let requests: RecordedRequest[] = [];
  let failLeft = 0;
  let failStatus = 503;
  let delayMs = 0;
  let handler: Handler | undefined;

  const handle = async (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !k.startsWith(":")) headers[k] = Array.isArray(v) ? v.join(", ") : String(v);
    }
    const authority = req.headers[":authority"];
    if (headers["host"] === undefined && typeof authority === "string") headers["host"] = authority;
    const rec: RecordedRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers, httpVersion: req.httpVersion, seq: requests.length + 1 };
    requests.push(rec);

    if (delayMs > 0) await sleep(delayMs);
    let reply: Reply | undefined;
    if (failLeft > 0) {
      failLeft--;
      reply = { status: failStatus, body: "injected failure\n" };
    } else if (handler) {
      reply = await handler(rec, body);
    }
    reply ??= {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version, name, path: rec.path, method: rec.method, headers, protocol: rec.httpVersion }) + "\n",
    };
    if (res.headersSent || res.destroyed) return;
    const out: Record<string, string> = { "x-backend-version": version, "x-backend-name": name, ...reply.headers };
    res.writeHead(reply.status, out);
    res.end(reply.body ?? "");
  };
  const onRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { "x-backend-version": version });
        res.end(`backend error: ${(err as Error).message}\n`);
      }
    });
  };

  const h1 = http.createServer(onRequest);
  h1.keepAliveTimeout = 60_000;
  const h2 = http2.createServer(onRequest);
  const sockets = new Set<net.Socket>();

  // Sniff the first bytes of each connection: the HTTP/2 preface goes to the h2 server, anything
  // else to the HTTP/1.1 server.
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const text = seen.toString("latin1");
      const couldBeH2 = H2_PREFACE.startsWith(text.slice(0, H2_PREFACE.length));
      if (couldBeH2 && seen.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off("data", onData);
      if (couldBeH2) {
        // The h2 session reads the socket's native handle and would miss bytes given back with
        // unshift(); hand it a stream that replays them instead.
        h2.emit("connection", replaying(socket, seen));
      } else {
        socket.pause();
        socket.unshift(seen);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });

  const addr = await listenOrAdopt(front, host, options.port ?? 0, options.listening);

  return {
    version,
    name,
    host,
    port: addr.port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${addr.port}`,
    get count() {
      return requests.length;
    },
    get requests() {
      return requests;
    },
    failNext(n: number, status = 503) {
      failLeft = n;
      failStatus = status;
    },
    setDelay(ms: number) {
      delayMs = ms;
    },
    setHandler(h: Handler | undefined) {
      handler = h;
    },
    reset() {
      requests = [];
      failLeft = 0;
      delayMs = 0;
      handler = undefined;
    },
    close() {
      return new Promise<void>((resolve) => {
        front.close(() => resolve());
        for (const s of sockets) s.destroy();
        h1.close();
        h2.close();
      });
    },
  };
}

// ───────────────────────────── client side ─────────────────────────────

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Wall time from sending to the end of the body, in ms. */
  readonly ms: number;
  /** Over TLS (a TLS connection from `connect`): the CN of the certificate the server presented. */
  readonly serverCn?: string;
}

export interface HttpRequestOptions {
  readonly method?: string;
  /** Sent as the Host header (fetch() cannot set it; sidecar routes match on it). */
  readonly host?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Default 10 s; a timeout rejects. */
  readonly timeoutMs?: number;
  /** The connection to send on (say, one made in another network namespace, or TLS over it); the URL's host and port are then only its label. */
  readonly connect?: () => Duplex;
}

/** An agent whose only connection is `connect()`'s. */
function connectionAgent(connect: () => Duplex): http.Agent {
  const agent = new http.Agent({ keepAlive: false, maxSockets: 1 });
  agent.createConnection = () => connect() as net.Socket;
  return agent;
}

/** One HTTP/1.1 request on a fresh connection, e.g. to an Envoy listener with `Host: reviews`. */
export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname.replace(/^\[|\]$/g, ""),
        port: u.port || 80,
        path: `${u.pathname}${u.search}`,
        method: opts.method ?? "GET",
        headers: { ...(opts.host ? { host: opts.host } : {}), ...opts.headers },
        // `createConnection` beside `agent: false` is ignored (the fresh agent dials the URL): an
        // agent of its own is the way to send on the given connection.
        agent: opts.connect ? connectionAgent(opts.connect) : false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        // Read while the response holds its socket (it is released at the end).
        const cn = res.socket instanceof TLSSocket ? res.socket.getPeerCertificate().subject?.CN : undefined;
        const serverCn = Array.isArray(cn) ? cn.join(",") : cn;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
          resolve({
            status: res.statusCode ?? 0,
            headers,
            body: Buffer.concat(chunks).toString(),
            ms: performance.now() - t0,
            ...(serverCn ? { serverCn } : {}),
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${opts.method ?? "GET"} ${url}: no answer within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/**
 * Sends `n` requests (a few at a time) and counts answers by `x-backend-version` (or by status
 * as `status:<code>` when the header is missing).
 */
export async function tally(url: string, n: number, opts: HttpRequestOptions & { concurrency?: number } = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await httpRequest(url, opts);
      const key = res.headers["x-backend-version"] ?? `status:${res.status}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, n) }, worker));
  return counts;
}

/**
 * The band [lo, hi] that a Binomial(n, p) count falls in except with negligible probability
 * (`sigmas` standard deviations, default 5: about 1 in 1.7 million). Assert weighted splits and
 * fault percentages with this, never with an exact count.
 */
export function binomialBand(n: number, p: number, sigmas = 5): { lo: number; hi: number } {
  const mean = n * p;
  const sd = Math.sqrt(n * p * (1 - p));
  return { lo: Math.max(0, Math.floor(mean - sigmas * sd)), hi: Math.min(n, Math.ceil(mean + sigmas * sd)) };
}
