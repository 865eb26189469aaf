// HTTP/2 frames out of a byte stream, for both ends (the xDS server's connections and the load
// generator's client). DATA frames are handed on as their bytes arrive, across socket reads,
// rather than waiting for a whole 16 KiB frame; every other frame is handed on whole.
import { DEFAULT_MAX_FRAME, END_STREAM, FRAME_HEADER, FrameError, H2, PADDED, Type } from "./frames.js";

/** Where frames go; any method may throw FrameError (a connection error). */
export interface FrameHandler {
  /** Whether the connection is gone: reading stops. */
  stopped(): boolean;
  /** Checks of each frame header before its frame is read (length already checked). */
  checkFrame(type: number): void;
  /** An unpadded DATA frame of `length` bytes begins on stream `id` (its length counts against the windows at once). */
  startData(id: number, length: number, end: boolean): void;
  /** Bytes of a DATA frame (`counted`: the flow-controlled bytes they stand for; `end`: END_STREAM, with its last bytes). */
  onData(id: number, bytes: Buffer, counted: number, end: boolean): void;
  /** Any other frame, whole (a padded DATA frame too). */
  onFrame(type: number, flags: number, id: number, payload: Buffer): void;
}

export class FrameReader {
  /** An incomplete frame header or frame from the last read. */
  private partial: Buffer | undefined;
  private dataId = 0;
  private dataLeft = 0;
  private dataEnd = false;

  /** `copyTail`: the reads' buffers are reused by the caller, so an incomplete tail is copied. */
  constructor(
    private readonly h: FrameHandler,
    private readonly copyTail: boolean,
  ) {}

  /** The frames in `chunk`; throws FrameError where the peer broke the protocol. */
  read(chunk: Buffer): void {
    let b = chunk;
    if (this.partial) {
      b = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    let pos = 0;
    while (pos < b.length && !this.h.stopped()) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, b.length - pos);
        this.dataLeft -= take;
        this.h.onData(this.dataId, b.subarray(pos, pos + take), take, this.dataLeft === 0 && this.dataEnd);
        pos += take;
        continue;
      }
      if (b.length - pos < FRAME_HEADER) break;
      const length = (b[pos]! << 16) | (b[pos + 1]! << 8) | b[pos + 2]!;
      const type = b[pos + 3]!;
      const flags = b[pos + 4]!;
      const id = b.readUInt32BE(pos + 5) & 0x7fffffff;
      // Frames are at most what our SETTINGS allow (the default maximum).
      if (length > DEFAULT_MAX_FRAME) throw new FrameError(H2.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
      this.h.checkFrame(type);
      if (type === Type.DATA && (flags & PADDED) === 0) {
        pos += FRAME_HEADER;
        const end = (flags & END_STREAM) !== 0;
        this.h.startData(id, length, end);
        this.dataId = id;
        this.dataEnd = end;
        const take = Math.min(length, b.length - pos);
        this.dataLeft = length - take;
        this.h.onData(id, b.subarray(pos, pos + take), take, this.dataLeft === 0 && end);
        pos += take;
        continue;
      }
      if (b.length - pos < FRAME_HEADER + length) break;
      this.h.onFrame(type, flags, id, b.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + length));
      pos += FRAME_HEADER + length;
    }
    if (pos < b.length && !this.h.stopped()) this.partial = this.copyTail ? Buffer.from(b.subarray(pos)) : b.subarray(pos);
  }
}
