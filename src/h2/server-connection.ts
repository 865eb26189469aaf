// The server side of one HTTP/2 (RFC 9113) connection, on a net or TLS socket: what a gRPC server
// needs (client streams only, no push, priorities ignored). Node's Http2Stream costs 35–45 µs of
// CPU per stream for one written buffer (nghttp2 framing, a JS stream, callbacks across the
// binding); a push to 2000 proxies pays that 2000 times. Here a message is framed in JavaScript
// into one buffer (response headers, DATA frame headers, payload) and handed to the socket in one
// write, as flow control allows; big messages go by reference under one cork.
import { EventEmitter } from "node:events";
import type net from "node:net";
import {
  ACK,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  END_HEADERS,
  END_STREAM,
  FRAME_HEADER,
  FrameError,
  frameBytes,
  H2,
  MAX_FRAME_LIMIT,
  MAX_WINDOW,
  PADDED,
  PREFACE,
  PRIORITY_FLAG,
  putFrameHeader,
  Setting,
  Type,
} from "./frames.js";
import { FrameReader, type FrameHandler } from "./frame-reader.js";
import { HpackDecoder, HpackError } from "./hpack.js";
import { SendSlab } from "./send-slab.js";

export type HeaderFields = readonly (readonly [string, string])[];

/** What a stream's owner is told of it. */
export interface StreamHandler {
  /** DATA bytes: a view of the socket's chunk (not reused, may be kept). */
  data(bytes: Buffer): void;
  /** The peer half-closed the stream. */
  end(): void;
  /** The stream is gone without our ending it: the peer reset it, or the connection closed. Once. */
  aborted(why: string): void;
}

export interface ServerConnectionOptions {
  /** A new stream and its request headers. Set `stream.handler` (now or later: data waits). */
  onStream(stream: ServerStream, headers: HeaderFields): void;
  readonly maxConcurrentStreams?: number;
  /** Our receive window per stream and for the connection. */
  readonly streamWindow?: number;
  readonly connectionWindow?: number;
  /** The largest header block taken (bigger: the connection fails). */
  readonly maxHeaderBlock?: number;
}

const DEFAULT_STREAM_WINDOW = 1024 * 1024;
const DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024;
const DEFAULT_MAX_HEADER_BLOCK = 256 * 1024;
/** Messages up to this many bytes are copied into one buffer; longer ones are written by reference. */
const COPY_LIMIT = 64 * 1024;
/** In longer ones, slices of at least this many bytes go by reference (copying them cost the full sync more CPU than writing them); shorter ones are copied, with the frame headers, into staging buffers of STAGE_BYTES. */
const BY_REFERENCE = 256;
const STAGE_BYTES = 64 * 1024;
/** Where whole small messages are framed (sendWhole): a push writes one to each of thousands of sockets. */
const sendBuffers = new SendSlab(256 * 1024);
/**
 * The first staging buffer of a long send holds its frame headers and this much more (its small
 * pieces: about 1.3 KB per full sync response): a 64 KiB one for each was about 190 MiB of new
 * external memory per 1000-proxy full sync, which V8 collects for. More go into further ones.
 */
const STAGE_SMALL_PIECES = 2 * 1024;

/** `:status: 200` (static index 8) and `content-type: application/grpc` (name index 31), literals not indexed. */
const GRPC_RESPONSE_HEADERS = Buffer.concat([Buffer.from([0x88, 0x0f, 0x10, 16]), Buffer.from("application/grpc", "latin1")]);

interface Completion {
  /** Sent bytes of the stream's queue after which `done` is due. */
  readonly upTo: number;
  readonly done: () => void;
}

export class ServerStream {
  /** Set by the stream's owner; DATA that arrives before waits in `early`. */
  private owner: StreamHandler | undefined;
  private early: Buffer[] | undefined;
  private earlyEnd = false;
  sendWindow: number;
  /** Bytes the peer sent and we handed on, not yet given back by WINDOW_UPDATE. */
  unacked = 0;
  /** Bytes the peer may still send (our window as it sees it). */
  recvWindow: number;
  /** DATA payload bytes waiting for window: `queue[qHead]` from `qOff` on. */
  readonly queue: Uint8Array[] = [];
  qHead = 0;
  qOff = 0;
  queued = 0;
  queuedTotal = 0;
  sentTotal = 0;
  readonly completions: Completion[] = [];
  headersSent = false;
  /** Trailers waiting for the queue to drain. */
  trailers: Buffer | undefined;
  remoteEnded = false;
  /** We sent END_STREAM or RST_STREAM, or the peer reset it. */
  closed = false;

  constructor(
    readonly id: number,
    readonly conn: ServerConnection,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  get handler(): StreamHandler | undefined {
    return this.owner;
  }

  /** Take over the stream's events; DATA that arrived meanwhile is handed on first. */
  set handler(h: StreamHandler | undefined) {
    this.owner = h;
    if (!h) return;
    const early = this.early;
    this.early = undefined;
    for (const b of early ?? []) {
      if (this.closed) return;
      this.conn.consumed(this, b.length);
      h.data(b);
    }
    if (this.earlyEnd && !this.closed) h.end();
  }

  /** @internal DATA for the stream. */
  received(b: Buffer, counted: number): void {
    if (this.owner) {
      this.conn.consumed(this, counted);
      if (b.length > 0) this.owner.data(b);
    } else {
      (this.early ??= []).push(b);
      if (counted > b.length) this.conn.consumed(this, counted - b.length);
    }
  }

  /** @internal */
  ended(): void {
    this.remoteEnded = true;
    if (this.owner) this.owner.end();
    else this.earlyEnd = true;
  }

  /**
   * Send one gRPC message: its length prefix and `parts` (`length` bytes in all), response headers
   * first if none were sent. `done` once its last byte was handed to the kernel.
   */
  writeMessage(parts: readonly Uint8Array[], length: number, done?: () => void): void {
    if (this.closed) return;
    // A change's response to each of thousands of streams: nothing waits before it, and the windows take it.
    if (this.queued === 0 && this.trailers === undefined && this.conn.sendWhole(this, parts, length, done)) return;
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(length, 1);
    this.queue.push(prefix);
    for (let i = 0; i < parts.length; i++) if (parts[i]!.length > 0) this.queue.push(parts[i]!);
    this.queued += 5 + length;
    this.queuedTotal += 5 + length;
    if (done) this.completions.push({ upTo: this.queuedTotal, done });
    this.conn.drain(this);
  }

  /** End the stream with `trailers` (a header block) once what is queued was sent. */
  end(trailers: Buffer): void {
    if (this.closed || this.trailers) return;
    this.trailers = trailers;
    this.conn.drain(this);
  }

  /** End the stream with this header block alone (an HTTP error response, not gRPC's). */
  respondOnly(block: Buffer): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.end(block);
  }

  /** Reset the stream (nothing more is sent or reported). */
  reset(code: number): void {
    this.conn.resetStream(this, code);
  }

  /** The response headers (once), for a stream that answers without a message yet. */
  get responseHeaders(): Buffer {
    return GRPC_RESPONSE_HEADERS;
  }

  /** @internal the peer reset the stream, or the connection is gone. */
  abort(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.completions.length = 0;
    this.owner?.aborted(why);
  }
}

export class ServerConnection extends EventEmitter {
  private readonly streams = new Map<number, ServerStream>();
  private readonly decoder = new HpackDecoder();
  private readonly maxStreams: number;
  private readonly streamWindow: number;
  private readonly connWindow: number;
  private readonly maxHeaderBlock: number;
  private prefaceLeft = PREFACE.length;
  private settingsSeen = false;
  private readonly frames = new FrameReader(this.frameHandler(), false);
  private dataStream: ServerStream | undefined;
  private headerBlock: { id: number; end: boolean; parts: Buffer[]; size: number } | undefined;
  private lastStreamId = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private connSendWindow = DEFAULT_WINDOW;
  private connUnacked = 0;
  /** Streams with DATA waiting for the connection's window, in order. */
  private readonly blocked = new Set<ServerStream>();
  private readonly pings: (() => void)[] = [];
  private readonly out: Buffer[] = [];
  private inRead = false;
  private goawaySent = false;
  destroyed = false;
  private sawStream = false;

  constructor(
    readonly socket: net.Socket,
    private readonly o: ServerConnectionOptions,
  ) {
    super();
    this.maxStreams = o.maxConcurrentStreams ?? 1000;
    this.streamWindow = Math.min(o.streamWindow ?? DEFAULT_STREAM_WINDOW, MAX_WINDOW);
    this.connWindow = Math.min(o.connectionWindow ?? DEFAULT_CONNECTION_WINDOW, MAX_WINDOW);
    this.maxHeaderBlock = o.maxHeaderBlock ?? DEFAULT_MAX_HEADER_BLOCK;
    socket.setNoDelay(true);
    socket.on("data", (b: Buffer) => this.read(b));
    socket.on("error", () => this.destroy());
    socket.on("close", () => this.destroy());
    socket.on("end", () => this.destroy());
    const settings = Buffer.allocUnsafe(12);
    settings.writeUInt16BE(Setting.MAX_CONCURRENT_STREAMS, 0);
    settings.writeUInt32BE(this.maxStreams, 2);
    settings.writeUInt16BE(Setting.INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(this.streamWindow, 8);
    this.control(frameBytes(Type.SETTINGS, 0, 0, settings));
    if (this.connWindow > DEFAULT_WINDOW) this.windowUpdate(0, this.connWindow - DEFAULT_WINDOW);
    this.flushControl();
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** PING the peer; `acked` when its ack arrives (not called if the connection goes first). */
  ping(acked: () => void): void {
    if (this.destroyed) return;
    this.pings.push(acked);
    this.control(frameBytes(Type.PING, 0, 0, Buffer.alloc(8)));
    this.flushControl();
  }

  /** GOAWAY: no new streams; the socket ends once the open ones are done. */
  close(code: number = H2.NO_ERROR): void {
    if (this.destroyed) return;
    this.goaway(code, "");
    this.flushControl();
    if (this.streams.size === 0) this.socket.end();
  }

  /** Close at once: every open stream is told. */
  destroy(why = "connection closed"): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.flushControl();
    for (const s of [...this.streams.values()]) s.abort(why);
    this.streams.clear();
    this.blocked.clear();
    this.pings.length = 0;
    if (!this.socket.destroyed) this.socket.destroySoon();
    this.emit("close");
  }

  /** @internal DATA bytes of `s` were taken: give the window back in big steps. */
  consumed(s: ServerStream, n: number): void {
    if (s.closed || s.remoteEnded) return;
    s.unacked += n;
    if (s.unacked >= this.streamWindow / 2) {
      this.windowUpdate(s.id, s.unacked);
      s.recvWindow += s.unacked;
      s.unacked = 0;
      if (!this.inRead) this.flushControl();
    }
  }

  /** @internal */
  resetStream(s: ServerStream, code: number): void {
    if (this.destroyed || !this.streams.has(s.id)) return;
    this.control(rstFrame(s.id, code));
    this.flushControl();
    this.forget(s);
    s.closed = true;
    s.queue.length = 0;
  }

  private forget(s: ServerStream): void {
    this.streams.delete(s.id);
    this.blocked.delete(s);
    if (this.dataStream === s) this.dataStream = undefined;
    if (this.goawaySent && this.streams.size === 0 && !this.destroyed) this.socket.end();
  }

  /** @internal Send what `s` has queued as its windows allow; then its trailers, once all is sent. */
  drain(s: ServerStream): void {
    if (this.destroyed || s.closed) return;
    if (s.queued > 0) {
      const n = Math.min(s.queued, s.sendWindow, this.connSendWindow);
      if (n > 0) this.sendData(s, n);
      if (s.queued > 0) {
        if (this.connSendWindow <= 0) this.blocked.add(s);
        return;
      }
    }
    if (s.trailers) this.sendTrailers(s);
  }

  private sendTrailers(s: ServerStream): void {
    const block = s.headersSent ? s.trailers! : Buffer.concat([GRPC_RESPONSE_HEADERS, s.trailers!]);
    s.headersSent = true;
    s.trailers = undefined;
    this.flushControl();
    this.socket.write(this.headerFrames(s.id, block, true));
    s.closed = true;
    // The response is complete: the peer need not send more (RFC 9113 §8.1).
    if (!s.remoteEnded) this.socket.write(rstFrame(s.id, H2.NO_ERROR));
    this.forget(s);
  }

  /** HEADERS (and CONTINUATION) frames of a header block, one buffer. */
  private headerFrames(id: number, block: Buffer, end: boolean): Buffer {
    const max = this.peerMaxFrame;
    const frames = Math.max(1, Math.ceil(block.length / max));
    const b = Buffer.allocUnsafe(frames * FRAME_HEADER + block.length);
    let at = 0;
    for (let i = 0, from = 0; i < frames; i++) {
      const len = Math.min(max, block.length - from);
      const last = i === frames - 1;
      putFrameHeader(b, at, len, i === 0 ? Type.HEADERS : Type.CONTINUATION, (last ? END_HEADERS : 0) | (i === 0 && end ? END_STREAM : 0), id);
      block.copy(b, at + FRAME_HEADER, from, from + len);
      at += FRAME_HEADER + len;
      from += len;
    }
    return b;
  }

  /**
   * `n` bytes of `s`'s queue as DATA frames (after its response headers, the first time). Up to
   * COPY_LIMIT bytes: one buffer holding everything, one socket write. Longer: frame headers and
   * small pieces copied into staging buffers, slices of big pieces by reference, one corked batch.
   */
  private sendData(s: ServerStream, n: number): void {
    const max = this.peerMaxFrame;
    const frames = Math.ceil(n / max);
    const head = s.headersSent ? undefined : this.headerFrames(s.id, GRPC_RESPONSE_HEADERS, false);
    s.headersSent = true;
    s.sendWindow -= n;
    this.connSendWindow -= n;
    s.queued -= n;
    s.sentTotal += n;
    const cb = this.completed(s);
    this.flushControl();
    const sock = this.socket;
    const whole = (head?.length ?? 0) + frames * FRAME_HEADER + n;
    const copyAll = n <= COPY_LIMIT;
    // Copying everything: no piece is long enough to go by reference.
    const byReference = copyAll ? COPY_LIMIT + 1 : BY_REFERENCE;
    let stageBytes = copyAll ? whole : Math.min(STAGE_BYTES, whole, whole - n + STAGE_SMALL_PIECES);
    if (!copyAll) sock.cork();
    // Bytes from `from` to `at` of the staging buffer are not written yet; what is written of it
    // stays the socket's, so a full one is replaced, never reused.
    let stage = Buffer.allocUnsafe(stageBytes);
    let from = 0;
    let at = 0;
    if (head) {
      head.copy(stage, 0);
      at = head.length;
    }
    const queue = s.queue;
    let left = n;
    while (left > 0) {
      const len = Math.min(max, left);
      if (at + FRAME_HEADER > stageBytes) {
        if (at > from) sock.write(stage.subarray(from, at));
        stage = Buffer.allocUnsafe((stageBytes = STAGE_BYTES));
        from = at = 0;
      }
      putFrameHeader(stage, at, len, Type.DATA, 0, s.id);
      at += FRAME_HEADER;
      let need = len;
      while (need > 0) {
        const piece = queue[s.qHead]!;
        const take = Math.min(need, piece.length - s.qOff);
        const slice = take === piece.length ? piece : piece.subarray(s.qOff, s.qOff + take);
        if (take >= byReference) {
          if (at > from) sock.write(stage.subarray(from, at));
          from = at;
          sock.write(slice);
        } else {
          if (at + take > stageBytes) {
            if (at > from) sock.write(stage.subarray(from, at));
            stage = Buffer.allocUnsafe((stageBytes = STAGE_BYTES));
            from = at = 0;
          }
          stage.set(slice, at);
          at += take;
        }
        need -= take;
        s.qOff += take;
        if (s.qOff === piece.length) {
          s.qHead++;
          s.qOff = 0;
        }
      }
      left -= len;
    }
    this.compact(s);
    if (at > from) sock.write(from === 0 && at === stageBytes ? stage : stage.subarray(from, at), cb);
    else if (cb) sock.write(EMPTY, cb);
    if (!copyAll) sock.uncork();
  }

  private compact(s: ServerStream): void {
    if (s.qHead === s.queue.length) {
      s.queue.length = 0;
      s.qHead = 0;
    } else if (s.qHead > 64) {
      s.queue.splice(0, s.qHead);
      s.qHead = 0;
    }
  }

  /**
   * @internal A whole message, when nothing of `s` is queued and the windows take all of it: framed
   * straight into one buffer and written, as sendData would frame it from the queue, without
   * queueing its pieces, a buffer for its prefix or a record of its completion. False: not sent.
   */
  sendWhole(s: ServerStream, parts: readonly Uint8Array[], length: number, done: (() => void) | undefined): boolean {
    const n = 5 + length;
    if (this.destroyed || n > COPY_LIMIT || n > s.sendWindow || n > this.connSendWindow) return false;
    const max = this.peerMaxFrame;
    const head = s.headersSent ? undefined : this.headerFrames(s.id, GRPC_RESPONSE_HEADERS, false);
    s.headersSent = true;
    s.sendWindow -= n;
    this.connSendWindow -= n;
    s.queuedTotal += n;
    s.sentTotal += n;
    this.flushControl();
    const headLen = head?.length ?? 0;
    const b = sendBuffers.take(headLen + Math.ceil(n / max) * FRAME_HEADER + n);
    if (head) head.copy(b, 0);
    // The first frame holds the prefix (a frame is at least 16 KiB); a piece may span frames.
    let left = n - Math.min(max, n);
    let room = Math.min(max, n) - 5;
    putFrameHeader(b, headLen, room + 5, Type.DATA, 0, s.id);
    let at = headLen + FRAME_HEADER;
    b[at] = 0;
    b.writeUInt32BE(length, at + 1);
    at += 5;
    for (let i = 0; i < parts.length; i++) {
      const piece = parts[i]!;
      for (let off = 0; off < piece.length;) {
        if (room === 0) {
          room = Math.min(max, left);
          left -= room;
          putFrameHeader(b, at, room, Type.DATA, 0, s.id);
          at += FRAME_HEADER;
        }
        const take = Math.min(room, piece.length - off);
        b.set(take === piece.length ? piece : piece.subarray(off, off + take), at);
        at += take;
        off += take;
        room -= take;
      }
    }
    this.socket.write(b, done);
    return true;
  }

  /** The callbacks of messages whose last byte is in this send, as one function (or none). */
  private completed(s: ServerStream): (() => void) | undefined {
    const c = s.completions;
    if (c.length === 0 || c[0]!.upTo > s.sentTotal) return undefined;
    if (c.length === 1 || c[1]!.upTo > s.sentTotal) return c.shift()!.done;
    const due: (() => void)[] = [];
    while (c.length > 0 && c[0]!.upTo <= s.sentTotal) due.push(c.shift()!.done);
    return () => {
      for (const d of due) d();
    };
  }

  private control(b: Buffer): void {
    this.out.push(b);
  }

  private flushControl(): void {
    if (this.out.length === 0) return;
    const b = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out.length = 0;
    if (!this.socket.destroyed) this.socket.write(b);
  }

  private windowUpdate(id: number, n: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(n, 0);
    this.control(frameBytes(Type.WINDOW_UPDATE, 0, id, p));
  }

  private goaway(code: number, debug: string): void {
    if (this.goawaySent) return;
    this.goawaySent = true;
    const d = Buffer.from(debug, "utf8");
    const p = Buffer.allocUnsafe(8 + d.length);
    p.writeUInt32BE(this.lastStreamId, 0);
    p.writeUInt32BE(code, 4);
    d.copy(p, 8);
    this.control(frameBytes(Type.GOAWAY, 0, 0, p));
  }

  /** A connection error: GOAWAY with its code, then the socket goes. */
  private connectionError(code: number, why: string): void {
    if (this.destroyed) return;
    this.goaway(code, why);
    this.flushControl();
    this.socket.end();
    this.destroy(`HTTP/2 protocol error: ${why}`);
  }

  private read(chunk: Buffer): void {
    if (this.destroyed) return;
    this.inRead = true;
    try {
      let b = chunk;
      if (this.prefaceLeft > 0) {
        const at = PREFACE.length - this.prefaceLeft;
        const n = Math.min(this.prefaceLeft, b.length);
        if (PREFACE.compare(b, 0, n, at, at + n) !== 0) throw new FrameError(H2.PROTOCOL_ERROR, "bad connection preface");
        this.prefaceLeft -= n;
        b = b.subarray(n);
      }
      if (b.length > 0) this.frames.read(b);
    } catch (e) {
      const code = e instanceof FrameError ? e.code : e instanceof HpackError ? H2.COMPRESSION_ERROR : H2.PROTOCOL_ERROR;
      this.inRead = false;
      return this.connectionError(code, (e as Error).message);
    }
    this.inRead = false;
    this.flushControl();
  }

  private frameHandler(): FrameHandler {
    return {
      stopped: () => this.destroyed,
      checkFrame: (type) => this.checkFrame(type),
      startData: (id, length) => this.startData(id, length),
      onData: (id, bytes, counted, end) => this.onData(id, bytes, counted, end),
      onFrame: (type, flags, id, payload) => this.onFrame(type, flags, id, payload),
    };
  }

  /** Before a frame is read: a client's first frame is SETTINGS, and a header block's CONTINUATION frames come one after another. */
  private checkFrame(type: number): void {
    if (!this.settingsSeen && type !== Type.SETTINGS) throw new FrameError(H2.PROTOCOL_ERROR, "the first frame is not SETTINGS");
    if (this.headerBlock && type !== Type.CONTINUATION) throw new FrameError(H2.PROTOCOL_ERROR, "expected CONTINUATION");
  }

  /** A DATA frame begins: check its stream and the windows (its length counts all at once). */
  private startData(id: number, length: number): void {
    if (id === 0) throw new FrameError(H2.PROTOCOL_ERROR, "DATA on stream 0");
    if (id > this.lastStreamId) throw new FrameError(H2.PROTOCOL_ERROR, "DATA on an idle stream");
    this.connUnacked += length;
    if (this.connUnacked > this.connWindow) throw new FrameError(H2.FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    if (this.connUnacked >= this.connWindow / 2) {
      this.windowUpdate(0, this.connUnacked);
      this.connUnacked = 0;
    }
    const s = this.streams.get(id);
    this.dataStream = s && !s.remoteEnded ? s : undefined;
    if (!this.dataStream) return; // closed: counted against the connection only
    s!.recvWindow -= length;
    if (s!.recvWindow < 0) throw new FrameError(H2.FLOW_CONTROL_ERROR, `DATA beyond stream ${id}'s window`);
  }

  private onData(id: number, bytes: Buffer, counted: number, end: boolean): void {
    const s = this.dataStream;
    if (!s || s.id !== id || s.closed) return;
    s.received(bytes, counted);
    if (end && !s.closed) this.remoteEnd(s);
  }

  private remoteEnd(s: ServerStream): void {
    s.ended();
    if (s.closed) this.forget(s);
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    switch (type) {
      case Type.DATA: {
        const pad = p[0] ?? 0;
        if (p.length < 1 + pad) throw new FrameError(H2.PROTOCOL_ERROR, "padding longer than the frame");
        const end = (flags & END_STREAM) !== 0;
        this.startData(id, p.length);
        return this.onData(id, p.subarray(1, p.length - pad), p.length, end);
      }
      case Type.HEADERS: {
        if (id === 0 || id % 2 === 0) throw new FrameError(H2.PROTOCOL_ERROR, `HEADERS on stream ${id}`);
        let start = 0;
        let end = p.length;
        if (flags & PADDED) {
          end -= p[0] ?? 0;
          start = 1;
        }
        if (flags & PRIORITY_FLAG) start += 5;
        if (start > end) throw new FrameError(H2.PROTOCOL_ERROR, "HEADERS padding");
        const part = p.subarray(start, end);
        if (flags & END_HEADERS) return this.onHeaders(id, (flags & END_STREAM) !== 0, part);
        this.headerBlock = { id, end: (flags & END_STREAM) !== 0, parts: [part], size: part.length };
        return;
      }
      case Type.CONTINUATION: {
        const block = this.headerBlock;
        if (!block || block.id !== id) throw new FrameError(H2.PROTOCOL_ERROR, "unexpected CONTINUATION");
        block.parts.push(p);
        block.size += p.length;
        if (block.size > this.maxHeaderBlock) throw new FrameError(H2.ENHANCE_YOUR_CALM, "header block too large");
        if (flags & END_HEADERS) {
          this.headerBlock = undefined;
          this.onHeaders(block.id, block.end, Buffer.concat(block.parts));
        }
        return;
      }
      case Type.PRIORITY:
        if (p.length !== 5) throw new FrameError(H2.FRAME_SIZE_ERROR, "PRIORITY length");
        return;
      case Type.RST_STREAM: {
        if (p.length !== 4) throw new FrameError(H2.FRAME_SIZE_ERROR, "RST_STREAM length");
        if (id === 0 || id > this.lastStreamId) throw new FrameError(H2.PROTOCOL_ERROR, `RST_STREAM on stream ${id}`);
        const s = this.streams.get(id);
        if (!s) return;
        this.forget(s);
        s.abort(`reset by the client (HTTP/2 code ${p.readUInt32BE(0)})`);
        return;
      }
      case Type.SETTINGS:
        return this.onSettings(flags, id, p);
      case Type.PING:
        if (p.length !== 8) throw new FrameError(H2.FRAME_SIZE_ERROR, "PING length");
        if (id !== 0) throw new FrameError(H2.PROTOCOL_ERROR, "PING on a stream");
        if (flags & ACK) this.pings.shift()?.();
        else this.control(frameBytes(Type.PING, ACK, 0, p));
        return;
      case Type.GOAWAY:
        // The client goes: it opens no more streams; ours end with theirs.
        if (id !== 0) throw new FrameError(H2.PROTOCOL_ERROR, "GOAWAY on a stream");
        this.goaway(H2.NO_ERROR, "");
        if (this.streams.size === 0) this.socket.end();
        return;
      case Type.WINDOW_UPDATE: {
        if (p.length !== 4) throw new FrameError(H2.FRAME_SIZE_ERROR, "WINDOW_UPDATE length");
        const n = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) {
          if (n === 0) throw new FrameError(H2.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
          this.connSendWindow += n;
          if (this.connSendWindow > MAX_WINDOW) throw new FrameError(H2.FLOW_CONTROL_ERROR, "connection window above 2^31-1");
          this.unblock();
          return;
        }
        const s = this.streams.get(id);
        if (!s) {
          if (id > this.lastStreamId) throw new FrameError(H2.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
          return;
        }
        if (n === 0) return this.resetStream(s, H2.PROTOCOL_ERROR);
        s.sendWindow += n;
        if (s.sendWindow > MAX_WINDOW) return this.resetStream(s, H2.FLOW_CONTROL_ERROR);
        return this.drain(s);
      }
      case Type.PUSH_PROMISE:
        throw new FrameError(H2.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      default:
        return; // unknown types are ignored (RFC 9113 §5.5)
    }
  }

  private unblock(): void {
    for (const s of [...this.blocked]) {
      if (this.connSendWindow <= 0) return;
      this.blocked.delete(s);
      this.drain(s);
    }
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new FrameError(H2.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & ACK) {
      if (p.length !== 0) throw new FrameError(H2.FRAME_SIZE_ERROR, "SETTINGS ack with a payload");
      return;
    }
    if (p.length % 6 !== 0) throw new FrameError(H2.FRAME_SIZE_ERROR, "SETTINGS length");
    this.settingsSeen = true;
    for (let at = 0; at < p.length; at += 6) {
      const key = p.readUInt16BE(at);
      const value = p.readUInt32BE(at + 2);
      if (key === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new FrameError(H2.FLOW_CONTROL_ERROR, "initial window above 2^31-1");
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (key === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > MAX_FRAME_LIMIT) throw new FrameError(H2.PROTOCOL_ERROR, `MAX_FRAME_SIZE ${value}`);
        this.peerMaxFrame = value;
      } else if (key === Setting.ENABLE_PUSH && value > 1) throw new FrameError(H2.PROTOCOL_ERROR, "ENABLE_PUSH above 1");
      // HEADER_TABLE_SIZE bounds our encoder's table, which never indexes.
    }
    this.control(frameBytes(Type.SETTINGS, ACK, 0));
    for (const s of [...this.streams.values()]) this.drain(s);
  }

  private onHeaders(id: number, end: boolean, block: Buffer): void {
    if (block.length > this.maxHeaderBlock) throw new FrameError(H2.ENHANCE_YOUR_CALM, "header block too large");
    // Decoded whatever becomes of the stream: the dynamic table must follow the peer's.
    const fields = this.decoder.decode(block);
    const existing = this.streams.get(id);
    if (existing) {
      // Trailers from the client: they end its side.
      if (!end) throw new FrameError(H2.PROTOCOL_ERROR, "second HEADERS without END_STREAM");
      if (!existing.remoteEnded) this.remoteEnd(existing);
      return;
    }
    if (id <= this.lastStreamId) {
      if (end) return;
      throw new FrameError(H2.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    }
    this.lastStreamId = id;
    if (this.goawaySent) return this.control(rstFrame(id, H2.REFUSED_STREAM));
    if (this.streams.size >= this.maxStreams) return this.control(rstFrame(id, H2.REFUSED_STREAM));
    const s = new ServerStream(id, this, this.peerInitialWindow, this.streamWindow);
    this.streams.set(id, s);
    if (!this.sawStream) {
      this.sawStream = true;
      this.emit("stream");
    }
    this.o.onStream(s, fields);
    if (end && !s.closed) this.remoteEnd(s);
  }
}

const EMPTY = Buffer.alloc(0);

function rstFrame(id: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + 4);
  putFrameHeader(b, 0, 4, Type.RST_STREAM, 0, id);
  b.writeUInt32BE(code, FRAME_HEADER);
  return b;
}
