// One bidirectional gRPC stream of a load client, on the load clients' own HTTP/2 connection
// (h2-connection.ts). A full sync hands each proxy megabytes: a message that lies in one read is
// handed as a view of it, one split over reads is gathered once, into a buffer of its size.
// Framing, headers and trailers follow the gRPC over HTTP/2 protocol.
import type { SecureClientSessionOptions } from "node:http2";
import net from "node:net";
import { GatherPool } from "../xds/gather-pool.js";
import { Deframer } from "../xds/grpc-deframer.js";
import { H2, H2Connection } from "./h2-connection.js";

/** gRPC status codes the client reports itself (the server's arrive in grpc-status). */
const GRPC_UNAVAILABLE = 14;
const GRPC_INTERNAL = 13;
const GRPC_CANCELLED = 1;

export interface CallHandlers {
  /** One message: a view valid only during the call (the bytes are read then, never kept). */
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

/** A message is handed as a view valid only during the call (CallHandlers.message): its gathering buffer serves the next one. */
const gatherPool = new GatherPool();

/** The length prefix and the message, one buffer. */
export function frame(msg: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + msg.length);
  b[0] = 0;
  b.writeUInt32BE(msg.length, 1);
  b.set(msg, HEADER_BYTES);
  return b;
}

/** grpc-message is percent-encoded. */
function details(m: string | undefined): string {
  const s = m ?? "";
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** host:port (an IPv6 host in brackets). */
function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(colon + 1)) };
}

/** One connection of one proxy; opened on the first call, again after it closes. */
export class GrpcChannel {
  private conn: H2Connection | undefined;

  constructor(private readonly o: ChannelOptions) {}

  private connect(): H2Connection {
    if (this.conn && !this.conn.closing) return this.conn;
    const { host, port } = hostPort(this.o.address);
    const t = this.o.tls;
    this.conn = new H2Connection({
      host,
      port,
      window: this.o.window,
      ...(t ? { tls: { ...t, ...(t.servername === undefined && net.isIP(host) === 0 ? { servername: host } : {}) } } : {}),
    });
    return this.conn;
  }

  /** A new stream of `path` with these request headers (metadata). */
  call(path: string, metadata: Readonly<Record<string, string>>, h: CallHandlers): GrpcCall {
    const conn = this.connect();
    return new GrpcCall(conn, path, this.o.tls ? "https" : "http", this.o.authority ?? this.o.address, metadata, h);
  }

  close(): void {
    this.conn?.close();
    this.conn = undefined;
  }
}

export class GrpcCall {
  private readonly id: number;
  private done = false;
  private readonly deframer: Deframer;
  private gotHeaders = false;

  constructor(
    private readonly conn: H2Connection,
    path: string,
    scheme: string,
    authority: string,
    metadata: Readonly<Record<string, string>>,
    private readonly h: CallHandlers,
  ) {
    this.deframer = new Deframer<never>(
      (b, compressed) => {
        if (compressed) throw new Error("grpc: compressed message (none was asked for)");
        if (!this.done) h.message(b);
      },
      undefined,
      gatherPool,
    );
    this.id = conn.request(
      [
        [":method", "POST"],
        [":scheme", scheme],
        [":path", path],
        [":authority", authority],
        ["content-type", "application/grpc"],
        ["te", "trailers"],
        ["user-agent", "meshpilot-loadgen"],
        ...Object.entries(metadata),
      ],
      {
        headers: (fields, end) => {
          const f = new Map<string, string>();
          for (const [k, v] of fields) f.set(k, f.has(k) ? `${f.get(k)!},${v}` : v);
          if (!this.gotHeaders) {
            this.gotHeaders = true;
            const st = f.get(":status");
            if (st !== "200") return this.fail(GRPC_UNAVAILABLE, `HTTP status ${st}`);
            // Trailers-only: the status comes with the headers.
            if (end || f.has("grpc-status")) return this.trailers(f);
            return;
          }
          this.trailers(f);
        },
        data: (bytes) => {
          if (this.done) return;
          try {
            this.deframer.push(bytes);
          } catch (e) {
            this.fail(GRPC_INTERNAL, (e as Error).message);
          }
        },
        closed: (why) => {
          if (why.rst !== undefined) this.finish(why.rst === H2.CANCEL ? GRPC_CANCELLED : GRPC_UNAVAILABLE, `stream reset (HTTP/2 code ${why.rst})`);
          else this.finish(GRPC_UNAVAILABLE, why.error ?? "stream closed without a gRPC status");
        },
      },
    );
  }

  private trailers(t: ReadonlyMap<string, string>): void {
    const code = Number(t.get("grpc-status") ?? NaN);
    if (!Number.isInteger(code)) return this.fail(GRPC_INTERNAL, "trailers without grpc-status");
    if (code === 0 && this.deframer.partial) return this.fail(GRPC_INTERNAL, "stream ended inside a message");
    this.finish(code, details(t.get("grpc-message")));
  }

  /** Our own failure: reported, and the stream is reset. */
  private fail(code: number, why: string): void {
    this.finish(code, why);
    this.conn.cancel(this.id);
  }

  private finish(code: number, why: string): void {
    if (this.done) return;
    this.done = true;
    this.h.status(code, why);
  }

  write(msg: Uint8Array): void {
    if (!this.done) this.conn.write(this.id, frame(msg));
  }

  /** Resets the stream: it is abandoned (nothing more is reported). */
  cancel(): void {
    this.done = true;
    this.conn.cancel(this.id);
  }
}
