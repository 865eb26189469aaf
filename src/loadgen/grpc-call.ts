// One bidirectional gRPC stream of a load client, straight on node:http2. A full sync hands each
// proxy megabytes; grpc-js' client copies every message out of its HTTP/2 chunks into a fresh
// buffer of its own, and those copies and allocations (page faults, GC pressure from external
// memory) cost the load generator more than everything it does with the bytes. Here a message
// that lies in one chunk is handed as a view of it, and one split over chunks is gathered once,
// into a buffer of its size. Framing, headers and trailers follow the gRPC over HTTP/2 protocol.
import { Deframer } from "../xds/grpc-deframer.js";
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type SecureClientSessionOptions } from "node:http2";

/** gRPC status codes the client reports itself (the server's arrive in grpc-status). */
const GRPC_UNAVAILABLE = 14;
const GRPC_INTERNAL = 13;
const GRPC_CANCELLED = 1;

export interface CallHandlers {
  /** One message (it may be a view into the chunk it came in). */
  message(bytes: Buffer): void;
  /** The stream is over: its gRPC status (0 when the server ended it cleanly). Called once. */
  status(code: number, details: string): void;
}

export interface ChannelOptions {
  /** host:port. */
  readonly address: string;
  /** TLS (the server's certificate checked against `ca`); absent: plaintext (h2c). */
  readonly tls?: Pick<SecureClientSessionOptions, "ca" | "cert" | "key" | "servername">;
  /** The :authority (default the address). */
  readonly authority?: string;
  /** HTTP/2 initial stream window and connection window, in bytes. */
  readonly window: number;
}

const HEADER_BYTES = 5;

/** The length prefix and the message, one buffer. */
export function frame(msg: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + msg.length);
  b[0] = 0;
  b.writeUInt32BE(msg.length, 1);
  b.set(msg, HEADER_BYTES);
  return b;
}

/** grpc-message is percent-encoded. */
function details(h: IncomingHttpHeaders): string {
  const m = h["grpc-message"];
  const s = Array.isArray(m) ? m.join(",") : (m ?? "");
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** One connection (HTTP/2 session) of one proxy; opened on the first call, again after it closes. */
export class GrpcChannel {
  private session: ClientHttp2Session | undefined;

  constructor(private readonly o: ChannelOptions) {}

  private connect(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const url = `${this.o.tls ? "https" : "http"}://${this.o.address}`;
    const s = http2.connect(url, {
      settings: { initialWindowSize: this.o.window },
      // The load client consumes what arrives at once; node's default cap would only add a failure mode.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      ...(this.o.tls ?? {}),
    });
    s.once("connect", () => {
      if (!s.destroyed) s.setLocalWindowSize(this.o.window);
    });
    // Errors reach the streams (their 'close'); a session error must not be uncaught.
    s.on("error", () => {});
    this.session = s;
    return s;
  }

  /** A new stream of `path` with these request headers (metadata). */
  call(path: string, metadata: Readonly<Record<string, string>>, h: CallHandlers): GrpcCall {
    return new GrpcCall(this.connect(), path, this.o.authority ?? this.o.address, metadata, h);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

export class GrpcCall {
  private readonly stream: ClientHttp2Stream;
  private done = false;
  private readonly deframer: Deframer;

  constructor(
    session: ClientHttp2Session,
    path: string,
    authority: string,
    metadata: Readonly<Record<string, string>>,
    private readonly h: CallHandlers,
  ) {
    this.deframer = new Deframer<never>((b, compressed) => {
      if (compressed) throw new Error("grpc: compressed message (none was asked for)");
      if (!this.done) h.message(b);
    });
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      ":authority": authority,
      "content-type": "application/grpc",
      te: "trailers",
      "user-agent": "meshpilot-loadgen",
      ...metadata,
    });
    this.stream = stream;
    stream.on("response", (headers) => {
      const st = headers[":status"];
      if (st !== 200) return this.finish(GRPC_UNAVAILABLE, `HTTP status ${st}`);
      // Trailers-only: the status comes with the headers.
      if (headers["grpc-status"] !== undefined) this.trailers(headers);
    });
    stream.on("data", (chunk: Buffer) => {
      if (this.done) return;
      try {
        this.deframer.push(chunk);
      } catch (e) {
        this.finish(GRPC_INTERNAL, (e as Error).message);
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      }
    });
    stream.on("trailers", (trailers) => this.trailers(trailers));
    stream.on("error", (e: Error) => this.finish(GRPC_UNAVAILABLE, e.message));
    stream.on("close", () => {
      const rst = stream.rstCode;
      this.finish(
        rst === http2.constants.NGHTTP2_CANCEL ? GRPC_CANCELLED : GRPC_UNAVAILABLE,
        rst ? `stream reset (HTTP/2 code ${rst})` : "stream closed without a gRPC status",
      );
    });
  }

  private trailers(t: IncomingHttpHeaders): void {
    const code = Number(t["grpc-status"]);
    if (!Number.isInteger(code)) return this.finish(GRPC_INTERNAL, "trailers without grpc-status");
    if (code === 0 && this.deframer.partial) return this.finish(GRPC_INTERNAL, "stream ended inside a message");
    this.finish(code, details(t));
  }

  private finish(code: number, why: string): void {
    if (this.done) return;
    this.done = true;
    this.h.status(code, why);
  }

  write(msg: Uint8Array): void {
    if (!this.done && !this.stream.closed) this.stream.write(frame(msg));
  }

  /** Half-close, then reset: the stream is abandoned (nothing more is reported). */
  cancel(): void {
    this.done = true;
    if (!this.stream.closed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}
