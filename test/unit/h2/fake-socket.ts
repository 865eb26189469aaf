// A socket stand-in for ServerConnection: what it writes is kept and can be read back as frames;
// what the peer "sends" is emitted as 'data', cut wherever a test likes.
import { EventEmitter } from "node:events";
import type net from "node:net";
import { FRAME_HEADER } from "../../../src/h2/frames.js";

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly id: number;
  readonly payload: Buffer;
}

export class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  /** What each write was a view of (its ArrayBuffer), as written. */
  readonly backing: ArrayBufferLike[] = [];
  writes = 0;
  ended = false;
  destroyed = false;
  remoteAddress = "127.0.0.1";
  remotePort = 4242;
  bytesRead = 0;
  private read = 0;

  setNoDelay(): void {}
  cork(): void {}
  uncork(): void {}

  write(b: Uint8Array, cb?: () => void): boolean {
    this.writes++;
    this.backing.push(b.buffer);
    this.written.push(Buffer.from(b));
    if (cb) queueMicrotask(cb);
    return true;
  }

  end(): void {
    this.ended = true;
  }

  destroySoon(): void {
    this.destroyed = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  /** The peer sends `b`. */
  send(b: Buffer): void {
    this.bytesRead += b.length;
    this.emit("data", b);
  }

  /** Frames written since the last call. */
  frames(): Frame[] {
    const all = Buffer.concat(this.written);
    const out: Frame[] = [];
    let pos = this.read;
    while (all.length - pos >= FRAME_HEADER) {
      const len = all.readUIntBE(pos, 3);
      if (all.length - pos < FRAME_HEADER + len) break;
      out.push({
        type: all[pos + 3]!,
        flags: all[pos + 4]!,
        id: all.readUInt32BE(pos + 5) & 0x7fffffff,
        payload: all.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len),
      });
      pos += FRAME_HEADER + len;
    }
    this.read = pos;
    return out;
  }

  asSocket(): net.Socket {
    return this as unknown as net.Socket;
  }
}
