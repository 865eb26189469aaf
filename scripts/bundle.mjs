#!/usr/bin/env node
// Part of `npm run build`: the command line runs from one bundle (dist/bundle/, esbuild) rather
// than from tsc's ~450 modules. Resolving, reading and compiling each module separately cost
// serve about 0.2 s of CPU before it did anything (issue 12 item 3). Code splitting keeps what a
// command imports when it runs in chunks of its own, so `--help` still loads no server code.
//
// dist/cli/main.js (the package's bin, the README's `node dist/cli/main.js`, the image's
// entrypoint) becomes a one-line module that imports the bundle's entry. The bundle's chunks sit
// one directory below dist/, like tsc's modules, so files read relative to a module
// (`../gen/envoy-descriptors.binpb`) resolve the same; copy-assets.mjs copies the rest beside it.
import { build } from "esbuild";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BUNDLE_DIR = "dist/bundle";

rmSync(`${ROOT}${BUNDLE_DIR}`, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ["src/cli/main.ts"],
  outdir: BUNDLE_DIR,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "[name]-[hash]",
  // Less text to parse at every start; names are kept, so stack traces still name functions.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  // grpc-js loads it only for channelz and xDS, which meshpilot does not use: left to
  // node_modules (a dependency of grpc-js) instead of parsed with every serve.
  external: ["@grpc/proto-loader"],
  // Bundled CommonJS packages require Node's built-ins; an ES module has no `require` of its own.
  banner: { js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);' },
  // Which source modules each chunk holds: test/unit/cli/lazy-load.test.ts maps loaded chunks back.
  metafile: true,
  logLevel: "warning",
});
writeFileSync(`${ROOT}${BUNDLE_DIR}/meta.json`, JSON.stringify(result.metafile));
writeFileSync(
  `${ROOT}dist/cli/main.js`,
  '#!/usr/bin/env node\n// The command line, bundled by scripts/bundle.mjs (src/cli/main.ts is its entry).\nimport "../bundle/main.js";\n',
);
