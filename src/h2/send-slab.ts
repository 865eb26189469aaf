// Buffers for socket writes, cut from big slabs. Buffer.allocUnsafe cuts small buffers from 8 KiB
// pools: a push that frames a 2 KiB response for each of 2000 streams made a new pool (an
// ArrayBuffer, marked untransferable) every third stream. A slab is never reused: a buffer the
// socket still holds keeps its slab alive, and the slab goes with its last buffer.

export class SendSlab {
  private slab: Buffer;
  private at = 0;

  constructor(private readonly bytes: number) {
    this.slab = Buffer.allocUnsafeSlow(bytes);
  }

  /** `n` bytes of uninitialized memory no other buffer of ours shares. */
  take(n: number): Buffer {
    if (n > this.bytes >>> 3) return Buffer.allocUnsafeSlow(n);
    if (this.at + n > this.bytes) {
      this.slab = Buffer.allocUnsafeSlow(this.bytes);
      this.at = 0;
    }
    const b = this.slab.subarray(this.at, this.at + n);
    // Eight-byte aligned, as Node aligns its pool.
    this.at = (this.at + n + 7) & ~7;
    return b;
  }
}
