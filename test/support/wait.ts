/** Bounded polling for tests: every wait ends, with a message that says what never happened. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `check` every `everyMs` until it holds; resolves with the milliseconds it took. A check
 * that throws counts as "not yet", and its last error is quoted when the wait times out.
 */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000, everyMs = 25): Promise<number> {
  const start = performance.now();
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return performance.now() - start;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (performance.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ""}`);
    await sleep(everyMs);
  }
}
