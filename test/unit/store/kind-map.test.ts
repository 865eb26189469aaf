import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keyOf, type InputObject, type StoredObject } from "../../../src/api/objects.js";
import { KindMap, kindMapWork } from "../../../src/store/kind-map.js";
import { Store, type Snapshot, type StoreEvent } from "../../../src/store/store.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Enough keys that the changes outgrow the fold threshold (64) and are folded into a new base. */
const KEYS = 150;
const ALL_KEYS = Array.from({ length: KEYS + 1 }, (_, k) => k);

type Op = readonly ["set", number, number] | readonly ["delete", number];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(fc.constant("set" as const), fc.integer({ min: 0, max: KEYS }), fc.integer({ min: 0, max: 5 })),
  fc.tuple(fc.constant("delete" as const), fc.integer({ min: 0, max: KEYS })),
);

describe("KindMap", () => {
  it("with(): each version its own content, earlier versions left as they were", () => {
    const v0 = KindMap.of(new Map([["a", 1]]));
    const v1 = v0.with([
      ["b", 2],
      ["a", undefined],
    ]);
    const v2 = v1.with([["a", 3]]);
    expect([v0.get("a"), v0.get("b"), v0.size]).toEqual([1, undefined, 1]);
    expect([v1.get("a"), v1.get("b"), v1.size]).toEqual([undefined, 2, 1]);
    expect([...v2]).toEqual([
      ["b", 2],
      ["a", 3],
    ]);
  });

  // Versions of a map changed a batch at a time, each read back as a Map copied and changed alike
  // would read: the same entries in the same order (a replaced key keeps its place, a key set again
  // after a delete comes last), through folds into a new base.
  it("reads like a Map copied and changed, version after version", () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 40, size: "max" }), { minLength: 10, maxLength: 40, size: "max" }), (batches) => {
        let plain = new Map<number, string>();
        let kinds: ReadonlyMap<number, string> = new Map();
        for (const [i, batch] of batches.entries()) {
          const next = new Map(plain);
          const edit = KindMap.edit(kinds);
          for (const o of batch) {
            if (o[0] === "set") {
              next.set(o[1], `${o[2]}@${i}`);
              edit.set(o[1], `${o[2]}@${i}`);
            } else {
              next.delete(o[1]);
              edit.delete(o[1]);
            }
            if (edit.get(o[1]) !== next.get(o[1])) expect(edit.get(o[1])).toBe(next.get(o[1]));
          }
          const before = [...kinds];
          const made = edit.done();
          expect([...kinds]).toEqual(before); // the older version is left as it was
          plain = next;
          kinds = made;
          // One comparison per version: vitest's expect costs more than the map under test.
          const reads = (m: ReadonlyMap<number, string>): unknown[] => [
            [...m.entries()],
            [...m.keys()],
            [...m.values()],
            m instanceof KindMap ? m.valueList() : [...m.values()],
            m.size,
            ALL_KEYS.map((k) => [m.get(k), m.has(k)]),
          ];
          expect(reads(kinds)).toEqual(reads(plain));
        }
      }),
      { numRuns: 200, endOnFailure: true },
    );
  });
});

function pod(name: string, line = 1): StoredObject {
  const object: InputObject = { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default", labels: { app: "a" } } };
  return { object, source: { file: "pods.yaml", document: 1, line } };
}

describe("Store", () => {
  it("copies what a change changed, not the map of every object of its kind", () => {
    const PODS = 10_000;
    const s = new Store();
    s.apply(
      "file",
      Array.from({ length: PODS }, (_, i): StoreEvent => ({ type: "upsert", object: pod(`p${i}`) })),
    );
    const copied = kindMapWork.copied;
    const CHANGES = 100;
    const kept: Snapshot[] = [];
    const before = heapAfterGc();
    for (let n = 0; n < CHANGES; n++) {
      // A pod replaced at a new name, as an endpoint moving does.
      s.apply("file", [
        { type: "delete", key: keyOf(pod(`p${n}`).object) },
        { type: "upsert", object: pod(`q${n}`) },
      ]);
      kept.push(s.snapshot());
    }
    // Each snapshot kept: what its change made, not a map of ten thousand entries (~400 KB).
    const perSnapshot = (heapAfterGc() - before) / CHANGES;
    expect(perSnapshot).toBeLessThan(40 * 1024);
    expect(kept[CHANGES - 1]!.of("Pod").size).toBe(PODS);
    expect(kept[CHANGES - 1]!.of("Pod").get("Pod/default/q99")).toBeDefined();
    expect(kept[CHANGES - 1]!.of("Pod").get("Pod/default/p99")).toBeUndefined();
    expect(kept[0]!.of("Pod").get("Pod/default/p99")).toBeDefined();
    // Copying the changes and folding them at ~√n costs a few hundred entries a change.
    expect((kindMapWork.copied - copied) / CHANGES).toBeLessThan(500);
  });
});
