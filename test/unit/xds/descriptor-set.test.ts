// The descriptor set the type registry is built from (scripts/gen-envoy-types.mjs) holds the
// Envoy types without their custom options: decoded at every start, they cost time and nothing
// reads them. What the registry does read stays: enum values' JSON names, packed, deprecated.
import { readFileSync } from "node:fs";
import { equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type DescriptorProto, type EnumDescriptorProto } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { decodeDescriptorSet, descriptorSetReads } from "../../../src/xds/descriptor-set.js";
import { envoySchema, registryBuilt } from "../../../src/xds/registry.js";

const bytes = readFileSync(new URL("../../../src/gen/envoy-descriptors.binpb", import.meta.url));
const set = fromBinary(FileDescriptorSetSchema, bytes);

/** Every message of a tree with its own property names and prototype, in walk order. */
function shapes(root: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== "object" || v instanceof Uint8Array) return;
    const own = Object.keys(v).sort();
    out.push(
      `${String((v as { $typeName?: string }).$typeName)} [${own.join(",")}] proto:${Object.keys(Object.getPrototypeOf(v) as object)
        .sort()
        .join(",")}`,
    );
    for (const k of own) walk((v as Record<string, unknown>)[k]);
  };
  walk(root);
  return out;
}

describe("the Envoy descriptor set", () => {
  it("carries no custom options but enum values' JSON names", () => {
    const unknown: string[] = [];
    const note = (where: string, o: { $unknown?: { no: number }[] } | undefined, keep: number[] = []): void => {
      for (const u of o?.$unknown ?? []) if (!keep.includes(u.no)) unknown.push(`${where} #${u.no}`);
    };
    const enumOf = (e: EnumDescriptorProto): void => {
      note(e.name, e.options);
      for (const v of e.value) note(`${e.name}.${v.name}`, v.options, [998]);
    };
    const messageOf = (m: DescriptorProto): void => {
      note(m.name, m.options);
      for (const f of m.field) note(`${m.name}.${f.name}`, f.options);
      for (const o of m.oneofDecl) note(`${m.name}.${o.name}`, o.options);
      m.nestedType.forEach(messageOf);
      m.enumType.forEach(enumOf);
    };
    let fields = 0;
    for (const f of set.file) {
      note(f.name, f.options);
      f.messageType.forEach(messageOf);
      f.enumType.forEach(enumOf);
      for (const s of f.service) for (const m of s.method) note(`${s.name}.${m.name}`, m.options);
      fields += f.messageType.reduce((a, m) => a + m.field.length, 0);
    }
    expect(unknown).toEqual([]);
    expect(fields).toBeGreaterThan(1000);
  });

  it("is decoded by hand into the very messages fromBinary gives", () => {
    const before = descriptorSetReads.decoded;
    const fast = decodeDescriptorSet(bytes);
    expect(descriptorSetReads.decoded).toBe(before + 1);
    expect(fast).toBeDefined();
    expect(equals(FileDescriptorSetSchema, fast!, set)).toBe(true);
    expect(Buffer.from(toBinary(FileDescriptorSetSchema, fast!)).equals(bytes)).toBe(true);
    // same own properties (presence of proto2 fields, unknown fields) and prototypes (their defaults)
    expect(shapes(fast)).toEqual(shapes(set));
  });

  it("declines what it does not read, for fromBinary to decode", () => {
    // file { public_dependency: [1, 2] } as a packed list, which fromBinary reads
    const packed = Buffer.from([0x0a, 0x04, 0x52, 0x02, 0x01, 0x02]);
    expect(fromBinary(FileDescriptorSetSchema, packed).file[0]?.publicDependency).toEqual([1, 2]);
    expect(decodeDescriptorSet(packed)).toBeUndefined();
    // a fixed64 field (wire type 1)
    expect(decodeDescriptorSet(Buffer.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8]))).toBeUndefined();
    // a truncated message
    expect(decodeDescriptorSet(bytes.subarray(0, 1000))).toBeUndefined();
  });

  it("builds the registry from the hand-decoded set", () => {
    const before = descriptorSetReads.decoded;
    const built = registryBuilt();
    envoySchema("envoy.service.discovery.v3.DiscoveryRequest");
    expect(descriptorSetReads.decoded).toBe(built ? before : before + 1);
    expect(descriptorSetReads.declined).toBe(1 + 2);
  });

  it("keeps the options the registry reads", () => {
    const cluster = envoySchema("envoy.config.cluster.v3.Cluster");
    // deprecated fields stay marked as such (a known option field, not an extension)
    expect(cluster.fields.some((f) => f.deprecated)).toBe(true);
    expect(cluster.field["connectTimeout"]?.jsonName).toBe("connectTimeout");
  });
});
