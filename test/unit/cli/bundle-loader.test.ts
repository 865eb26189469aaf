/**
 * The bundle's loader (src/cli/bundle-loader.ts): chunks run as CommonJS, a chunk is loaded when
 * first required, and V8's code cache is written when there was none (or V8 refused it), used by
 * the next process, and never breaks a run when damaged or unwritable. Counted, never timed.
 * Each process that reads a cache is a fresh one: within one, V8 reuses what it compiled and never
 * looks at the cache.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BundleLoader, codeCacheDir, type CodeCacheStats } from "../../../src/cli/bundle-loader.js";

const LOADER = fileURLToPath(new URL("../../../src/cli/bundle-loader.ts", import.meta.url));

/** Loads `main-A1.cjs` in a new process with the cache in `cacheDir` (none: undefined), writes, and returns the counts. */
function runFresh(chunkDir: string, cacheDir: string | undefined): CodeCacheStats & { sum: number } {
  const script = `const { BundleLoader } = await import(${JSON.stringify(LOADER)});
const loader = new BundleLoader(${JSON.stringify(cacheDir)});
const { sum } = loader.load(${JSON.stringify(join(chunkDir, "main-A1.cjs"))});
loader.write();
console.log(JSON.stringify({ ...loader.stats, sum }));`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  return JSON.parse(out) as CodeCacheStats & { sum: number };
}

let dir: string;
let chunks: string;
let cache: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bundle-loader-"));
  chunks = join(dir, "bundle");
  cache = join(dir, "cache");
  mkdirSync(chunks);
  // The shapes scripts/bundle.mjs writes: a static require of a chunk, a lazy one, a built-in.
  writeFileSync(
    join(chunks, "main-A1.cjs"),
    '"use strict";const b=require("./shared-B2.cjs");exports.sum=b.two()+1;exports.later=()=>Promise.resolve().then(()=>require("./lazy-C3.cjs"));',
  );
  writeFileSync(
    join(chunks, "shared-B2.cjs"),
    '"use strict";const path=require("node:path");exports.two=()=>path.basename("/x/2").length+1;globalThis.__bundleLoaderTestRuns=(globalThis.__bundleLoaderTestRuns??0)+1;',
  );
  writeFileSync(join(chunks, "lazy-C3.cjs"), '"use strict";exports.name=__filename;');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const cacheFiles = (): string[] => {
  try {
    return readdirSync(cache).sort();
  } catch {
    return [];
  }
};

describe("BundleLoader", () => {
  it("runs chunks as CommonJS, each once, a lazy one only when asked for", async () => {
    const loader = new BundleLoader(cache);
    const before = (globalThis as { __bundleLoaderTestRuns?: number }).__bundleLoaderTestRuns ?? 0;
    const main = loader.load(join(chunks, "main-A1.cjs")) as { sum: number; later: () => Promise<{ name: string }> };
    expect(main.sum).toBe(3);
    expect(loader.stats.loaded).toBe(2);
    loader.load(join(chunks, "shared-B2.cjs"));
    expect((globalThis as { __bundleLoaderTestRuns?: number }).__bundleLoaderTestRuns).toBe(before + 1);
    expect((await main.later()).name).toBe(join(chunks, "lazy-C3.cjs"));
    expect(loader.stats.loaded).toBe(3);
  });

  it("runs a chunk that threw again when required again", () => {
    writeFileSync(
      join(chunks, "flaky-D4.cjs"),
      '"use strict";globalThis.__bundleLoaderFlaky=(globalThis.__bundleLoaderFlaky??0)+1;if(globalThis.__bundleLoaderFlaky===1)throw new Error("first run");exports.runs=globalThis.__bundleLoaderFlaky;',
    );
    const loader = new BundleLoader(undefined);
    expect(() => loader.load(join(chunks, "flaky-D4.cjs"))).toThrow("first run");
    expect((loader.load(join(chunks, "flaky-D4.cjs")) as { runs: number }).runs).toBe(2);
  });

  it("writes a cache file per chunk once, and the next process uses them", () => {
    expect(runFresh(chunks, cache)).toEqual({ loaded: 2, accepted: 0, rejected: 0, written: 2, sum: 3 });
    const files = cacheFiles();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(new RegExp(`^main-A1\\.cjs\\.${process.version.replace(/\./g, "\\.")}-${process.platform}-${process.arch}-[0-9a-f]{8}\\.v8$`));
    expect(runFresh(chunks, cache)).toEqual({ loaded: 2, accepted: 2, rejected: 0, written: 0, sum: 3 });
  });

  it("writes what it has once, however often asked", () => {
    const loader = new BundleLoader(cache);
    loader.load(join(chunks, "main-A1.cjs"));
    expect(cacheFiles()).toEqual([]);
    loader.write();
    loader.write();
    expect(loader.stats.written).toBe(2);
    expect(cacheFiles()).toHaveLength(2);
  });

  it("ignores a damaged cache file, runs the chunk, and writes it again", () => {
    runFresh(chunks, cache);
    const damaged = cacheFiles().find((f) => f.startsWith("shared-B2"))!;
    writeFileSync(join(cache, damaged), "not V8's code");
    expect(runFresh(chunks, cache)).toEqual({ loaded: 2, accepted: 1, rejected: 1, written: 1, sum: 3 });
    expect(cacheFiles().filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(runFresh(chunks, cache)).toMatchObject({ accepted: 2, rejected: 0, written: 0 });
  });

  it("runs without a cache when its directory cannot be made", () => {
    writeFileSync(join(dir, "file"), "");
    expect(runFresh(chunks, join(dir, "file", "cache"))).toEqual({ loaded: 2, accepted: 0, rejected: 0, written: 0, sum: 3 });
  });

  it("without a directory, neither reads nor writes", () => {
    expect(runFresh(chunks, undefined)).toEqual({ loaded: 2, accepted: 0, rejected: 0, written: 0, sum: 3 });
  });
});

describe("codeCacheDir", () => {
  it("is beside the chunks unless MESHPILOT_CODE_CACHE says otherwise", () => {
    expect(codeCacheDir("/app/dist/bundle/main-X.cjs", {})).toBe("/app/dist/bundle/code-cache");
    expect(codeCacheDir("/app/dist/bundle/main-X.cjs", { MESHPILOT_CODE_CACHE: "/var/cache/mp" })).toBe("/var/cache/mp");
    expect(codeCacheDir("/app/dist/bundle/main-X.cjs", { MESHPILOT_CODE_CACHE: "off" })).toBeUndefined();
  });
});
