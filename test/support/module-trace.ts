/**
 * Which modules a process loads: runs `node <args>` with a preload that records every module URL
 * the ESM loader loads (an off-thread load hook) and, at exit, every CommonJS file in require's
 * cache (what CommonJS packages require internally never reaches the ESM hook on Node 20).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/** Runs `node ...args` in `cwd` and returns the modules it loaded. */
export function traceModules(args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<ModuleTrace> {
  const dir = mkdtempSync(join(tmpdir(), "module-trace-"));
  const file = join(dir, "modules.txt");
  return new Promise<ModuleTrace>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", `data:text/javascript,${encodeURIComponent(PRELOAD)}`, ...args],
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, MESHPILOT_MODULE_TRACE: file } },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) return reject(new Error(`node ${args.join(" ")}: killed after ${timeoutMs} ms`));
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
  });
}
