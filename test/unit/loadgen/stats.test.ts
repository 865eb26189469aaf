import { describe, expect, it } from "vitest";
import { percentile, summarize } from "../../../src/loadgen/stats.js";

describe("convergence statistics", () => {
  it("nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 90)).toBe(90);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("summarize sorts its input (without changing it) and reports count, mean and max", () => {
    const input = [30, 10, 20, 40];
    const s = summarize(input);
    expect(s).toEqual({ count: 4, p50: 20, p90: 40, p99: 40, max: 40, mean: 25 });
    expect(input).toEqual([30, 10, 20, 40]);
    expect(summarize([]).count).toBe(0);
    expect(summarize([]).max).toBeNaN();
  });
});
