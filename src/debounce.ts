/**
 * Coalesces bursts of changes without delaying a lone one: a change after a quiet period runs at
 * once; changes that follow within `quietMs` are batched until `quietMs` passes without one, or
 * `maxDelayMs` after the first of them at the latest. The quiet period counts from the end of the
 * last run: a run that takes longer than `quietMs` (a full rebuild of a big mesh) would otherwise
 * let every change that arrived meanwhile start a run of its own, one after another.
 */
export class Debouncer<T> {
  private pending: T[] = [];
  private firstPendingAt = 0;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (batch: T[]) => void,
    private readonly quietMs = 100,
    private readonly maxDelayMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * `leading: false`: this item waits for a quiet period even when nothing came before it (a file
   * written in place may still be half written when its first event arrives).
   */
  push(item: T, { leading = true }: { readonly leading?: boolean } = {}): void {
    const now = this.now();
    this.pending.push(item);
    if (this.pending.length === 1) this.firstPendingAt = now;
    if (leading && !this.timer && now - this.lastRunAt >= this.quietMs) {
      this.flush();
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.quietMs, this.firstPendingAt + this.maxDelayMs - now));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.run(batch);
    } finally {
      this.lastRunAt = this.now();
    }
  }

  /** A run is due (items wait for their quiet period). */
  get scheduled(): boolean {
    return this.timer !== undefined;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }
}
