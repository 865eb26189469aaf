// ProtoWriter stands in for protobuf-es's BinaryWriter in the encoders: for the same calls it must
// give the same bytes, or refuse (throw) where BinaryWriter does.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProtoWriter } from "../../src/proto-writer.js";

type Op =
  | { readonly m: "uint32" | "int32" | "sint32" | "fixed32" | "sfixed32" | "float" | "double"; readonly v: number }
  | { readonly m: "int64" | "uint64" | "sint64" | "fixed64" | "sfixed64"; readonly v: bigint }
  | { readonly m: "bool"; readonly v: boolean }
  | { readonly m: "string"; readonly v: string }
  | { readonly m: "bytes" | "raw"; readonly v: Uint8Array }
  | { readonly m: "tag"; readonly field: number; readonly wireType: number }
  | { readonly m: "fork" | "join" };

const int64 = fc.bigInt(-(1n << 63n), (1n << 63n) - 1n);
const uint64 = fc.bigInt(0n, (1n << 64n) - 1n);
const scalar: fc.Arbitrary<Op> = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({ m: "uint32", v }) as const),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((v) => ({ m: "int32", v }) as const),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((v) => ({ m: "sint32", v }) as const),
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({ m: "fixed32", v }) as const),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((v) => ({ m: "sfixed32", v }) as const),
  fc.float().map((v) => ({ m: "float", v }) as const),
  fc.double().map((v) => ({ m: "double", v }) as const),
  int64.map((v) => ({ m: "int64", v }) as const),
  uint64.map((v) => ({ m: "uint64", v }) as const),
  int64.map((v) => ({ m: "sint64", v }) as const),
  uint64.map((v) => ({ m: "fixed64", v }) as const),
  int64.map((v) => ({ m: "sfixed64", v }) as const),
  fc.boolean().map((v) => ({ m: "bool", v }) as const),
  // Short and long, ASCII and not, lone surrogates included (both write U+FFFD).
  fc
    .oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 80 }), fc.string({ minLength: 100, maxLength: 300 }))
    .map((v) => ({ m: "string", v }) as const),
  fc.uint8Array({ maxLength: 200 }).map((v) => ({ m: "bytes", v }) as const),
  fc.uint8Array({ maxLength: 40 }).map((v) => ({ m: "raw", v }) as const),
  fc.record({ field: fc.integer({ min: 1, max: (1 << 29) - 1 }), wireType: fc.constantFrom(0, 1, 2, 5) }).map((t) => ({ m: "tag", ...t }) as const),
);

/** Balanced forks and joins around runs of scalars, deep and long enough to widen lengths past one byte. */
const ops: fc.Arbitrary<Op[]> = fc.letrec<{ ops: Op[] }>((tie) => ({
  ops: fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: scalar.map((s) => [s]) },
        { weight: 1, arbitrary: tie("ops").map((inner) => [{ m: "fork" } as Op, ...inner, { m: "join" } as Op]) },
      ),
      {
        maxLength: 12,
        depthIdentifier: "ops",
      },
    )
    .map((runs) => runs.flat()),
})).ops;

function apply(w: BinaryWriter | ProtoWriter, op: Op): void {
  const any = w as unknown as Record<string, (...a: unknown[]) => unknown>;
  if (op.m === "fork" || op.m === "join") any[op.m]!();
  else if (op.m === "tag") w.tag(op.field, op.wireType);
  else any[op.m]!((op as { readonly v: unknown }).v);
}

function written(make: () => BinaryWriter | ProtoWriter, list: readonly Op[]): string | "throws" {
  const w = make();
  try {
    for (const op of list) apply(w, op);
    return Buffer.from(w.finish()).toString("hex");
  } catch {
    return "throws";
  }
}

describe("ProtoWriter", () => {
  it("writes BinaryWriter's bytes for the same calls", () => {
    fc.assert(
      fc.property(ops, (list) => {
        expect(written(() => new ProtoWriter(), list)).toBe(written(() => new BinaryWriter(), list));
      }),
      { numRuns: 3000 },
    );
  });

  it("refuses a float that float32 rounds to infinity, as BinaryWriter does", () => {
    for (const v of [3.5e38, -3.5e38, 1e39]) {
      expect(written(() => new ProtoWriter(), [{ m: "float", v }])).toBe("throws");
      expect(written(() => new BinaryWriter(), [{ m: "float", v }])).toBe("throws");
    }
    for (const v of [Infinity, 3.4028235e38, NaN])
      expect(written(() => new ProtoWriter(), [{ m: "float", v }])).toBe(written(() => new BinaryWriter(), [{ m: "float", v }]));
  });

  it("takes an empty body back with its tag, and keeps one that is not", () => {
    const w = new ProtoWriter();
    w.tag(1, 2).string("a");
    const from = w.length;
    w.tag(2, 2).fork().joinUnlessEmpty(from);
    expect(Buffer.from(w.finish()).toString("hex")).toBe("0a0161");
    w.tag(2, 2).fork().string("b").joinUnlessEmpty(0);
    expect(Buffer.from(w.finish()).toString("hex")).toBe("1202" + "0162");
  });

  it("checkedString refuses a lone surrogate that string() writes as U+FFFD", () => {
    expect(() => new ProtoWriter().checkedString("a\ud800")).toThrow();
    expect(Buffer.from(new ProtoWriter().string("a\ud800").finish()).toString("hex")).toBe(
      Buffer.from(new BinaryWriter().string("a\ud800").finish()).toString("hex"),
    );
  });
});
