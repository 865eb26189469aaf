// The per-type table a view's snapshot is made of: a ReadonlyMap in push order, and small. Every
// change gives every view that it reaches a new snapshot (and a VHDS form of it), kept until the
// next change: at 2000 workload views that is what a change leaves to the old generation.
import { describe, expect, it } from "vitest";
import { composeMaps, type Composed } from "../../../src/pipeline/compose-view.js";
import { snapshotFrom } from "../../../src/xds/encode.js";
import { routeForm } from "../../../src/xds/route-form.js";
import type { Resource, ResourceMap, Snapshot } from "../../../src/xds/snapshot.js";
import { TypeTable } from "../../../src/xds/type-table.js";
import { PUSH_ORDER, TYPE_URL, type TypeUrl } from "../../../src/xds/type-urls.js";
import { gc } from "../../support/gc.js";

const res = (name: string, version = "1"): Resource => ({ name, version, body: new Uint8Array([1]) });
const mapOf = (...rs: Resource[]): ResourceMap => new Map(rs.map((r) => [r.name, r]));

describe("TypeTable", () => {
  it("holds every pushed type", () => {
    expect(new Set(PUSH_ORDER)).toEqual(new Set(Object.values(TYPE_URL)));
  });

  it("reads and iterates like the Map it replaces, in push order, leaving out types without a value", () => {
    const m = new Map<TypeUrl, number>([
      [TYPE_URL.route, 4],
      [TYPE_URL.cluster, 0],
      [TYPE_URL.listener, 3],
    ]);
    const t = TypeTable.from(m);
    expect(t.size).toBe(3);
    expect([...t.keys()]).toEqual([TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.route]);
    expect([...t.values()]).toEqual([0, 3, 4]);
    expect(new Map(t)).toEqual(m);
    expect([t.get(TYPE_URL.cluster), t.get(TYPE_URL.endpoint), t.has(TYPE_URL.listener), t.has(TYPE_URL.secret)]).toEqual([0, undefined, true, false]);
    const seen: [TypeUrl, number][] = [];
    t.forEach((v, k) => seen.push([k, v]));
    expect(seen).toEqual([...t.entries()]);
    expect(TypeTable.from(t)).toBe(t);
  });

  it("replaces one type's value in a copy", () => {
    const t = TypeTable.of<string>((type) => (type === TYPE_URL.cluster ? "a" : undefined));
    const u = t.with(TYPE_URL.secret, "s").with(TYPE_URL.cluster, "b");
    expect([...u]).toEqual([
      [TYPE_URL.cluster, "b"],
      [TYPE_URL.secret, "s"],
    ]);
    expect([...t]).toEqual([[TYPE_URL.cluster, "a"]]);
  });

  it("lists the types whose value differs from another table's, a type set in one only included", () => {
    const t = TypeTable.of<string>((type) => (type === TYPE_URL.cluster || type === TYPE_URL.route ? "a" : undefined));
    expect(t.differing(t)).toEqual([]);
    expect(t.with(TYPE_URL.route, "b").with(TYPE_URL.secret, "s").differing(t)).toEqual([TYPE_URL.secret, TYPE_URL.route]);
  });
});

describe("a view's snapshot", () => {
  const shared = new Map<TypeUrl, ResourceMap>([
    [TYPE_URL.cluster, mapOf(res("outbound|80||a"))],
    [TYPE_URL.endpoint, mapOf(res("outbound|80||a"))],
    [TYPE_URL.listener, mapOf(res("0.0.0.0_80"))],
    [TYPE_URL.route, mapOf(res("80"))],
    [TYPE_URL.virtualHost, mapOf(res("80/a:80"))],
  ]);
  const own = new Map<TypeUrl, ResourceMap>([[TYPE_URL.listener, mapOf(res("virtualInbound"))]]);

  it("holds the composed maps themselves, versioned", () => {
    const composed = composeMaps(shared, own);
    const s = snapshotFrom(composed.maps);
    expect(s.resources).toBe(composed.maps);
    expect([...s.versions.keys()]).toEqual(PUSH_ORDER);
    expect(s.resources.get(TYPE_URL.secret)!.size).toBe(0);
  });

  it("costs a view republished with its VHDS form under 1.3 KiB, not a Map per type per form", () => {
    const views = 2000;
    const composed = Array.from({ length: views }, () => composeMaps(shared, own));
    // An endpoint change: the shared part's endpoint map is new, every view is composed and
    // published again (its other maps kept), and its streams take the VHDS form.
    const perView = (round: number): number => {
      const next = new Map(shared).set(TYPE_URL.endpoint, mapOf(res("outbound|80||a", `${round}`)));
      const kept: (Snapshot | Composed)[] = [];
      gc();
      gc();
      const before = process.memoryUsage().heapUsed;
      for (const previous of composed) {
        const c = composeMaps(next, own, previous);
        const s = snapshotFrom(c.maps);
        kept.push(c, s, routeForm(s, true));
      }
      gc();
      gc();
      expect(kept).toHaveLength(3 * views);
      return (process.memoryUsage().heapUsed - before) / views;
    };
    perView(1); // what the first round grows once (weak maps' tables, compiled code)
    // ~0.7-1 KiB here; ~1.7 KiB with a Map per type per form.
    expect(perView(2)).toBeLessThan(1300);
  });
});
