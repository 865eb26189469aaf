// A view's own resources laid over a shared map: read, iterated in name order, diffed and
// versioned as the merged map, without copying the shared entries.
import { describe, expect, it } from "vitest";
import { typeVersion } from "../../../src/xds/encode.js";
import { LayeredMap } from "../../../src/xds/layered-map.js";
import { mapDiff } from "../../../src/xds/map-diff.js";
import type { Resource, ResourceMap } from "../../../src/xds/snapshot.js";

const res = (name: string, version = "1"): Resource => ({ name, version, body: new Uint8Array([version.length]) });
const mapOf = (...rs: Resource[]): ResourceMap => new Map(rs.map((r) => [r.name, r]));

describe("LayeredMap", () => {
  const shared = mapOf(res("b"), res("d"), res("f"));
  const own = mapOf(res("a", "9"), res("d", "9"), res("e", "9"), res("z", "9"));
  const m = new LayeredMap(shared, own);

  it("reads an own resource over the shared one of its name, and iterates both in name order", () => {
    expect(m.size).toBe(6);
    expect([...m.keys()]).toEqual(["a", "b", "d", "e", "f", "z"]);
    expect([...m.values()].map((r) => r.version)).toEqual(["9", "1", "9", "9", "1", "9"]);
    expect(m.get("d")!.version).toBe("9");
    expect(m.get("b")).toBe(shared.get("b"));
    expect([m.has("f"), m.has("z"), m.has("c")]).toEqual([true, true, false]);
    const seen: string[] = [];
    m.forEach((_, k) => seen.push(k));
    expect(seen).toEqual([...new Map(m).keys()]);
  });

  it("walks both layers without looking up each shared name among the own ones", () => {
    let lookups = 0;
    class Counting extends Map<string, Resource> {
      override has(k: string): boolean {
        lookups++;
        return super.has(k);
      }
      override get(k: string): Resource | undefined {
        lookups++;
        return super.get(k);
      }
    }
    const counted = new LayeredMap(shared, new Counting(own));
    lookups = 0;
    expect([...counted.keys()]).toEqual(["a", "b", "d", "e", "f", "z"]);
    expect([...counted.values()].map((r) => r.name + r.version)).toEqual(["a9", "b1", "d9", "e9", "f1", "z9"]);
    expect([...counted.entries()].map(([k, r]) => k + r.version)).toEqual(["a9", "b1", "d9", "e9", "f1", "z9"]);
    expect(lookups).toBe(0);
    // Own resources all after, all before, or none.
    expect([...new LayeredMap(shared, mapOf(res("x", "9"))).values()].map((r) => r.name)).toEqual(["b", "d", "f", "x"]);
    expect([...new LayeredMap(shared, mapOf(res("0", "9"), res("b", "9"))).values()].map((r) => r.name + r.version)).toEqual(["09", "b9", "d1", "f1"]);
    expect([...new LayeredMap(shared, mapOf()).keys()]).toEqual(["b", "d", "f"]);
  });

  it("diffs two views over the same own resources as their shared maps differ, leaving out what an own resource hides", () => {
    const next = new LayeredMap(mapOf(res("b", "2"), res("d", "2"), res("g")), own);
    const d = mapDiff(m, next);
    expect(d.changed.map((r) => r.name)).toEqual(["b", "g"]);
    expect(d.removed).toEqual(["f"]);
    expect(d.added).toBe(1);
    // The same as comparing the merged maps.
    const plain = mapDiff(new Map(m), new Map(next));
    expect([plain.changed.map((r) => r.name), plain.removed, plain.added]).toEqual([["b", "g"], ["f"], 1]);
  });

  it("has a type version that follows both layers", () => {
    const v = typeVersion(m);
    expect(typeVersion(new LayeredMap(shared, own))).toBe(v);
    expect(typeVersion(new LayeredMap(mapOf(res("b"), res("d"), res("f", "2")), own))).not.toBe(v);
    expect(typeVersion(new LayeredMap(shared, mapOf(res("a", "8"), res("d", "9"), res("e", "9"), res("z", "9"))))).not.toBe(v);
  });

  it("works out a first response's diff each time for a view of a few proxies, and keeps it for one that many share", () => {
    const view = new LayeredMap(shared, own);
    const empty: ResourceMap = new Map();
    const firsts = Array.from({ length: 6 }, () => mapDiff(empty, view));
    for (const d of firsts) expect(d).toEqual({ changed: [...view.values()], removed: [], added: view.size });
    // Three proxies: nothing kept (a workload's own view would keep a list per resource type).
    expect(new Set(firsts.slice(0, 3)).size).toBe(3);
    // From the fourth on, one diff.
    expect(new Set(firsts.slice(3)).size).toBe(1);
  });
});
