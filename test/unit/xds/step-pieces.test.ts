// A delta response for a step every proxy of a view makes (the shared diff's arrays) is framed
// once: each stream adds only its nonce, and the bytes are those of a response framed for it alone.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Resource } from "../../../src/xds/snapshot.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { deltaPieces, joined, stepDeltaPieces } from "../../../src/xds/wire.js";

const resource = fc.record({
  name: fc.string({ maxLength: 40 }),
  version: fc.string({ maxLength: 20 }),
  body: fc.uint8Array({ maxLength: 300 }),
});
const text = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "grapheme", maxLength: 5 }));

describe("stepDeltaPieces", () => {
  it("writes the bytes deltaPieces writes", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(TYPE_URL)),
        text,
        fc.array(resource, { maxLength: 4 }),
        fc.array(text, { maxLength: 4 }),
        text,
        fc.constantFrom("", "meshpilot-1"),
        (type, version, resources: Resource[], removed, nonce, cp) => {
          expect(
            joined(stepDeltaPieces(type, version, resources, removed, nonce, cp)).equals(joined(deltaPieces(type, version, resources, removed, nonce, cp))),
          ).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("frames a step once for every stream that makes it", () => {
    const body = new Uint8Array(100).fill(7);
    const send: Resource[] = [{ name: "outbound|80||a.ns.svc.cluster.local", version: "v2", body }];
    const removed = ["outbound|80||gone.ns.svc.cluster.local"];
    const a = stepDeltaPieces(TYPE_URL.endpoint, "s2", send, removed, "1", "cp");
    const b = stepDeltaPieces(TYPE_URL.endpoint, "s2", send, removed, "2f", "cp");
    expect(a.chunks[0]).toBe(b.chunks[0]);
    expect(a.chunks.at(-1)).toBe(b.chunks.at(-1));
    // Another version of the same resources is framed again, with its own version.
    const c = stepDeltaPieces(TYPE_URL.endpoint, "s3", send, removed, "3", "cp");
    expect(c.chunks[0]).not.toBe(a.chunks[0]);
    expect(joined(c).equals(joined(deltaPieces(TYPE_URL.endpoint, "s3", send, removed, "3", "cp")))).toBe(true);
  });
});
