#!/usr/bin/env node
// Generates TypeScript message types and JSON types (protobuf-es, json_types=true) for the Envoy
// API roots listed in proto/envoy-roots.txt. The .proto files are read from the pinned
// @grpc/grpc-js-xds package; generated code lands in src/gen (git-ignored) and is rebuilt only
// when its inputs change.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const xdsPkgDir = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
const deps = join(xdsPkgDir, "deps");
const out = join(root, "src/gen");
const rootsFile = join(root, "proto/envoy-roots.txt");

const roots = readFileSync(rootsFile, "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const versionOf = (p) => JSON.parse(readFileSync(require.resolve(`${p}/package.json`), "utf8")).version;
const stamp = createHash("sha256")
  .update(
    JSON.stringify({
      roots,
      xds: versionOf("@grpc/grpc-js-xds"),
      es: versionOf("@bufbuild/protoc-gen-es"),
      buf: versionOf("@bufbuild/buf"),
      script: readFileSync(fileURLToPath(import.meta.url), "utf8"),
    }),
  )
  .digest("hex");
const stampFile = join(out, ".stamp");
if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) process.exit(0);

// A work directory of this run's own: checkouts that share node_modules (git worktrees with a
// symlinked node_modules) may build at once, and one run clearing a shared directory under
// another's `buf generate` left that checkout a set missing files, stamped as up to date.
const work = mkdtempSync(join(tmpdir(), "meshpilot-protos-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
for (const d of ["envoy-api", "xds", "googleapis", "protoc-gen-validate/validate"]) {
  cpSync(join(deps, d), join(work, d.startsWith("protoc-gen-validate") ? "pgv/validate" : d), { recursive: true });
}
// The validate.proto bundled with grpc-js-xds predates StringRules.ignore_empty, which the Envoy
// protos it ships already use; buf resolves options strictly, so declare that one field.
const pgv = join(work, "pgv/validate/validate.proto");
const pgvText = readFileSync(pgv, "utf8");
if (!/ignore_empty/.test(pgvText.split("message StringRules")[1]?.split("\n}")[0] ?? "")) {
  writeFileSync(pgv, pgvText.replace("message StringRules {", "message StringRules {\n    optional bool ignore_empty = 26;"));
}
writeFileSync(join(work, "buf.yaml"), "version: v2\nmodules:\n  - path: envoy-api\n  - path: xds\n  - path: googleapis\n  - path: pgv\n");
const plugin = join(root, "node_modules/.bin/protoc-gen-es");
writeFileSync(
  join(work, "buf.gen.yaml"),
  `version: v2\nplugins:\n  - local: ${plugin}\n    out: ${out}\n    include_imports: true\n    opt: [target=ts, json_types=true, import_extension=js]\n`,
);
rmSync(out, { recursive: true, force: true });
const buf = join(root, "node_modules/.bin/buf");
const paths = roots.flatMap((r) => ["--path", join("envoy-api", r)]);
execFileSync(buf, ["generate", ...paths], { cwd: work, stdio: "inherit" });
// The same files (roots and imports) as one FileDescriptorSet: the server builds its type registry
// from it in one pass, which costs a fraction of loading every generated module (issue 12 item 3).
execFileSync(buf, ["build", ...paths, "--as-file-descriptor-set", "--exclude-source-info", "-o", join(out, "envoy-descriptors.binpb")], {
  cwd: work,
  stdio: "inherit",
});
stripOptionExtensions(join(out, "envoy-descriptors.binpb"));
writeMessageJson(join(out, "envoy-descriptors.binpb"), join(out, "envoy-descriptors.json"));
writeFileSync(stampFile, stamp);
console.log(`generated Envoy API types for ${roots.length} roots into src/gen`);

/**
 * Drops the custom options (PGV's validate rules, the udpa and xds annotations) from the set: the
 * server decodes the whole set into its type registry at every start, and nothing reads them at
 * run time; they were ~12% of that build (issue 12 item 3, start-up). An enum value keeps
 * protobuf-es's own JSON name option (998), which the registry reads. Custom options are unknown
 * fields of the options messages, so the known ones (packed, deprecated, features, ...) stay.
 */
function stripOptionExtensions(file) {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(file));
  const strip = (options, keep = () => false) => {
    if (options?.$unknown) options.$unknown = options.$unknown.filter(keep);
  };
  const enumOf = (e) => {
    strip(e.options);
    for (const v of e.value) strip(v.options, (u) => u.no === 998);
  };
  const messageOf = (m) => {
    strip(m.options);
    for (const f of m.field) strip(f.options);
    for (const o of m.oneofDecl) strip(o.options);
    m.nestedType.forEach(messageOf);
    m.enumType.forEach(enumOf);
  };
  for (const f of set.file) {
    strip(f.options);
    f.messageType.forEach(messageOf);
    f.enumType.forEach(enumOf);
    for (const x of f.extension) strip(x.options);
    for (const svc of f.service) {
      strip(svc.options);
      for (const m of svc.method) strip(m.options);
    }
  }
  writeFileSync(file, toBinary(FileDescriptorSetSchema, set));
}

/**
 * The same set as protobuf-es message objects in JSON (not protobuf's JSON mapping), which the
 * server turns back into messages with create(): JSON.parse and create() take about a third of
 * fromBinary's time over this set, which every start pays (issue 12 item 3, start-up). Fails the
 * build unless the JSON gives back exactly the set (a 64-bit integer or bytes would not survive).
 */
function writeMessageJson(binFile, jsonFile) {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(binFile));
  const json = JSON.stringify(set, (key, value) => (key === "$typeName" ? undefined : value));
  if (!equals(FileDescriptorSetSchema, create(FileDescriptorSetSchema, JSON.parse(json)), set)) {
    throw new Error(`${jsonFile}: the JSON form of the descriptor set does not give back the set`);
  }
  writeFileSync(jsonFile, json);
}
