/**
 * Which modules a process loads: runs `node <args>` with a preload that records every module URL
 * the ESM loader loads (an off-thread load hook) and, at exit, every CommonJS file in require's
 * cache (what CommonJS packages require internally never reaches the ESM hook on Node 20).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const HOOK = `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.MESHPILOT_MODULE_TRACE, url + "\\n");
  return next(url, context);
}`;

const PRELOAD = `import { register, createRequire } from "node:module";
import { appendFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
register("data:text/javascript," + ${JSON.stringify(encodeURIComponent(HOOK))});
process.on("exit", () => {
  const cjs = Object.keys(createRequire(pathToFileURL(process.cwd() + "/")).cache).map((p) => pathToFileURL(p).href);
  appendFileSync(process.env.MESHPILOT_MODULE_TRACE, cjs.join("\\n") + "\\n");
});`;

export interface ModuleTrace {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** URLs of the modules loaded (file:, node:), each once. */
  readonly modules: readonly string[];
}

/**
 * Runs `node ...args` in `cwd` and returns the modules it loaded. With `stopWhen`, a server is sent
 * SIGTERM once its stdout or stderr shows that text (it must then exit by itself).
 */
export function traceModules(
  args: readonly string[],
  cwd: string,
  o: { readonly timeoutMs?: number; readonly stopWhen?: string; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<ModuleTrace> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), "module-trace-"));
  const file = join(dir, "modules.txt");
  let timedOut = false;
  return new Promise<ModuleTrace>((resolve, reject) => {
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    const child = execFile(
      process.execPath,
      ["--import", `data:text/javascript,${encodeURIComponent(PRELOAD)}`, ...args],
      { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...o.env, MESHPILOT_MODULE_TRACE: file } },
      (err, stdout, stderr) => {
        clearTimeout(timer);
        if (timedOut) return reject(new Error(`node ${args.join(" ")}: killed after ${timeoutMs} ms`));
        let text = "";
        try {
          text = readFileSync(file, "utf8");
        } catch {
          // nothing loaded through the hook: reported as an empty list
        }
        rmSync(dir, { recursive: true, force: true });
        const modules = [...new Set(text.split("\n").filter((l) => l !== ""))];
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr), modules });
      },
    );
    if (o.stopWhen === undefined) return;
    const stopWhen = o.stopWhen;
    let seen = "";
    const watch = (d: Buffer | string): void => {
      seen = (seen + String(d)).slice(-4 * stopWhen.length - 4096);
      if (!seen.includes(stopWhen)) return;
      child.stdout?.off("data", watch);
      child.stderr?.off("data", watch);
      child.kill("SIGTERM");
    };
    child.stdout?.on("data", watch);
    child.stderr?.on("data", watch);
  });
}

/**
 * The source modules behind the bundle's chunks (scripts/bundle.mjs): each loaded chunk of
 * `root`/dist/bundle is replaced by the files esbuild put into it (its metafile), as file URLs of
 * `root` (`…/src/xds/server.ts`, `…/node_modules/@grpc/grpc-js/…`). Loading a chunk parses all of
 * them, so that is what the command paid for. Other modules are kept as they are.
 */
export function bundleSources(modules: readonly string[], root: string): string[] {
  const bundle = pathToFileURL(join(root, "dist/bundle/")).href;
  const meta = JSON.parse(readFileSync(join(root, "dist/bundle/meta.json"), "utf8")) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const base = pathToFileURL(join(root, "/")).href;
  return [
    ...new Set(
      modules.flatMap((m) => {
        if (!m.startsWith(bundle)) return [m];
        const output = meta.outputs[`dist/bundle/${m.slice(bundle.length)}`];
        if (!output) throw new Error(`${m} is not in dist/bundle/meta.json: is dist/ from an older build?`);
        return Object.keys(output.inputs).map((input) => base + input);
      }),
    ),
  ];
}
