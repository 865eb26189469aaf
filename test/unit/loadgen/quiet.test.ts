import { describe, expect, it } from "vitest";
import { waitForQuiet } from "../../../src/loadgen/quiet.js";

/** A clock and a CPU counter that advance only when the waiter sleeps: busy shares per window. */
function server(shares: readonly number[]): { cpu: () => number; sleep: (ms: number) => Promise<void>; clock: () => number; windows: () => number } {
  let t = 0;
  let cpu = 0;
  let w = 0;
  return {
    cpu: () => cpu,
    clock: () => t,
    windows: () => w,
    sleep: (ms) => {
      cpu += (shares[Math.min(w, shares.length - 1)]! * ms) / 1000;
      t += ms;
      w++;
      return Promise.resolve();
    },
  };
}

describe("waitForQuiet", () => {
  it("waits through busy windows and returns at the first idle one", async () => {
    const s = server([1, 0.8, 0.5, 0.05, 0]);
    const q = await waitForQuiet(s.cpu, { windowMs: 250, maxShare: 0.1 }, s.sleep, s.clock);
    expect(q).toEqual({ quiet: true, waitedMs: 1000 });
    expect(s.windows()).toBe(4);
  });

  it("gives up at the bound when the server never idles", async () => {
    const s = server([0.9]);
    const q = await waitForQuiet(s.cpu, { windowMs: 250, maxShare: 0.1, boundMs: 2000 }, s.sleep, s.clock);
    expect(q.quiet).toBe(false);
    expect(q.waitedMs).toBe(2000);
  });

  it("an idle server costs one window", async () => {
    const s = server([0]);
    expect(await waitForQuiet(s.cpu, {}, s.sleep, s.clock)).toEqual({ quiet: true, waitedMs: 250 });
  });
});
