#!/usr/bin/env node
// Part of `npm run build`: tsc compiles only TypeScript, so the files the server reads at run time
// from beside its modules (the live view's page, script and style; the Envoy descriptor set) are
// copied into dist here, beside tsc's modules and beside the bundle's chunks (scripts/bundle.mjs),
// which read them relative to their own URL.
import { cpSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Directory of src/ → where it goes under dist/ (tsc's place, and the bundle's). */
const ASSET_DIRS = [
  ["debug/live-view/ui", "debug/live-view/ui"],
  ["debug/live-view/ui", "bundle/ui"],
];
const ASSET_FILES = ["gen/envoy-descriptors.json"];

for (const [dir, target] of ASSET_DIRS) {
  const from = fileURLToPath(new URL(`../src/${dir}/`, import.meta.url));
  const to = fileURLToPath(new URL(`../dist/${target}/`, import.meta.url));
  rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true });
}

for (const file of ASSET_FILES) {
  cpSync(fileURLToPath(new URL(`../src/${file}`, import.meta.url)), fileURLToPath(new URL(`../dist/${file}`, import.meta.url)));
}
