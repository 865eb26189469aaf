// The per-push histograms are our own (label-histogram.ts): whatever is observed, Prometheus
// must read from them what prom-client's Histogram would have given, text and JSON alike.
import fc from "fast-check";
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LabelHistogram } from "../../../src/debug/label-histogram.js";

const BOUNDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10];

function both(): { ours: LabelHistogram; theirs: Histogram<"type">; ourRegistry: Registry; theirRegistry: Registry } {
  const ourRegistry = new Registry();
  const theirRegistry = new Registry();
  const ours = new LabelHistogram("pilot_xds_push_time", "Seconds from a change to the write.", "type", BOUNDS, ourRegistry);
  const theirs = new Histogram({
    name: "pilot_xds_push_time",
    help: "Seconds from a change to the write.",
    labelNames: ["type"],
    buckets: BOUNDS,
    registers: [theirRegistry],
  });
  return { ours, theirs, ourRegistry, theirRegistry };
}

describe("LabelHistogram", () => {
  it("reads as prom-client's Histogram of the same observations", async () => {
    const observation = fc.tuple(
      fc.constantFrom("cds", "eds", "vhds"),
      fc.oneof(fc.constantFrom(...BOUNDS, 0, 20), fc.double({ min: 0, max: 20, noNaN: true })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 50 }), async (observations) => {
        const { ours, theirs, ourRegistry, theirRegistry } = both();
        for (const [type, v] of observations) {
          ours.observe(type, v);
          theirs.observe({ type }, v);
        }
        expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
        expect(await ourRegistry.getMetricsAsJSON()).toEqual(await theirRegistry.getMetricsAsJSON());
      }),
      { numRuns: 200 },
    );
  });

  it("starts over on reset, as the registry's resetMetrics does", async () => {
    const { ours, theirs, ourRegistry, theirRegistry } = both();
    ours.observe("eds", 0.2);
    theirs.observe({ type: "eds" }, 0.2);
    ourRegistry.resetMetrics();
    theirRegistry.resetMetrics();
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
  });
});
