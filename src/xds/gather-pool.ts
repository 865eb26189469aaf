// Buffers to gather messages split over chunks, used again once a message has been handled. A
// load client gathers megabytes per proxy in a full sync (each response split over many DATA
// frames); a fresh buffer each time costs new pages from the kernel, and its external memory
// drives V8's collections. Only for readers whose handler never keeps the message it is handed.

/** The smallest buffer pooled: below it a fresh one costs little. */
const MIN_POOLED = 64 * 1024;

export class GatherPool {
  /** Free buffers by size class (a power of two). */
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  /** Buffers handed out and taken back. */
  taken = 0;
  reused = 0;

  constructor(
    /** The most bytes of free buffers kept. */
    private readonly maxFreeBytes = 128 * 1024 * 1024,
  ) {}

  /** A buffer of at least `size` bytes (its contents are not cleared). */
  take(size: number): Buffer {
    this.taken++;
    if (size < MIN_POOLED) return Buffer.allocUnsafeSlow(size);
    const cls = sizeClass(size);
    const b = this.free.get(cls)?.pop();
    if (b) {
      this.reused++;
      this.freeBytes -= b.length;
      return b;
    }
    return Buffer.allocUnsafeSlow(cls);
  }

  /** Takes back a buffer from take(), no longer referred to. */
  give(b: Buffer): void {
    if (b.length < MIN_POOLED || b.length !== sizeClass(b.length) || this.freeBytes + b.length > this.maxFreeBytes) return;
    let list = this.free.get(b.length);
    if (!list) this.free.set(b.length, (list = []));
    list.push(b);
    this.freeBytes += b.length;
  }
}

function sizeClass(size: number): number {
  return 2 ** Math.ceil(Math.log2(size));
}
