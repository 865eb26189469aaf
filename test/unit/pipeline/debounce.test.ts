import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Debouncer } from "../../../src/pipeline/debounce.js";

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
