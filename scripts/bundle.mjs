#!/usr/bin/env node
// Part of `npm run build`: the command line runs from one bundle (dist/bundle/, esbuild) rather
// than from tsc's ~450 modules. Resolving, reading and compiling each module separately cost
// serve about 0.2 s of CPU before it did anything (issue 12 item 3). Code splitting keeps what a
// command imports when it runs in chunks of its own, so `--help` still loads no server code.
//
// The chunks are CommonJS, so that src/cli/bundle-loader.ts can run them with V8's code cache
// (Node 20 has none for ES modules). esbuild splits only ES modules, so it builds twice: the split
// ES chunks first, then each chunk alone to CommonJS, a dynamic import becoming a require in a
// promise (a lazily imported chunk still loads only when used). Every chunk's name holds a hash
// of its content: the code cache is kept per chunk name.
//
// dist/cli/main.js (the package's bin, the README's `node dist/cli/main.js`, the image's
// entrypoint) becomes a small module that runs the bundle's entry chunk. The chunks sit one
// directory below dist/, like tsc's modules, so files read relative to a module
// (`../gen/envoy-descriptors.binpb`) resolve the same; copy-assets.mjs copies the rest beside it.
import { build } from "esbuild";
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BUNDLE_DIR = "dist/bundle";
const SPLIT_DIR = "dist/bundle-split";
// A chunk's own URL (what `import.meta.url` was in the ES chunk), defined at the top of each CommonJS chunk.
const MODULE_URL = "__meshpilotModuleUrl";
const minify = { minifyWhitespace: true, minifySyntax: true };

rmSync(`${ROOT}${BUNDLE_DIR}`, { recursive: true, force: true });
rmSync(`${ROOT}${SPLIT_DIR}`, { recursive: true, force: true });
const split = await build({
  absWorkingDir: ROOT,
  entryPoints: ["src/cli/main.ts"],
  outdir: SPLIT_DIR,
  outExtension: { ".js": ".cjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  // Less text to parse at every start; names are kept, so stack traces still name functions.
  ...minify,
  sourcemap: "linked",
  define: { "import.meta.url": MODULE_URL },
  // grpc-js loads it only for channelz and xDS, which meshpilot does not use: left to
  // node_modules (a dependency of grpc-js) instead of parsed with every serve.
  external: ["@grpc/proto-loader"],
  // Which source modules each chunk holds: test/unit/cli/lazy-load.test.ts maps loaded chunks back.
  metafile: true,
  logLevel: "warning",
});
const chunks = readdirSync(`${ROOT}${SPLIT_DIR}`).filter((f) => f.endsWith(".cjs"));
await build({
  absWorkingDir: ROOT,
  entryPoints: chunks.map((f) => `${SPLIT_DIR}/${f}`),
  outdir: BUNDLE_DIR,
  outbase: SPLIT_DIR,
  outExtension: { ".js": ".cjs" },
  bundle: false,
  format: "cjs",
  platform: "node",
  target: "node20",
  supported: { "dynamic-import": false },
  ...minify,
  // Chained to the first pass's maps, so it still maps to src/.
  sourcemap: "linked",
  // Strict as the ES chunk was (the directive must come first).
  banner: { js: `"use strict";var ${MODULE_URL}=require("node:url").pathToFileURL(__filename).href;` },
  // The first pass kept quiet about code in node_modules; this one cannot tell it apart.
  logOverride: { "equals-negative-zero": "silent" },
  logLevel: "warning",
});
rmSync(`${ROOT}${SPLIT_DIR}`, { recursive: true, force: true });

const outputs = Object.fromEntries(Object.entries(split.metafile.outputs).map(([name, output]) => [name.replace(`${SPLIT_DIR}/`, `${BUNDLE_DIR}/`), output]));
writeFileSync(`${ROOT}${BUNDLE_DIR}/meta.json`, JSON.stringify({ ...split.metafile, outputs }));
const entry = Object.entries(outputs).find(([, o]) => o.entryPoint === "src/cli/main.ts")?.[0];
if (entry === undefined) throw new Error("bundle: no output for src/cli/main.ts");
const entryFile = `${ROOT}${entry}`;
// The source's hashbang stays first in the entry chunk; the loader wraps chunks in a function,
// where it would be a syntax error. A comment keeps the line count (and so the source map).
writeFileSync(entryFile, readFileSync(entryFile, "utf8").replace(/^#!/, "//"));
writeFileSync(
  `${ROOT}dist/cli/main.js`,
  [
    "#!/usr/bin/env node",
    "// The command line, bundled by scripts/bundle.mjs (src/cli/main.ts is its entry).",
    'import { runBundle } from "./bundle-loader.js";',
    `runBundle(new URL("../bundle/${entry.slice(BUNDLE_DIR.length + 1)}", import.meta.url));`,
    "",
  ].join("\n"),
);
