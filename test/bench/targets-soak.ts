// The steady-state figures of a churn (every scenario's, the soak's above all) from the server's
// /proc samples: CPU per second and how RSS grows. RSS grows for three reasons that a slope alone
// does not tell apart: what the server keeps for good (a leak), what fills up once and then stays
// (the push history's body budget, V8's caches of the shapes and keys it meets), and the headroom
// V8 keeps between major collections for garbage. The slope is given after a stated warm-up (the
// figure) and over the whole churn (shown next to it), with the heap after GC before and after:
// growth is never left out of what is printed. Under churn RSS is a sawtooth (V8 lets old space grow
// to about twice the live heap before a major collection, period ~2 minutes at the main scale), so a
// least-squares slope over ten minutes depends on where the teeth fall; the slope of the teeth's
// tops (each minute's peak) is given next to it as the envelope.
import type { Heap } from "./targets-load.js";
import { slope } from "./targets-table.js";

/** The first part of the churn left out of the slope, as a share of the churn. */
export const WARMUP_SHARE = 0.1;

export interface Sample {
  /** Epoch ms. */
  readonly t: number;
  readonly cpuS: number;
  readonly rss: number;
}

export interface Soak {
  readonly seconds: number;
  readonly changes: number;
  /** Server CPU seconds per second over the churn. */
  readonly cores: number;
  /** Seconds of churn before the samples `rssSlope` is fitted to. */
  readonly warmupS: number;
  /** RSS growth, bytes per minute: least squares over the samples after the warm-up. */
  readonly rssSlope: number;
  /** The same over every sample of the churn, warm-up included. */
  readonly rssSlopeWhole: number;
  /** The envelope: least squares over each whole minute's peak after the warm-up (NaN with fewer than two minutes). */
  readonly rssPeakSlope: number;
  readonly rssFirst: number;
  readonly rssLast: number;
  readonly rssMax: number;
  /** The server's heap after GC (JS heap + array buffers) in sync before the churn, and after it: live memory, not V8's reservation. */
  readonly liveBefore: number;
  readonly liveAfter: number;
}

const live = (h: Heap | undefined): number => (h ? h.heap + h.buffers : NaN);

/**
 * The figures of a churn from `churnAt` (epoch ms) for `durationMs`, sampled every `sampleMs`;
 * undefined without two samples in it.
 */
export function soakFigures(
  samples: readonly Sample[],
  churn: { readonly at: number; readonly durationMs: number; readonly changes: number },
  sampleMs: number,
  heap: { readonly synced?: Heap; readonly churned?: Heap },
): Soak | undefined {
  const inChurn = samples.filter((s) => s.t >= churn.at && s.t <= churn.at + churn.durationMs + sampleMs);
  const first = inChurn[0];
  const last = inChurn[inChurn.length - 1];
  if (!first || !last || last.t <= first.t) return undefined;
  const warmupS = (WARMUP_SHARE * (last.t - first.t)) / 1000;
  const perMinute = (ss: readonly Sample[]): number => slope(ss.map((s) => ({ x: (s.t - churn.at) / 60_000, y: s.rss })));
  const afterWarmup = inChurn.filter((s) => s.t >= first.t + warmupS * 1000);
  return {
    seconds: (last.t - first.t) / 1000,
    changes: churn.changes,
    cores: (last.cpuS - first.cpuS) / ((last.t - first.t) / 1000),
    warmupS,
    rssSlope: perMinute(afterWarmup),
    rssSlopeWhole: perMinute(inChurn),
    rssPeakSlope: perMinute(minutePeaks(afterWarmup)),
    rssFirst: first.rss,
    rssLast: last.rss,
    rssMax: Math.max(...inChurn.map((s) => s.rss)),
    liveBefore: live(heap.synced),
    liveAfter: live(heap.churned),
  };
}

/** The highest sample of each whole minute from the first sample on (a partial last minute is left out). */
function minutePeaks(samples: readonly Sample[]): Sample[] {
  const start = samples[0]?.t ?? 0;
  const peaks: Sample[] = [];
  for (const s of samples) {
    const m = Math.floor((s.t - start) / 60_000);
    if (s.t - start >= (m + 1) * 60_000 - 1) continue;
    const p = peaks[m];
    if (!p || s.rss > p.rss) peaks[m] = s;
  }
  const whole = Math.floor(((samples[samples.length - 1]?.t ?? start) - start) / 60_000);
  return peaks.slice(0, whole).filter((p) => p !== undefined);
}
