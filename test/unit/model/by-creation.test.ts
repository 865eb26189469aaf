// Objects of one creation time are ordered by `namespace/name` as a string compares; the
// comparison does so without making the two strings.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { byCreation, compareQualified } from "../../../src/model/routing.js";

const joined = (an: string, a: string, bn: string, b: string): number => {
  const x = `${an}/${a}`;
  const y = `${bn}/${b}`;
  return x < y ? -1 : x > y ? 1 : 0;
};

describe("ordering by creation, then namespace/name", () => {
  it("compares namespace/name exactly as the joined strings compare", () => {
    const part = fc.oneof(
      fc.constantFrom("", "a", "a-b", "a.b", "a/b", "ab", "a0", "b", "ns-1", "ns-10", "ns1"),
      fc.string({ maxLength: 5 }),
      fc.string({ unit: "binary", maxLength: 4 }),
    );
    fc.assert(
      fc.property(part, part, part, part, (an, a, bn, b) => {
        expect(compareQualified(an, a, bn, b)).toBe(joined(an, a, bn, b));
        expect(compareQualified(an, a, an, b)).toBe(joined(an, a, an, b));
      }),
      { numRuns: 5000 },
    );
    // A namespace that is a prefix of another: "-" sorts before "/", letters after.
    expect(compareQualified("a", "z", "a-b", "c")).toBe(1);
    expect(compareQualified("a", "z", "ab", "c")).toBe(-1);
  });

  it("orders by creation time first", () => {
    const o = (creationTimestamp: string, namespace: string, name: string) => ({ creationTimestamp, namespace, name });
    const sorted = [o("2", "a", "x"), o("1", "b", "y"), o("1", "a-b", "c"), o("1", "a", "z")].sort(byCreation);
    expect(sorted.map((x) => `${x.creationTimestamp} ${x.namespace}/${x.name}`)).toEqual(["1 a-b/c", "1 a/z", "1 b/y", "2 a/x"]);
  });
});
