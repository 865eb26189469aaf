import { describe, expect, it } from "vitest";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { CDS, EDS, LDS, RDS, World, cla, cluster } from "./harness.js";

describe("SnapshotCache", () => {
  it("tells the watchers of a key which types changed", () => {
    const cache = new SnapshotCache();
    const world = new World().put(CDS, "c1", cluster("c1")).put(EDS, "c1", cla("c1", "10.0.0.1"));
    const seen: string[][] = [];
    const other: string[][] = [];
    const stop = cache.watch("a", (_s, changed) => seen.push([...changed]));
    cache.watch("b", (_s, changed) => other.push([...changed]));

    const first = world.snapshot("a");
    cache.set("a", first);
    expect(seen).toEqual([[CDS, EDS, TYPE_URL.secret, LDS, RDS, TYPE_URL.virtualHost]]); // a first snapshot changes everything
    expect(cache.get("a")).toBe(first);

    cache.set("a", world.put(EDS, "c1", cla("c1", "10.0.0.2")).snapshot("a"));
    expect(seen[1]).toEqual([EDS]);

    cache.set("a", world.snapshot("a")); // same content: nobody is disturbed
    expect(seen).toHaveLength(2);

    stop();
    cache.set("a", world.put(CDS, "c2", cluster("c2")).snapshot("a"));
    expect(seen).toHaveLength(2);
    expect(other).toEqual([]);
    expect(cache.keys()).toEqual(["a"]);
    expect(cache.delete("a")).toBe(true);
    expect(cache.get("a")).toBeUndefined();
  });

  it("hands every view the same set for the same changed types, not a set per view per change", () => {
    const cache = new SnapshotCache();
    const world = new World().put(CDS, "c1", cluster("c1")).put(EDS, "c1", cla("c1", "10.0.0.1"));
    const keys = ["a", "b", "c", "d"];
    const seen: ReadonlySet<string>[] = [];
    for (const k of keys) cache.watch(k, (_s, changed) => seen.push(changed));
    for (const k of keys) cache.set(k, world.snapshot(k));
    seen.length = 0;
    world.put(EDS, "c1", cla("c1", "10.0.0.2"));
    for (const k of keys) cache.set(k, world.snapshot(k));
    world.put(EDS, "c1", cla("c1", "10.0.0.3"));
    for (const k of keys) expect(cache.set(k, world.snapshot(k))).toBe(seen[0]);
    expect(seen).toHaveLength(2 * keys.length);
    expect(new Set(seen).size).toBe(1);
    expect([...seen[0]!]).toEqual([EDS]);
  });
});
