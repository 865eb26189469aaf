import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entriesForHost, hostMatches, indexHosts, matchingHosts } from "../../../src/model/hosts.js";

// The index must find exactly what a scan of every (item, pattern) pair finds, in the same order:
// callers pick "the first most specific" match, so order is part of the answer.
const label = fc.constantFrom("a", "b", "c");
const host = fc.tuple(label, label, label).map((p) => p.join("."));
const pattern = fc.oneof(
  host,
  fc.constant("*"),
  fc.tuple(label, label).map(([x, y]) => `*.${x}.${y}`),
  fc.tuple(label).map(([x]) => `*.${x}`),
);

describe("host index", () => {
  it("finds the same entries as a scan, in scan order", () => {
    fc.assert(
      fc.property(fc.array(fc.array(pattern, { maxLength: 3 }), { maxLength: 8 }), host, (items, h) => {
        const scan: [number, string][] = [];
        items.forEach((patterns, i) => patterns.forEach((p) => hostMatches(p, h) && scan.push([i, p])));
        const found = entriesForHost(
          indexHosts(
            items.map((patterns, i) => ({ i, patterns })),
            (x) => x.patterns,
          ),
          h,
        ).map((e) => [e.item.i, e.pattern]);
        expect(found).toEqual(scan);
      }),
    );
  });

  it("matchingHosts looks exact names up and scans only for wildcards", () => {
    const byHost = new Map([
      ["a.b.c", 1],
      ["x.b.c", 2],
      ["a.c.c", 3],
    ]);
    expect(matchingHosts("a.b.c", byHost)).toEqual([1]);
    expect(matchingHosts("z.b.c", byHost)).toEqual([]);
    expect(matchingHosts("*.b.c", byHost)).toEqual([1, 2]);
    expect(matchingHosts("*", byHost)).toEqual([1, 2, 3]);
  });
});
