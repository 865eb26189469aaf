// gRPC length-prefixed messages out of an HTTP/2 stream's DATA chunks, for both ends of a stream
// meshpilot reads itself: the server's ADS requests and the load clients' responses. A message
// that lies in one chunk is handed on as a view of it (the full sync's megabytes per proxy, the
// ACKs of every push); one split over chunks is gathered once, into a buffer of its own size, or
// of a pool when the reader's handler keeps nothing (the load clients).

import type { GatherPool } from "./gather-pool.js";

const PREFIX_BYTES = 5;

/** The longest message taken, and what refusing a longer one (from its prefix alone) returns. */
export interface MessageLimit<F> {
  readonly maxBytes: number;
  refuse(length: number): F;
}

export class Deframer<F = never> {
  /** The current message's prefix, while it is split over chunks. */
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  /** Bytes of the current message's prefix or body gathered so far (when split over chunks). */
  private have = 0;
  /** The current message's length, once its prefix is read; -1 before. */
  private need = -1;
  private compressed = false;
  /** Where a message split over chunks is gathered (from the pool, when there is one: `body` is then a view of it). */
  private body: Buffer | undefined;
  private gathering: Buffer | undefined;

  constructor(
    /** One message and its compressed flag; a value returned stops the reading and is returned by push. */
    private readonly onMessage: (body: Buffer, compressed: boolean) => F | undefined,
    private readonly limit?: MessageLimit<F>,
    /** Gathering buffers to take and give back: the message is then valid only during onMessage. */
    private readonly pool?: GatherPool,
  ) {}

  /** Hand on every message `chunk` completes; a refusal stops the reading (the stream is to end with it). */
  push(chunk: Buffer): F | undefined {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.need < 0) {
        // A whole prefix in the chunk, and nothing of one gathered: read it in place.
        if (this.have === 0 && chunk.length - pos >= PREFIX_BYTES) {
          this.compressed = chunk[pos] === 1;
          this.need = chunk.readUInt32BE(pos + 1);
          pos += PREFIX_BYTES;
        } else {
          const n = Math.min(PREFIX_BYTES - this.have, chunk.length - pos);
          chunk.copy(this.prefix, this.have, pos, pos + n);
          this.have += n;
          pos += n;
          if (this.have < PREFIX_BYTES) return undefined;
          this.have = 0;
          this.compressed = this.prefix[0] === 1;
          this.need = this.prefix.readUInt32BE(1);
        }
        if (this.limit && this.limit.maxBytes >= 0 && this.need > this.limit.maxBytes) return this.limit.refuse(this.need);
      }
      let body: Buffer;
      if (this.have === 0 && chunk.length - pos >= this.need) {
        body = chunk.subarray(pos, pos + this.need);
        pos += this.need;
      } else {
        // Nothing of the body in this chunk yet: the next may hold all of it, to be read in place.
        if (pos === chunk.length) return undefined;
        // Without a pool, a buffer of its own: streams interleave, so as many messages may be half
        // gathered as there are streams, and the handler may keep it.
        if (!this.body) {
          if (this.pool) {
            this.gathering = this.pool.take(this.need);
            this.body = this.gathering.subarray(0, this.need);
          } else this.body = Buffer.allocUnsafeSlow(this.need);
        }
        const n = Math.min(this.need - this.have, chunk.length - pos);
        chunk.copy(this.body, this.have, pos, pos + n);
        this.have += n;
        pos += n;
        if (this.have < this.need) return undefined;
        body = this.body;
        this.body = undefined;
        this.have = 0;
      }
      this.need = -1;
      const gathered = this.gathering;
      this.gathering = undefined;
      let refused: F | undefined;
      try {
        refused = this.onMessage(body, this.compressed);
      } finally {
        if (gathered) this.pool!.give(gathered);
      }
      if (refused !== undefined) return refused;
    }
    return undefined;
  }

  /** A message begun and not finished. */
  get partial(): boolean {
    return this.need >= 0 || this.have > 0;
  }
}
