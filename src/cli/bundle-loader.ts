// Runs the command line's bundle (scripts/bundle.mjs writes it as CommonJS chunks) with a V8 code
// cache: each chunk is compiled with the code V8 made of it in an earlier run, so a start parses and
// compiles only what it had not run before (serve 50 services / 10 proxies: about 0.1 s of CPU to
// first sync, issue 12 item 3). Node 20 offers no code cache for ES modules, hence CommonJS.
//
// - A chunk is loaded when first required, as with Node's own loader: lazily imported chunks (the
//   Kubernetes client, the CA, the webhook) still load only when used.
// - One cache file per chunk, named for the chunk (whose name holds a hash of its content), Node's
//   version and platform, and the process's flags (V8 rejects code made under other flags). It lives
//   in the bundle's directory by default, so every build starts without stale files.
// - A cache file is written only when there was none or V8 rejected it, after the process ran a
//   while (then V8 also has the functions that ran since, not only the top level) and at exit,
//   atomically (a temporary file renamed), so concurrent processes never read a partial one.
// - Every failure to read or write a cache file means no cache, never an error.
// - MESHPILOT_CODE_CACHE=off runs the chunks with Node's own loader; another value is the directory.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Module, createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script, constants } from "node:vm";

/** When a long-running process (serve) writes the code it has compiled so far. */
const WRITE_AFTER_MS = 20_000;

export interface CodeCacheStats {
  /** Chunks loaded. */
  readonly loaded: number;
  /** Chunks whose cache V8 accepted. */
  readonly accepted: number;
  /** Chunks whose cache V8 rejected (another V8, other flags, a damaged file). */
  readonly rejected: number;
  /** Cache files written. */
  readonly written: number;
}

interface Pending {
  readonly script: Script;
  readonly cacheFile: string;
}

/** FNV-1a, 32 bits: enough to tell flag sets apart in a file name. */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** What besides a chunk's content decides whether V8 can use its cached code. */
function runtimeTag(): string {
  const flags = `${process.execArgv.join("\0")}\0${process.env["NODE_OPTIONS"] ?? ""}`;
  return `${process.version}-${process.platform}-${process.arch}-${shortHash(flags)}`;
}

export class BundleLoader {
  private readonly modules = new Map<string, Module>();
  private readonly pending: Pending[] = [];
  private readonly tag = runtimeTag();
  private counts = { loaded: 0, accepted: 0, rejected: 0, written: 0 };

  /** `cacheDir`: where the cache files are; undefined: no cache. */
  constructor(private readonly cacheDir: string | undefined) {}

  get stats(): CodeCacheStats {
    return { ...this.counts };
  }

  /** The exports of the chunk at `file` (an absolute path), run when first asked for. */
  load(file: string): unknown {
    const known = this.modules.get(file);
    if (known) return known.exports;
    const source = readFileSync(file, "utf8");
    const cacheFile = this.cacheDir === undefined ? undefined : join(this.cacheDir, `${basename(file)}.${this.tag}.v8`);
    const cachedData = cacheFile === undefined ? undefined : readIfThere(cacheFile);
    const script = new Script(Module.wrap(source), {
      filename: file,
      ...(cachedData ? { cachedData } : {}),
      importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    this.counts.loaded++;
    if (cachedData && !script.cachedDataRejected) this.counts.accepted++;
    else if (cacheFile !== undefined) {
      if (cachedData) this.counts.rejected++;
      this.pending.push({ script, cacheFile });
    }
    const module = new Module(file);
    module.filename = file;
    const nodeRequire = createRequire(file);
    // Registered before it runs (a cycle of requires gets its exports so far), and seen by whoever
    // lists the loaded modules (test/support/module-trace.ts) as Node's loader would show it.
    this.modules.set(file, module);
    nodeRequire.cache[file] = module;
    const dir = dirname(file);
    // The bundle names its chunks "./<name>.cjs"; everything else (built-ins, packages left out of
    // the bundle) is Node's to resolve, from the chunk's directory.
    const chunkRequire = Object.assign((id: string): unknown => (id.startsWith("./") && id.endsWith(".cjs") ? this.load(join(dir, id)) : nodeRequire(id)), {
      resolve: nodeRequire.resolve,
      cache: nodeRequire.cache,
    });
    const run = script.runInThisContext() as (exports: unknown, require: unknown, module: Module, filename: string, dirname: string) => void;
    try {
      run.call(module.exports, module.exports, chunkRequire, module, file, dir);
    } catch (err) {
      // As with Node's loader: a chunk that threw is run again by the next require, not half-loaded.
      this.modules.delete(file);
      delete nodeRequire.cache[file];
      throw err;
    }
    module.loaded = true;
    return module.exports;
  }

  /** Writes the code V8 has now of each chunk that had no usable cache; once per chunk. */
  write(): void {
    const todo = this.pending.splice(0);
    if (todo.length === 0 || this.cacheDir === undefined) return;
    try {
      mkdirSync(this.cacheDir, { recursive: true });
    } catch {
      return;
    }
    for (const { script, cacheFile } of todo) {
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(temporary, script.createCachedData());
        renameSync(temporary, cacheFile);
        this.counts.written++;
      } catch {
        rmSync(temporary, { force: true });
      }
    }
  }
}

function readIfThere(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** The cache directory for the bundle whose entry is `entry`: MESHPILOT_CODE_CACHE, or beside the chunks. */
export function codeCacheDir(entry: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env["MESHPILOT_CODE_CACHE"];
  if (setting === "off") return undefined;
  return setting !== undefined && setting !== "" ? setting : join(dirname(entry), "code-cache");
}

/** Runs the bundle whose entry chunk is `entry` (the bin, dist/cli/main.js, calls it). */
export function runBundle(entry: URL): void {
  const file = fileURLToPath(entry);
  const dir = codeCacheDir(file);
  if (dir === undefined) {
    createRequire(file)(file);
    return;
  }
  const loader = new BundleLoader(dir);
  process.once("exit", () => loader.write());
  setTimeout(() => loader.write(), WRITE_AFTER_MS).unref();
  loader.load(file);
}
