// The load clients' HTTP/2 (RFC 9113) connection, on a net or TLS socket: what a gRPC client
// needs and nothing more (no server push, no priorities, client streams only). node:http2 hands a
// full sync's megabytes to JavaScript one DATA frame at a time, each through nghttp2, a callback
// into JS and a Readable stream, and that costs the load generator more CPU per byte than its
// own reading of the responses; here a socket read (up to READ_BYTES) is cut into frames in
// one pass and DATA payloads are handed on as views of it.
import net from "node:net";
import tls from "node:tls";
import {
  ACK,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  END_HEADERS,
  END_STREAM,
  FRAME_HEADER,
  FrameError,
  H2,
  PADDED,
  PREFACE,
  PRIORITY_FLAG,
  Setting,
  Type,
} from "../h2/frames.js";
import { FrameReader } from "../h2/frame-reader.js";
import { encodeHeaders, HpackDecoder, HpackError } from "../h2/hpack.js";

/** Socket reads land in one buffer per process (all handling is synchronous): no allocation per read. */
const READ_BYTES = 256 * 1024;

const SETTINGS_ENABLE_PUSH = Setting.ENABLE_PUSH;
const SETTINGS_INITIAL_WINDOW_SIZE = Setting.INITIAL_WINDOW_SIZE;
const SETTINGS_MAX_FRAME_SIZE = Setting.MAX_FRAME_SIZE;

export { H2 };

/** What a stream is told; each is called in order, `closed` last and once. */
export interface StreamEvents {
  /** The response headers (or the trailers, when `end`). */
  headers(fields: readonly (readonly [string, string])[], end: boolean): void;
  /** DATA bytes, a view valid only during the call. */
  data(bytes: Buffer): void;
  /** The stream is over: `rst` the peer's RST_STREAM code, `error` a connection failure. */
  closed(why: { rst?: number; error?: string; ended?: boolean }): void;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** TLS with ALPN h2; absent: plaintext with prior knowledge (h2c). */
  readonly tls?: tls.ConnectionOptions;
  /** Our initial stream window and connection window. */
  readonly window: number;
}

class Stream {
  /** What the peer lets us send. */
  sendWindow: number;
  /** Bytes waiting for window. */
  readonly pending: Buffer[] = [];
  /** DATA bytes taken since our last WINDOW_UPDATE of the stream. */
  consumed = 0;
  gotHeaders = false;
  done = false;

  constructor(
    readonly id: number,
    readonly events: StreamEvents,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }
}

export class H2Connection {
  private readonly socket: net.Socket;
  private readonly streams = new Map<number, Stream>();
  private nextId = 1;
  private readonly decoder = new HpackDecoder();
  /** Frame bytes of a frame split over reads (a copy: reads land in a shared buffer). */
  private readonly frames = new FrameReader(
    {
      stopped: () => this.closed,
      // A header block's CONTINUATION frames come one after another.
      checkFrame: (type) => {
        if (this.headerBlock && type !== Type.CONTINUATION) throw new FrameError(H2.PROTOCOL_ERROR, "expected CONTINUATION");
      },
      startData: () => {},
      onData: (id, bytes, counted, end) => this.onData(id, bytes, counted, end),
      onFrame: (type, flags, id, payload) => this.onFrame(type, flags, id, payload),
    },
    true,
  );
  /** The DATA frame whose payload is being read across reads: its stream, payload bytes left. */
  /** A header block in CONTINUATION frames: its stream, end-of-stream flag and fragments. */
  private headerBlock: { id: number; end: boolean; parts: Buffer[] } | undefined;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private connSendWindow = DEFAULT_WINDOW;
  private connConsumed = 0;
  /** GOAWAY received or sent, or the socket is gone: no new streams. */
  closing = false;
  closed = false;
  private readonly out: Buffer[] = [];
  private flushQueued = false;

  constructor(private readonly o: ConnectOptions) {
    const onread = { buffer: sharedReadBuffer(), callback: (n: number, buf: Uint8Array): boolean => this.read(buf as Buffer, n) };
    if (o.tls) {
      const s = tls.connect({ ...o.tls, host: o.host, port: o.port, ALPNProtocols: ["h2"] });
      s.once("secureConnect", () => {
        if (s.alpnProtocol !== "h2") this.fail(`server did not negotiate h2 (ALPN: ${s.alpnProtocol || "none"})`);
      });
      s.on("data", (b: Buffer) => void this.read(b, b.length));
      this.socket = s;
    } else {
      this.socket = net.connect({ host: o.host, port: o.port, onread });
    }
    this.socket.setNoDelay(true);
    this.socket.on("error", (e) => this.fail(e.message));
    this.socket.on("close", () => this.fail("connection closed"));
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(o.window, 8);
    this.send(PREFACE);
    this.frame(Type.SETTINGS, 0, 0, settings);
    if (o.window > DEFAULT_WINDOW) this.windowUpdate(0, o.window - DEFAULT_WINDOW);
  }

  /** Opens a stream with these request headers. */
  request(headers: readonly (readonly [string, string])[], events: StreamEvents): number {
    const id = this.nextId;
    this.nextId += 2;
    const s = new Stream(id, events, this.peerInitialWindow);
    this.streams.set(id, s);
    if (this.closing || id >= 2 ** 31) {
      queueMicrotask(() => this.finish(s, { error: "connection closing" }));
      return id;
    }
    const block = encodeHeaders(headers);
    for (let at = 0, first = true; first || at < block.length; first = false) {
      const part = block.subarray(at, at + this.peerMaxFrame);
      at += part.length;
      const last = at >= block.length;
      this.frame(first ? Type.HEADERS : Type.CONTINUATION, last ? END_HEADERS : 0, id, part);
    }
    return id;
  }

  /** Sends `bytes` on the stream as DATA, as the peer's windows allow. */
  write(id: number, bytes: Buffer): void {
    const s = this.streams.get(id);
    if (!s || s.done || bytes.length === 0) return;
    s.pending.push(bytes);
    this.drain(s);
  }

  /** Resets the stream (CANCEL); nothing more is reported for it. */
  cancel(id: number): void {
    const s = this.streams.get(id);
    if (!s || s.done) return;
    s.done = true;
    this.streams.delete(id);
    if (!this.closed) this.rst(id, H2.CANCEL);
    if (this.closing && !this.closed && this.streams.size === 0) this.close();
  }

  /** GOAWAY, then the socket ends; open streams are told the connection closed. */
  close(): void {
    if (this.closed) return;
    if (!this.closing) this.goaway(H2.NO_ERROR);
    this.closing = true;
    this.flush();
    this.socket.end();
    this.fail("connection closed by the client");
  }

  private drain(s: Stream): void {
    while (s.pending.length > 0) {
      const room = Math.min(s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (room <= 0) return;
      let b = s.pending[0]!;
      if (b.length > room) {
        s.pending[0] = b.subarray(room);
        b = b.subarray(0, room);
      } else s.pending.shift();
      s.sendWindow -= b.length;
      this.connSendWindow -= b.length;
      this.frame(Type.DATA, 0, s.id, b);
    }
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    const h = Buffer.allocUnsafe(FRAME_HEADER);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(id, 5);
    this.send(h);
    if (payload.length) this.send(payload);
  }

  private send(b: Buffer): void {
    if (this.closed) return;
    this.out.push(b);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.out.length === 0 || this.closed) return;
    const b = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out.length = 0;
    this.socket.write(b);
  }

  private windowUpdate(id: number, n: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(n, 0);
    this.frame(Type.WINDOW_UPDATE, 0, id, p);
  }

  private rst(id: number, code: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(code, 0);
    this.frame(Type.RST_STREAM, 0, id, p);
  }

  private goaway(code: number): void {
    const p = Buffer.alloc(8);
    p.writeUInt32BE(code, 4);
    this.frame(Type.GOAWAY, 0, 0, p);
  }

  /** The connection is unusable: every open stream is told, the socket goes. */
  private fail(why: string): void {
    if (this.closed) return;
    this.closing = true;
    this.flush();
    this.closed = true;
    for (const s of [...this.streams.values()]) this.finish(s, { error: why });
    this.socket.destroySoon();
  }

  /** A protocol error of the peer: GOAWAY, then the connection fails. */
  private protocolError(code: number, why: string): void {
    if (this.closed) return;
    this.goaway(code);
    this.fail(`HTTP/2 protocol error: ${why}`);
  }

  private finish(s: Stream, why: Parameters<StreamEvents["closed"]>[0]): void {
    this.streams.delete(s.id);
    if (!s.done) {
      s.done = true;
      s.events.closed(why);
    }
    // After a GOAWAY the connection ends with its last stream (a new call opens another).
    if (this.closing && !this.closed && this.streams.size === 0) this.close();
  }

  /** One socket read (`n` bytes of `buf`, which is reused after this returns). */
  private read(buf: Buffer, n: number): boolean {
    if (this.closed) return true;
    try {
      this.frames.read(buf.subarray(0, n));
    } catch (e) {
      const code = e instanceof FrameError ? e.code : e instanceof HpackError ? H2.COMPRESSION_ERROR : H2.PROTOCOL_ERROR;
      this.protocolError(code, (e as Error).message);
    }
    this.flush();
    return true;
  }

  /** `bytes` of a DATA frame's payload (`counted`: flow-controlled bytes they stand for). */
  private onData(id: number, bytes: Buffer, counted: number, end: boolean): void {
    if (id === 0) return this.protocolError(H2.PROTOCOL_ERROR, "DATA on stream 0");
    this.connConsumed += counted;
    if (this.connConsumed >= this.o.window / 2) {
      this.windowUpdate(0, this.connConsumed);
      this.connConsumed = 0;
    }
    const s = this.streams.get(id);
    if (!s) return;
    if (!s.gotHeaders) return this.streamError(s, "DATA before response headers");
    s.consumed += counted;
    if (!end && s.consumed >= this.o.window / 2) {
      this.windowUpdate(id, s.consumed);
      s.consumed = 0;
    }
    if (bytes.length) s.events.data(bytes);
    if (end && !s.done) this.remoteEnd(s);
  }

  private remoteEnd(s: Stream): void {
    this.finish(s, { ended: true });
  }

  private streamError(s: Stream, why: string): void {
    this.rst(s.id, H2.PROTOCOL_ERROR);
    this.finish(s, { error: why });
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    switch (type) {
      case Type.DATA: {
        // Padded: the pad length, the data, the padding (all flow-controlled).
        const pad = p[0] ?? 0;
        if (p.length < 1 + pad) return this.protocolError(H2.PROTOCOL_ERROR, "padding longer than the frame");
        return this.onData(id, p.subarray(1, p.length - pad), p.length, (flags & END_STREAM) !== 0);
      }
      case Type.HEADERS: {
        let start = 0;
        let end = p.length;
        if (flags & PADDED) {
          end -= p[0] ?? 0;
          start = 1;
        }
        if (flags & PRIORITY_FLAG) start += 5;
        if (start > end) return this.protocolError(H2.PROTOCOL_ERROR, "HEADERS padding");
        const block = { id, end: (flags & END_STREAM) !== 0, parts: [Buffer.from(p.subarray(start, end))] };
        if (flags & END_HEADERS) return this.onHeaders(block.id, block.end, block.parts[0]!);
        this.headerBlock = block;
        return;
      }
      case Type.CONTINUATION: {
        const block = this.headerBlock;
        if (!block || block.id !== id) return this.protocolError(H2.PROTOCOL_ERROR, "unexpected CONTINUATION");
        block.parts.push(Buffer.from(p));
        if (flags & END_HEADERS) {
          this.headerBlock = undefined;
          this.onHeaders(block.id, block.end, Buffer.concat(block.parts));
        }
        return;
      }
      case Type.RST_STREAM: {
        const s = this.streams.get(id);
        if (s) this.finish(s, { rst: p.length >= 4 ? p.readUInt32BE(0) : H2.PROTOCOL_ERROR });
        return;
      }
      case Type.SETTINGS:
        return this.onSettings(flags, p);
      case Type.PING:
        if ((flags & ACK) === 0) this.frame(Type.PING, ACK, 0, Buffer.from(p));
        return;
      case Type.GOAWAY: {
        this.closing = true;
        const lastPeerStream = p.length >= 4 ? p.readUInt32BE(0) & 0x7fffffff : 0;
        const code = p.length >= 8 ? p.readUInt32BE(4) : 0;
        for (const s of [...this.streams.values()]) if (s.id > lastPeerStream) this.finish(s, { error: `GOAWAY (HTTP/2 code ${code})` });
        return;
      }
      case Type.WINDOW_UPDATE: {
        const n = p.length >= 4 ? p.readUInt32BE(0) & 0x7fffffff : 0;
        if (id === 0) {
          this.connSendWindow += n;
          for (const s of this.streams.values()) this.drain(s);
        } else {
          const s = this.streams.get(id);
          if (!s) return;
          s.sendWindow += n;
          this.drain(s);
        }
        return;
      }
      case Type.PUSH_PROMISE:
        // Push was disabled in our SETTINGS.
        return this.protocolError(H2.PROTOCOL_ERROR, "PUSH_PROMISE");
      default:
        // PRIORITY and unknown types are ignored (RFC 9113 §5.5).
        return;
    }
  }

  private onSettings(flags: number, p: Buffer): void {
    if (flags & ACK) return;
    if (p.length % 6 !== 0) return this.protocolError(H2.FRAME_SIZE_ERROR, "SETTINGS length");
    for (let at = 0; at < p.length; at += 6) {
      const key = p.readUInt16BE(at);
      const value = p.readUInt32BE(at + 2);
      if (key === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > 2 ** 31 - 1) return this.protocolError(H2.FLOW_CONTROL_ERROR, "initial window above 2^31-1");
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (key === SETTINGS_MAX_FRAME_SIZE) {
        this.peerMaxFrame = Math.min(Math.max(value, DEFAULT_MAX_FRAME), 2 ** 24 - 1);
      }
      // SETTINGS_HEADER_TABLE_SIZE bounds the encoder's table; ours never indexes.
    }
    this.frame(Type.SETTINGS, ACK, 0, Buffer.alloc(0));
    for (const s of this.streams.values()) this.drain(s);
  }

  private onHeaders(id: number, end: boolean, block: Buffer): void {
    // Decoded even for a stream we dropped: the dynamic table must follow the peer's.
    const fields = this.decoder.decode(block);
    const s = this.streams.get(id);
    if (!s) return;
    s.gotHeaders = true;
    s.events.headers(fields, end);
    if (end && !s.done) this.remoteEnd(s);
  }
}

let readBuffer: Buffer | undefined;
function sharedReadBuffer(): Buffer {
  return (readBuffer ??= Buffer.allocUnsafeSlow(READ_BYTES));
}
