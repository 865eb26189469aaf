import { describe, expect, it } from "vitest";
import { soakDetail } from "../../bench/targets.js";
import { soakFigures, type Sample } from "../../bench/targets-soak.js";

const MiB = 2 ** 20;

/** Samples every 0.5 s for `seconds`: RSS grows `early` MiB/min over the first minute, then `later` MiB/min. */
function churnSamples(seconds: number, early: number, later: number): Sample[] {
  const out: Sample[] = [];
  for (let t = 0; t <= seconds * 1000; t += 500) {
    const min = t / 60_000;
    const rss = 300 * MiB + (Math.min(min, 1) * early + Math.max(min - 1, 0) * later) * MiB;
    out.push({ t: 1_000_000 + t, cpuS: t / 5000, rss });
  }
  return out;
}

describe("soak figures", () => {
  const heap = { synced: { heap: 170 * MiB, buffers: 4 * MiB }, churned: { heap: 180 * MiB, buffers: 4 * MiB } };

  it("fit the slope after the warm-up, and over the whole churn next to it", () => {
    const s = soakFigures(churnSamples(600, 30, 0.5), { at: 1_000_000, durationMs: 600_000, changes: 600 }, 500, heap)!;
    expect(s.warmupS).toBe(60);
    expect(s.rssSlope / MiB).toBeCloseTo(0.5, 5);
    // The first minute's growth is not hidden: the whole churn's slope holds it.
    expect(s.rssSlopeWhole).toBeGreaterThan(2 * s.rssSlope);
    expect(s.cores).toBeCloseTo(0.2, 5);
    expect([s.rssFirst, s.rssLast].map((x) => x / MiB)).toEqual([300, 334.5]);
    expect(soakDetail(s)).toBe(
      `whole churn ${(s.rssSlopeWhole / MiB).toFixed(2)} MiB/min; minute peaks 512.0 KiB/min; RSS 300.00 MiB → 334.50 MiB, max 334.50 MiB; heap after GC 174.00 MiB → 184.00 MiB (1.00 MiB/min)`,
    );
  });

  it("leave out samples outside the churn, and give nothing without two samples in it", () => {
    const samples = [{ t: 0, cpuS: 0, rss: 9e9 }, ...churnSamples(60, 6, 6), { t: 9e12, cpuS: 9e9, rss: 0 }];
    const s = soakFigures(samples, { at: 1_000_000, durationMs: 60_000, changes: 60 }, 500, {})!;
    expect(s.rssSlopeWhole / MiB).toBeCloseTo(6, 5);
    expect(s.liveBefore).toBeNaN();
    expect(soakFigures(samples.slice(0, 2), { at: 1_000_000, durationMs: 60_000, changes: 0 }, 500, {})).toBeUndefined();
  });

  it("give the envelope of a sawtooth: the slope of each minute's peak", () => {
    // Teeth of 150 s rising 120 MiB over a flat floor, the floor creeping up 0.2 MiB/min: the
    // least-squares slope depends on where the teeth fall, the peaks' slope is the creep.
    const out: Sample[] = [];
    for (let t = 0; t <= 600_000; t += 500) {
      const floor = 300 + (0.2 * t) / 60_000;
      out.push({ t: 1_000_000 + t, cpuS: t / 5000, rss: (floor + 120 * ((t % 150_000) / 150_000)) * MiB });
    }
    const s = soakFigures(out, { at: 1_000_000, durationMs: 600_000, changes: 600 }, 500, heap)!;
    expect(Math.abs(s.rssPeakSlope / MiB)).toBeLessThan(Math.abs(s.rssSlope / MiB));
    expect(Math.abs(s.rssPeakSlope / MiB)).toBeLessThan(1);
    // Growth on every tooth shows in the envelope as well.
    const growing = out.map((x) => ({ ...x, rss: x.rss + ((x.t - 1_000_000) / 60_000) * 3 * MiB }));
    const g = soakFigures(growing, { at: 1_000_000, durationMs: 600_000, changes: 600 }, 500, heap)!;
    expect(g.rssPeakSlope / MiB).toBeGreaterThan(2);
  });

  it("give no envelope under two whole minutes", () => {
    const s = soakFigures(churnSamples(100, 6, 6), { at: 1_000_000, durationMs: 100_000, changes: 100 }, 500, {})!;
    expect(s.rssPeakSlope).toBeNaN();
  });
});
