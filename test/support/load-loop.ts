/**
 * A bounded load loop in the background: a few workers send requests one after the other until
 * stopped, or until the request count or the time bound is reached. Every answer is recorded (by
 * backend version, or the status / error), with when it happened, so a test can assert that no
 * request failed across a fault, or narrow down which ones did.
 *
 *   const load = startLoadLoop({ url: "http://127.0.0.1:20001/", host: "web", maxRequests: 20_000, maxMs: 120_000 });
 *   … the fault …
 *   const result = await load.stop();
 *   expect(result.failures).toEqual([]);
 */
import { httpRequest } from "./backend.js";

export interface LoadLoopOptions {
  readonly url: string;
  /** Host header (sidecar routes match on it). */
  readonly host?: string;
  /** Default 2. */
  readonly concurrency?: number;
  /** Hard bounds: the loop ends by itself after this many requests or milliseconds. */
  readonly maxRequests: number;
  readonly maxMs: number;
  /** Per request; default 5 s. */
  readonly timeoutMs?: number;
  /** Pause between a worker's requests; default 0. */
  readonly pauseMs?: number;
}

export interface LoadFailure {
  /** ms since the loop started. */
  readonly at: number;
  readonly status?: number;
  readonly error?: string;
  readonly body?: string;
}

export interface LoadResult {
  readonly requests: number;
  /** 2xx answers by `x-backend-version` (`?` when a 2xx has none). */
  readonly byVersion: Readonly<Record<string, number>>;
  readonly failures: readonly LoadFailure[];
  /** True when a bound (count or time) ended the loop before stop() was called. */
  readonly bounded: boolean;
  readonly ms: number;
}

export interface LoadLoop {
  /** Requests answered so far. */
  readonly count: () => number;
  /** Ends the loop; resolves once the workers' last requests are answered. */
  stop(): Promise<LoadResult>;
}

export function startLoadLoop(opts: LoadLoopOptions): LoadLoop {
  const start = performance.now();
  const byVersion: Record<string, number> = {};
  const failures: LoadFailure[] = [];
  let requests = 0;
  let started = 0;
  let stopped = false;
  let bounded = false;
  const more = (): boolean => {
    if (stopped) return false;
    if (started >= opts.maxRequests || performance.now() - start >= opts.maxMs) {
      bounded = true;
      return false;
    }
    return true;
  };
  const worker = async (): Promise<void> => {
    while (more()) {
      started++;
      const at = performance.now() - start;
      try {
        const res = await httpRequest(opts.url, { ...(opts.host ? { host: opts.host } : {}), timeoutMs: opts.timeoutMs ?? 5000 });
        if (res.status >= 200 && res.status < 300) {
          const v = res.headers["x-backend-version"] ?? "?";
          byVersion[v] = (byVersion[v] ?? 0) + 1;
        } else failures.push({ at, status: res.status, body: res.body.slice(0, 200) });
      } catch (err) {
        failures.push({ at, error: (err as Error).message });
      }
      requests++;
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  };
  const workers = Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker));
  return {
    count: () => requests,
    stop: async () => {
      stopped = true;
      await workers;
      return { requests, byVersion: { ...byVersion }, failures: [...failures], bounded, ms: performance.now() - start };
    },
  };
}
