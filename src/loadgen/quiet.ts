// Before the churn, the server should be idle: right after a full sync it is still settling (the
// analysis and cache upkeep it owes after its pushes, collections) and the load generator still
// reads the last responses' tail, so a change made at once would measure that tail, not the path
// of a change through a steady mesh.

export interface QuietOptions {
  /** Length of one CPU sample (default 250 ms). */
  readonly windowMs?: number;
  /** Quiet: the server used at most this share of one core over a window (default 0.1). */
  readonly maxShare?: number;
  /** Give up waiting after this long (default 10 s). */
  readonly boundMs?: number;
}

export interface Quiet {
  readonly quiet: boolean;
  readonly waitedMs: number;
}

/** Waits until one window of `readCpuSeconds` (the server's CPU seconds) shows it idle, or the bound. */
export async function waitForQuiet(
  readCpuSeconds: () => number,
  o: QuietOptions = {},
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  clock: () => number = () => performance.now(),
): Promise<Quiet> {
  const windowMs = o.windowMs ?? 250;
  const maxShare = o.maxShare ?? 0.1;
  const boundMs = o.boundMs ?? 10_000;
  const t0 = clock();
  let cpu = readCpuSeconds();
  let at = t0;
  for (;;) {
    await sleep(windowMs);
    const cpu1 = readCpuSeconds();
    const at1 = clock();
    const share = at1 > at ? ((cpu1 - cpu) * 1000) / (at1 - at) : Infinity;
    if (share <= maxShare) return { quiet: true, waitedMs: at1 - t0 };
    if (at1 - t0 >= boundMs) return { quiet: false, waitedMs: at1 - t0 };
    cpu = cpu1;
    at = at1;
  }
}
