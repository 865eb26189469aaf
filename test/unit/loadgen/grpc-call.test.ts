// The load clients' gRPC message framing (src/loadgen/grpc-call.ts): messages come out whole and
// in order wherever HTTP/2 cut the bytes into chunks, and a message inside one chunk is handed
// without a copy (the full sync's megabytes per proxy are the load generator's main cost).
import { describe, expect, it } from "vitest";
import { frame } from "../../../src/loadgen/grpc-call.js";
import { GatherPool } from "../../../src/xds/gather-pool.js";
import { Deframer } from "../../../src/xds/grpc-deframer.js";

const messages = [Buffer.from("first message"), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from([1, 2, 3])];
const wire = Buffer.concat(messages.map(frame));

/** The messages read from `chunks`, each as its length and hex (a compact value to compare). */
function deframe(chunks: readonly Buffer[]): string[] {
  const out: string[] = [];
  const d = new Deframer((b) => void out.push(`${b.length}:${b.toString("hex")}`));
  for (const c of chunks) d.push(c);
  expect(d.partial).toBe(false);
  return out;
}
const expected = messages.map((m) => `${m.length}:${m.toString("hex")}`);

describe("gRPC message framing of the load clients", () => {
  it("frames a message as flag 0, a big-endian length, the bytes", () => {
    expect([...frame(Buffer.from([9, 8]))]).toEqual([0, 0, 0, 0, 2, 9, 8]);
  });

  it("reads the same messages however the stream is cut: one chunk, every cut in two, bytes one by one", () => {
    expect(deframe([wire])).toEqual(expected);
    // Every cut point near the prefixes and message ends, and a stride through the big message.
    const cuts = [...Array(wire.length).keys()].filter((i) => i < 40 || i % 997 === 0 || wire.length - i < 40);
    for (const cut of cuts) expect(deframe([wire.subarray(0, cut), wire.subarray(cut)]), `cut at ${cut}`).toEqual(expected);
    const small = Buffer.concat([frame(Buffer.from("ab")), frame(Buffer.alloc(0)), frame(Buffer.from("cde"))]);
    expect(deframe([...small].map((b) => Buffer.from([b])))).toEqual(["2:6162", "0:", "3:636465"]);
  });

  it("hands a message that lies in one chunk as a view of that chunk, not a copy", () => {
    const chunk = Buffer.concat([frame(Buffer.from("one")), frame(Buffer.from("two"))]);
    const got: Buffer[] = [];
    new Deframer((b) => void got.push(b)).push(chunk);
    expect(got.map((b) => b.toString())).toEqual(["one", "two"]);
    for (const b of got) expect(b.buffer).toBe(chunk.buffer);
  });

  it("gathers split messages in pooled buffers, each used again once its message was handled", () => {
    const pool = new GatherPool();
    const big = (fill: number): Buffer => Buffer.alloc(100_000 + fill, fill);
    const out: string[] = [];
    const d = new Deframer((b) => void out.push(`${b.length}:${b[0]}:${b[b.length - 1]}`), undefined, pool);
    for (const fill of [1, 2, 3]) {
      const w = frame(big(fill));
      // Cut in three: the message is gathered.
      for (const c of [w.subarray(0, 10), w.subarray(10, 50_000), w.subarray(50_000)]) d.push(c);
    }
    expect(out).toEqual(["100001:1:1", "100002:2:2", "100003:3:3"]);
    expect({ taken: pool.taken, reused: pool.reused }).toEqual({ taken: 3, reused: 2 });
  });

  it("says when the stream stopped inside a message, and reports which messages are flagged as compressed", () => {
    const d = new Deframer(() => {});
    d.push(wire.subarray(0, 8));
    expect(d.partial).toBe(true);
    const compressed = frame(Buffer.from("x"));
    compressed[0] = 1;
    const flags: boolean[] = [];
    new Deframer((_, c) => void flags.push(c)).push(Buffer.concat([compressed, frame(Buffer.from("y"))]));
    expect(flags).toEqual([true, false]);
  });
});
