// One gRPC call on meshpilot's own HTTP/2 server (src/h2/server-connection.ts): request metadata,
// deadline (grpc-timeout), length-prefixed messages both ways, status and trailers. ADS and SDS
// streams use it as their AdsCall; unary services get a grpc-js-like call (h2-grpc-server.ts).
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { encodeHeaders } from "../h2/hpack.js";
import type { HeaderFields, ServerStream, StreamHandler } from "../h2/server-connection.js";
import type { AdsCall } from "./ads-call.js";
import type { PieceWriter } from "./gather-write.js";
import { requestDeframer, type RequestSink } from "./request-reader.js";
import type { Pieces } from "./wire.js";

/** Request metadata as grpc-js' Metadata.get answers it (binary `-bin` values decoded). */
export class H2Metadata {
  private readonly fields = new Map<string, (string | Buffer)[]>();

  constructor(headers: HeaderFields) {
    for (const [name, value] of headers) {
      if (name.startsWith(":")) continue;
      const v: string | Buffer = name.endsWith("-bin") ? Buffer.from(value, "base64") : value;
      const list = this.fields.get(name);
      if (list) list.push(v);
      else this.fields.set(name, [v]);
    }
  }

  get(key: string): (string | Buffer)[] {
    return this.fields.get(key.toLowerCase()) ?? [];
  }
}

/** grpc-message: bytes outside printable ASCII, and '%', percent-encoded (gRPC over HTTP/2). */
export function percentEncode(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** grpc-timeout (an integer of at most 8 digits and a unit) in milliseconds; undefined if absent or malformed. */
export function grpcTimeoutMs(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as "H"];
  return n * unit;
}

export function trailersBlock(code: number, details: string): Buffer {
  return encodeHeaders(
    details === ""
      ? [["grpc-status", String(code)]]
      : [
          ["grpc-status", String(code)],
          ["grpc-message", percentEncode(details)],
        ],
  );
}

export class H2GrpcCall implements AdsCall {
  readonly path: string;
  readonly metadata: H2Metadata;
  /** The request's grpc-encoding ("identity" when it named none). */
  readonly encoding: string;
  private readonly goneHooks: ((reason: string) => void)[] = [];
  private deadline: NodeJS.Timeout | undefined;
  /** The call is over: status sent, or reset, or the connection is gone. */
  done = false;
  readonly write: PieceWriter;

  constructor(
    readonly stream: ServerStream,
    headers: HeaderFields,
    private readonly maxReceiveBytes: number,
  ) {
    let path = "";
    let encoding = "identity";
    let timeout: string | undefined;
    for (const [n, v] of headers) {
      if (n === ":path") path = v;
      else if (n === "grpc-encoding") encoding = v;
      else if (n === "grpc-timeout") timeout = v;
    }
    this.path = path;
    this.encoding = encoding;
    this.metadata = new H2Metadata(headers);
    const ms = grpcTimeoutMs(timeout);
    if (ms !== undefined) {
      this.deadline = setTimeout(() => this.fail(GrpcStatus.DEADLINE_EXCEEDED, "Deadline exceeded"), Math.min(ms, 2 ** 31 - 1));
      this.deadline.unref();
    }
    const stream_ = stream;
    this.write = Object.assign(
      (message: Pieces, done: () => void): void => {
        if (!this.done) stream_.writeMessage(message.chunks, message.length, done);
      },
      { gathered: true },
    );
  }

  getPeer(): string {
    // As grpc-js says it, and as keepalive.ts finds a connection's streams by it.
    const s = this.stream.conn.socket;
    return `${s.remoteAddress ?? ""}:${s.remotePort ?? ""}`;
  }

  /** As grpc-js' getAuthContext: the TLS peer's certificate, when it presented one. */
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } {
    const s = this.stream.conn.socket as Partial<TLSSocket>;
    if (typeof s.getPeerCertificate !== "function") return {};
    const cert = s.getPeerCertificate();
    return { transportSecurityType: "ssl", ...(cert && cert.raw ? { sslPeerCertificate: cert } : {}) };
  }

  /** The stream is over already (reset by the peer, or ended). */
  get cancelled(): boolean {
    return this.stream.closed;
  }

  read(sink: RequestSink): void {
    const deframer = requestDeframer(this.maxReceiveBytes, this.encoding, (raw) => {
      if (!this.done) sink.message(raw);
    });
    let failed = false;
    const handler: StreamHandler = {
      data: (bytes) => {
        if (this.done || failed) return;
        const why = deframer.push(bytes);
        if (!why) return;
        failed = true; // the deframer lost its place: nothing after this is a message
        this.fail(why.code, why.details);
      },
      end: () => {
        if (!this.done) sink.end();
      },
      aborted: (why) => {
        if (this.done) return;
        this.finish();
        this.gone(why.startsWith("reset by the client") ? "cancelled by the client" : why);
      },
    };
    this.stream.handler = handler;
  }

  end(): void {
    this.sendStatus(GrpcStatus.OK, "");
  }

  onGone(hook: (reason: string) => void): void {
    this.goneHooks.push(hook);
  }

  fail(code: GrpcStatus, details: string): void {
    if (this.done) return;
    this.sendStatus(code, details);
    this.gone(`stream error: ${details}`);
  }

  /** End the call with `code` (trailers, or trailers only when nothing was sent). */
  sendStatus(code: GrpcStatus, details: string): void {
    if (this.done) return;
    this.finish();
    this.stream.end(trailersBlock(code, details));
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.deadline);
  }

  private gone(reason: string): void {
    for (const h of this.goneHooks.splice(0)) h(reason);
  }
}
