// Small byte strings that live as long as something caches them (the framing of each resource in
// a response), packed into chunks of their own. Node's Buffer pool would hand them out of its
// shared 8 KiB slabs, between the short-lived buffers of every response and encoding: then each
// kept string pins a slab of garbage, about 8 KiB per workload view of a 1000-service mesh.
// Here a chunk holds only such strings, allocated together and mostly dropped together.

const CHUNK = 16 * 1024;

export class ByteArena {
  private chunk: Buffer | undefined;
  private used = 0;

  constructor(private readonly chunkSize = CHUNK) {}

  /** `parts` one after the other, in one view of the arena (a big one gets a buffer of its own). */
  copy(parts: readonly Uint8Array[]): Buffer {
    let n = 0;
    for (const p of parts) n += p.length;
    const into = n > this.chunkSize / 4 ? Buffer.allocUnsafeSlow(n) : this.take(n);
    let at = 0;
    for (const p of parts) {
      into.set(p, at);
      at += p.length;
    }
    return into;
  }

  private take(n: number): Buffer {
    if (!this.chunk || this.used + n > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(this.chunkSize);
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + n);
    this.used += n;
    return out;
  }
}
