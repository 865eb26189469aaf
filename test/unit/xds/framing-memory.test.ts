// What a response's framing of a resource keeps once the response is gone. Framings are cached per
// resource for as long as it lives; when their bytes came out of Node's shared Buffer pool, each
// pinned an 8 KiB slab full of the garbage of encodings and responses made meanwhile: about 8 KiB
// per workload view of a 1000-service mesh (the view's own resources are framed one at a time
// while the full sync allocates everything else).
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { Resource } from "../../../src/xds/snapshot.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { deltaPieces, sotwPieces } from "../../../src/xds/wire.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function arrayBuffersAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().arrayBuffers;
}

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
