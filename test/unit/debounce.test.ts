import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Debouncer } from "../../src/debounce.js";

describe("Debouncer", () => {
  let now = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1000;
  });
  afterEach(() => vi.useRealTimers());

  const make = () => {
    const batches: number[][] = [];
    const d = new Debouncer<number>(
      (b) => batches.push(b),
      100,
      1000,
      () => now,
    );
    return { d, batches };
  };
  const advance = (ms: number) => {
    now += ms;
    vi.advanceTimersByTime(ms);
  };

  it("runs a lone change at once", () => {
    const { d, batches } = make();
    d.push(1);
    expect(batches).toEqual([[1]]);
  });

  it("coalesces a burst that follows, until 100ms of quiet", () => {
    const { d, batches } = make();
    d.push(1);
    advance(10);
    d.push(2);
    advance(50);
    d.push(3);
    advance(99);
    expect(batches).toEqual([[1]]);
    advance(1);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it("holds a change pushed without a leading edge for the quiet period, even after quiet", () => {
    const { d, batches } = make();
    d.push(1, { leading: false });
    expect(batches).toEqual([]);
    expect(d.scheduled).toBe(true);
    advance(99);
    d.push(2);
    expect(batches).toEqual([]);
    advance(100);
    expect(batches).toEqual([[1, 2]]);
    expect(d.scheduled).toBe(false);
  });

  it("never holds a change longer than the cap under a steady stream", () => {
    const { d, batches } = make();
    d.push(0);
    for (let i = 1; i <= 30; i++) {
      advance(50);
      d.push(i);
    }
    // first ran at once; the stream that followed was flushed by the 1s cap, not starved
    expect(batches.length).toBeGreaterThanOrEqual(2);
    expect(batches[1]!.length).toBeLessThanOrEqual(21);
  });
});

describe("Debouncer under a storm", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("coalesces 1000 changes in a second into a few runs, each change once and in order, even when a run outlasts the quiet period", () => {
    let now = 1000;
    const batches: number[][] = [];
    // Each run takes 150 ms (a full rebuild), longer than the 100 ms quiet period.
    const d = new Debouncer<number>(
      (b) => {
        batches.push(b);
        now += 150;
      },
      100,
      1000,
      () => now,
    );
    for (let i = 0; i < 1000; i++) {
      d.push(i);
      now += 1;
      vi.advanceTimersByTime(1);
    }
    now += 2000;
    vi.advanceTimersByTime(2000);
    expect(batches.flat()).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // At once, then at most one run per cap (1 s of pushes plus the runs' own time), then the rest.
    expect(batches.length).toBeLessThanOrEqual(4);
  });
});
