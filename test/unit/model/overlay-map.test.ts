// The map the endpoint indexes are kept in across builds: every version reads as its own changes
// over the ones before, however often the changes are folded into a new base.
import { describe, expect, it } from "vitest";
import { OverlayMap } from "../../../src/model/overlay-map.js";

describe("OverlayMap", () => {
  it("gives each version its own content, leaving earlier versions as they were", () => {
    const v0 = OverlayMap.of(new Map([["a", 1]]));
    const v1 = v0.with([
      ["b", 2],
      ["a", undefined],
    ]);
    const v2 = v1.with([["a", 3]]);
    expect([v0.get("a"), v0.get("b")]).toEqual([1, undefined]);
    expect([v1.get("a"), v1.get("b")]).toEqual([undefined, 2]);
    expect([v2.get("a"), v2.get("b")]).toEqual([3, 2]);
  });

  it("reads the same across folds of its changes into a new base", () => {
    const model = new Map<number, number>(Array.from({ length: 100 }, (_, i) => [i, i]));
    let m = OverlayMap.of(new Map(model));
    const versions: [OverlayMap<number, number>, Map<number, number>][] = [];
    // Enough changes for several folds; deletes and re-adds of the same keys among them.
    for (let step = 0; step < 300; step++) {
      const key = (step * 37) % 150;
      const value = step % 5 === 0 ? undefined : step;
      m = m.with([[key, value]]);
      if (value === undefined) model.delete(key);
      else model.set(key, value);
      versions.push([m, new Map(model)]);
    }
    for (const [v, expected] of versions.filter((_, i) => i % 50 === 0 || i === versions.length - 1)) {
      for (let k = 0; k < 150; k++) expect(v.get(k)).toBe(expected.get(k));
    }
  });
});
