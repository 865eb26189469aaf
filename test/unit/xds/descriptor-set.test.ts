// The descriptor set the type registry is built from (scripts/gen-envoy-types.mjs) holds the
// Envoy types without their custom options: decoded at every start, they cost time and nothing
// reads them. What the registry does read stays: enum values' JSON names, packed, deprecated. The
// registry reads the set's JSON form (protobuf-es message objects), which must be the binary set.
import { readFileSync } from "node:fs";
import { create, equals, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type DescriptorProto, type EnumDescriptorProto } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { envoySchema } from "../../../src/xds/registry.js";

const set = fromBinary(FileDescriptorSetSchema, readFileSync(new URL("../../../src/gen/envoy-descriptors.binpb", import.meta.url)));
const fromJson = create(FileDescriptorSetSchema, JSON.parse(readFileSync(new URL("../../../src/gen/envoy-descriptors.json", import.meta.url), "utf8")));

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

  it("is read by the registry in a JSON form that gives back the binary set", () => {
    expect(fromJson.file.length).toBe(set.file.length);
    expect(equals(FileDescriptorSetSchema, fromJson, set)).toBe(true);
  });

  it("keeps the options the registry reads", () => {
    const cluster = envoySchema("envoy.config.cluster.v3.Cluster");
    // deprecated fields stay marked as such (a known option field, not an extension)
    expect(cluster.fields.some((f) => f.deprecated)).toBe(true);
    expect(cluster.field["connectTimeout"]?.jsonName).toBe("connectTimeout");
  });
});
