// Workload proxies of every namespace send the same remembered EDS request, looked up in their
// namespace part's map: each (request, map) pair is worked out once, however the proxies alternate.
import { describe, expect, it } from "vitest";
import { canonicalNamesIn, wholeMapOf } from "../../../src/xds/connection.js";
import type { Resource, ResourceMap } from "../../../src/xds/snapshot.js";

class CountingMap extends Map<string, Resource> {
  reads = 0;
  override get(name: string): Resource | undefined {
    this.reads++;
    return super.get(name);
  }
}

function partMap(names: readonly string[]): CountingMap {
  const m = new CountingMap();
  for (const n of names) m.set(n, { name: n, version: "v", body: new Uint8Array() });
  return m;
}

describe("canonicalNamesIn", () => {
  const names = ["outbound|80||a.ns.svc.cluster.local", "outbound|80||b.ns.svc.cluster.local"];

  it("looks a remembered request up once per map, alternating between maps", () => {
    const request = Object.freeze([...names]);
    const parts = [partMap(names), partMap(names), partMap(names)];
    const first = parts.map((m) => canonicalNamesIn(m, request));
    const reads = parts.map((m) => m.reads);
    for (let round = 0; round < 3; round++) {
      parts.forEach((m, i) => expect(canonicalNamesIn(m, request)).toBe(first[i]));
    }
    expect(parts.map((m) => m.reads)).toEqual(reads);
    parts.forEach((m, i) => {
      expect(first[i]).toEqual(names);
      expect(wholeMapOf(first[i]!)).toBe(m);
    });
  });

  it("gives each map's own strings", () => {
    const request = Object.freeze([...names]);
    const m: ResourceMap = partMap(names);
    const got = canonicalNamesIn(m, request);
    got.forEach((n) => expect(n).toBe(m.get(n)!.name));
  });

  it("does not remember a list that was not frozen", () => {
    const m = partMap(names);
    const a = canonicalNamesIn(m, [...names]);
    const b = canonicalNamesIn(m, [...names]);
    expect(a).not.toBe(b);
    expect(wholeMapOf(a)).toBeUndefined();
  });
});
