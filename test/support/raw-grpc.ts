// A gRPC stream spoken directly over node:http2, for tests that need a peer misbehaving below
// grpc-js: one that never reads what the server sends (so HTTP/2 flow control stops the server's
// writes), or one that reads and discards (counting messages and bytes) without ever answering.
// Its own connection; every wait is bounded; `close` resets the stream and ends the session.
import http2 from "node:http2";

export interface RawGrpcOptions {
  /**
   * Consume what arrives (counted, then dropped). When false, nothing is read: the stream's
   * HTTP/2 window is never reopened, so the server can send at most `windowBytes`.
   */
  readonly read: boolean;
  /** Our initial stream window (HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE); 64 KiB by default. */
  readonly windowBytes?: number;
}

export class RawGrpcStream {
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  /** gRPC messages received in full (read mode only). */
  messages = 0;
  /** Bytes of gRPC frames received (read mode only). */
  bytes = 0;
  /** The session or stream failed (after `close`, nothing is recorded). */
  error: string | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private closing = false;

  constructor(address: string, path: string, opts: RawGrpcOptions) {
    this.session = http2.connect(`http://${address}`, { settings: { initialWindowSize: opts.windowBytes ?? 65_535 } });
    this.session.on("error", (e) => this.fail(`session: ${e.message}`));
    this.stream = this.session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    this.stream.on("error", (e) => this.fail(`stream: ${e.message}`));
    this.stream.on("trailers", (t) => {
      if (t["grpc-status"] !== undefined && t["grpc-status"] !== "0") this.fail(`grpc-status ${String(t["grpc-status"])}: ${String(t["grpc-message"] ?? "")}`);
    });
    if (opts.read) this.stream.on("data", (chunk: Buffer) => this.count(chunk));
  }

  private fail(message: string): void {
    if (!this.closing) this.error ??= message;
  }

  /** Count whole messages: a 5-byte prefix (compressed flag, big-endian length) then the body. */
  private count(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 5) {
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + len) break;
      this.messages++;
      this.pending = this.pending.subarray(5 + len);
    }
  }

  /** Send one message (already serialized). */
  send(message: Uint8Array): void {
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    this.stream.write(frame);
  }

  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.session.destroy();
        resolve();
      }, 1000);
      this.stream.close(http2.constants.NGHTTP2_CANCEL);
      this.session.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
