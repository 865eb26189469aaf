// A type's version depends on its (name, version) pairs only; a map patched from a versioned one
// is versioned from the replaced pairs alone.
import { describe, expect, it } from "vitest";
import { patchMap, patchOf } from "../../../src/xds/map-patch.js";
import type { Resource, ResourceMap } from "../../../src/xds/snapshot.js";
import { hash } from "node:crypto";
import { digestLanes, typeVersion, typeVersionWork } from "../../../src/xds/type-version.js";

const res = (name: string, version = "1"): Resource => ({ name, version, body: new Uint8Array([version.length]) });
const mapOf = (rs: readonly Resource[]): ResourceMap => new Map(rs.map((r) => [r.name, r]));
const names = Array.from({ length: 1000 }, (_, i) => `outbound|9080||svc-${i}.default.svc.cluster.local`);

describe("typeVersion", () => {
  it("reads a digest's lanes from its hex form as from its bytes", () => {
    for (const text of ["", "a\0b", ...names.slice(0, 200).map((n, i) => `${n}\0${i.toString(16)}`), "é\u{1F600}"]) {
      const bytes = hash("sha256", text, "buffer");
      expect([...digestLanes(text)]).toEqual([0, 1, 2, 3].map((k) => bytes.readUInt32LE(k * 4)));
    }
  });

  it("depends on the pairs, not their order", () => {
    const a = mapOf(names.map((n) => res(n)));
    const b = mapOf([...names].reverse().map((n) => res(n)));
    expect(typeVersion(a)).toBe(typeVersion(b));
    expect(typeVersion(mapOf(names.map((n, i) => res(n, i === 7 ? "2" : "1"))))).not.toBe(typeVersion(a));
    // A version moved to another name is another content.
    const swapped = mapOf([res("a", "1"), res("b", "2")]);
    expect(typeVersion(swapped)).not.toBe(typeVersion(mapOf([res("a", "2"), res("b", "1")])));
    expect(typeVersion(new Map())).toBe(typeVersion(new Map()));
  });

  it("versions a patched map from the replaced pairs only, as a map of the same pairs built anew", () => {
    const base = mapOf(names.map((n) => res(n)));
    const v0 = typeVersion(base);
    const patched = patchMap(base, [res(names[3]!, "2"), res(names[500]!, "3")]);
    expect([...patched.keys()]).toEqual(names);
    expect(patchOf(patched)?.replaced.map(([old, r]) => [old.version, r.version])).toEqual([
      ["1", "2"],
      ["1", "3"],
    ]);
    const before = typeVersionWork.pairsHashed;
    const v1 = typeVersion(patched);
    // The replaced pairs were hashed with the base; only the two new ones are.
    expect(typeVersionWork.pairsHashed - before).toBe(2);
    expect(v1).not.toBe(v0);
    expect(v1).toBe(typeVersion(new Map(patched)));
    // Patched back: the base's content, the base's version.
    expect(typeVersion(patchMap(patched, [base.get(names[3]!)!, base.get(names[500]!)!]))).toBe(v0);
  });

  it("keeps the base map when nothing is replaced, and refuses a name the base lacks", () => {
    const base = mapOf([res("a"), res("b")]);
    expect(patchMap(base, [base.get("a")!])).toBe(base);
    expect(() => patchMap(base, [res("c")])).toThrow(/"c" is not in the base map/);
  });

  it("reads, iterates and versions a chain of patches as the plain map of the same entries", () => {
    let m: ResourceMap = mapOf(names.map((n) => res(n)));
    const model = new Map(m);
    // Enough patches to fold the replacements into a new plain map several times.
    for (let step = 0; step < 200; step++) {
      const r = res(names[(step * 7919) % names.length]!, String(step));
      m = patchMap(m, [r]);
      model.set(r.name, r);
      if (step % 40 !== 39) continue;
      expect(m.size).toBe(model.size);
      expect([...m]).toEqual([...model]);
      expect([...m.values()]).toEqual([...model.values()]);
      expect(m.get(r.name)).toBe(r);
      expect(typeVersion(m)).toBe(typeVersion(new Map(model)));
    }
  });
});
