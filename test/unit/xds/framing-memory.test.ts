// What responses keep once they are written. Whole-map bodies are needed while streams are sent
// them (a full sync) and were held as long as their map, every type's megabytes on the heap of a
// synced server. And a response's framing of a resource: Framings are cached per
// resource for as long as it lives; when their bytes came out of Node's shared Buffer pool, each
// pinned an 8 KiB slab full of the garbage of encodings and responses made meanwhile: about 8 KiB
// per workload view of a 1000-service mesh (the view's own resources are framed one at a time
// while the full sync allocates everything else).
import { describe, expect, it } from "vitest";
import type { Resource } from "../../../src/xds/snapshot.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { deltaPieces, joined, sotwPieces, wholeDeltaPieces, wholeSotwPieces } from "../../../src/xds/wire.js";
import { arrayBuffersAfterGc, nextTurn } from "../../support/gc.js";

const RESOURCES = 2000;

describe("framing a resource", () => {
  it("keeps a few bytes per resource, not a slab of other buffers' garbage", () => {
    const kept: Resource[] = [];
    const before = arrayBuffersAfterGc();
    let garbage = 0;
    for (let i = 0; i < RESOURCES; i++) {
      // A body of its own (as the encoder makes them), counted in what stays.
      const r: Resource = { name: `inbound|8080||svc-${i}.bench-${i % 4}.svc.cluster.local`, version: `v${i}-0123456789abcdef`, body: new Uint8Array(200) };
      kept.push(r);
      // Framed for a delta and a SotW response, as a view's first responses do...
      garbage += deltaPieces(TYPE_URL.cluster, "sys", [r], [], `n${i}`, "cp").length;
      garbage += sotwPieces(TYPE_URL.cluster, "v", [r], "cp", `n${i}`).length;
      // ...between the short-lived small buffers of everything else the server does meanwhile.
      for (let j = 0; j < 40; j++) garbage += Buffer.from(`temporary ${i} ${j} ${"x".repeat(100)}`).length;
    }
    const perResource = (arrayBuffersAfterGc() - before) / RESOURCES;
    expect(garbage).toBeGreaterThan(0);
    expect(kept).toHaveLength(RESOURCES);
    // The body (200 bytes) and its framings (about 200 bytes): a slab per resource would be 8 KiB.
    expect(perResource).toBeLessThan(1024);
  });
});

describe("a whole map's response body", () => {
  it("is not kept once written, and is made again alike", async () => {
    const map = new Map<string, Resource>();
    for (let i = 0; i < 2000; i++) {
      const name = `outbound|8080||svc-${String(i).padStart(4, "0")}.bench.svc.cluster.local`;
      map.set(name, { name, version: `v${i}`, body: new Uint8Array(1000).fill(i % 251) });
    }
    const bodies = 2000 * 1000;
    await nextTurn();
    const before = arrayBuffersAfterGc();
    // Joined: copies of their own, not the shared bodies.
    const delta = joined(wholeDeltaPieces(TYPE_URL.endpoint, "sys", map, "cp", "n1"));
    const sotw = joined(wholeSotwPieces(TYPE_URL.endpoint, "v1", map, "cp", "n1"));
    expect(delta.length).toBeGreaterThan(bodies);
    await nextTurn();
    // What stays besides the map and the two copies: framings (~100 bytes each), not two bodies.
    const kept = arrayBuffersAfterGc() - before - delta.length - sotw.length;
    expect(kept).toBeLessThan(bodies / 2);
    expect(joined(wholeDeltaPieces(TYPE_URL.endpoint, "sys", map, "cp", "n1")).equals(delta)).toBe(true);
    expect(joined(wholeSotwPieces(TYPE_URL.endpoint, "v1", map, "cp", "n1")).equals(sotw)).toBe(true);
    expect(map.size).toBe(2000);
  });
});
