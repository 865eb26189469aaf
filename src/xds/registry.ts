// The type registry used to read (and print) `google.protobuf.Any` in Envoy's JSON form, and to
// find the schema of each xDS type. Any payloads are resolved by their `@type` URL, so every
// message that can sit inside an Any in our output must be registered: the registry holds every
// generated file (the roots of proto/envoy-roots.txt and their imports), so a translator adding a
// field that carries an Any of an already generated type cannot fail here for lack of one.
//
// It is built, when first used, from one FileDescriptorSet that `npm run gen` writes beside the
// generated modules: one pass over the set costs a fraction of loading the generated modules, each
// of which builds its own registry of everything it imports (issue 12 item 3, start-up). The set
// is read in the JSON form of protobuf-es's message objects (scripts/gen-envoy-types.mjs):
// JSON.parse and create() cost about a third of decoding the binary set with fromBinary.
import { readFileSync } from "node:fs";
import { create, createFileRegistry, type DescFile, type DescMessage, type FileRegistry, type MessageInitShape, type Registry } from "@bufbuild/protobuf";
// Only what is named below is bundled and loaded: each well-known file builds its descriptors when
// its module loads (esbuild drops the others, which nothing names).
import * as wkt from "@bufbuild/protobuf/wkt";

const DESCRIPTORS = new URL("../gen/envoy-descriptors.json", import.meta.url);

/**
 * protobuf-es's own descriptors of the well-known types the Envoy protos import, so that theirs
 * and ours are the same objects. Named one by one: every well-known file protobuf-es has builds
 * its descriptors when its module loads (about 15 ms of start-up for the eight nobody imports).
 * A well-known file not listed here is built from the set like any other.
 */
function wellKnownFiles(): Map<string, DescFile> {
  const files = [
    wkt.file_google_protobuf_any,
    wkt.file_google_protobuf_descriptor,
    wkt.file_google_protobuf_duration,
    wkt.file_google_protobuf_empty,
    wkt.file_google_protobuf_struct,
    wkt.file_google_protobuf_timestamp,
    wkt.file_google_protobuf_wrappers,
  ];
  return new Map(files.map((f) => [f.proto.name, f]));
}

function build(): FileRegistry {
  const set = create(wkt.FileDescriptorSetSchema, JSON.parse(readFileSync(DESCRIPTORS, "utf8")) as MessageInitShape<typeof wkt.FileDescriptorSetSchema>);
  const known = wellKnownFiles();
  const byName = new Map(set.file.map((f) => [f.name, f]));
  // One root that imports every file: the registry is built in one pass. It adds a root's imports
  // in the reverse of their listed order, and the set lists each file after its imports.
  const root = create(wkt.FileDescriptorProtoSchema, {
    name: "meshpilot/envoy-descriptors.proto",
    syntax: "proto3",
    dependency: set.file
      .map((f) => f.name)
      .filter((n) => !known.has(n))
      .reverse(),
  });
  return createFileRegistry(root, (name) => known.get(name) ?? byName.get(name));
}

let built: FileRegistry | undefined;
const registry = (): FileRegistry => (built ??= build());

/** Whether the registry was built (for tests of when that happens). */
export function registryBuilt(): boolean {
  return built !== undefined;
}

/** Registry for `fromJson`/`toJson` of Envoy resources with embedded Anys (built when first asked). */
export const envoyRegistry: Registry = {
  kind: "registry",
  [Symbol.iterator]: () => registry()[Symbol.iterator](),
  get: (typeName) => registry().get(typeName),
  getMessage: (typeName) => registry().getMessage(typeName),
  getEnum: (typeName) => registry().getEnum(typeName),
  getExtension: (typeName) => registry().getExtension(typeName),
  getExtensionFor: (extendee, no) => registry().getExtensionFor(extendee, no),
  getService: (typeName) => registry().getService(typeName),
};

/** The schema of a message type the registry holds, by its full name; throws for one it does not. */
export function envoySchema(typeName: string): DescMessage {
  const schema = envoyRegistry.getMessage(typeName);
  if (!schema) throw new Error(`no Envoy message type ${typeName} in the generated descriptors`);
  return schema;
}
