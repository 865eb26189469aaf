/**
 * `meshpilot serve` as a real process (the built CLI, dist/cli/main.js), for tests that must kill
 * and restart it. Its pino log (JSON lines on stderr) is kept and can be waited on; the ports come
 * from its "meshpilot ready" line.
 *
 *   ensureBuilt();
 *   const serve = await startServeProcess({ configDir, xdsAddress: "127.0.0.1:0" });
 *   await serve.waitForLog((l) => l.msg === "pushed", "a push");
 *   serve.kill("SIGKILL");
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = join(ROOT, "dist/cli/main.js");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** `npm test` builds first; a bare `vitest run` may find no dist/, or one older than src/: build then. */
export function ensureBuilt(tag: string): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime(join(ROOT, "src"))) return;
  console.log(`[${tag}] dist/ is missing or older than src/: running npm run build`);
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit", timeout: 240_000 });
}

export type LogLine = Readonly<Record<string, unknown>> & { readonly msg?: string };

export interface ServeProcessOptions {
  readonly configDir: string;
  /** Default 127.0.0.1:0. */
  readonly xdsAddress?: string;
  /** Default info. */
  readonly logLevel?: string;
  readonly extraArgs?: readonly string[];
  /** Called with every log line as it arrives (before waiters see it). */
  readonly onLine?: (line: LogLine) => void;
  /** Default 90 s (a loaded 2-core machine can take that long to start Node and build). */
  readonly readyTimeoutMs?: number;
}

export interface ServeProcess {
  readonly pid: number;
  readonly xdsPort: number;
  readonly debugPort: number;
  /** http://127.0.0.1:<debugPort> */
  readonly debug: string;
  /** Every JSON log line so far. */
  readonly lines: readonly LogLine[];
  /** The raw output so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the first line (already seen or to come) for which `match` holds. */
  waitForLog(match: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal (no-op once exited). */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running, and wait for the exit. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

export async function startServeProcess(opts: ServeProcessOptions): Promise<ServeProcess> {
  const args = [
    CLI,
    "serve",
    "--config-dir",
    opts.configDir,
    "--xds-address",
    opts.xdsAddress ?? "127.0.0.1:0",
    "--debug-address",
    "127.0.0.1:0",
    "--no-secure-xds",
    "--no-inject",
    "--log-level",
    opts.logLevel ?? "info",
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const lines: LogLine[] = [];
  let raw = "";
  const waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  for (const out of [child.stdout!, child.stderr!]) {
    createInterface({ input: out }).on("line", (text) => {
      raw += `${text}\n`;
      if (raw.length > 4_000_000) raw = raw.slice(-2_000_000);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return; // not one of ours
      }
      lines.push(line);
      opts.onLine?.(line);
      for (const w of waiters)
        if (w.match(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
    });
  }
  let gone: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((e) => (gone = e));

  const waitForLog = (match: (l: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(
          new Error(
            `meshpilot serve (pid ${child.pid}) logged no ${what} within ${timeoutMs} ms${gone ? ` (it exited: ${JSON.stringify(gone)})` : ""}:\n${raw.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      waiters.add(w);
      void exited.then(() => {
        if (!waiters.has(w)) return;
        waiters.delete(w);
        clearTimeout(timer);
        reject(new Error(`meshpilot serve (pid ${child.pid}) exited before logging ${what}:\n${raw.slice(-4000)}`));
      });
    });
  };

  const stop = async (): Promise<void> => {
    if (!gone) child.kill("SIGKILL");
    await exited;
  };
  try {
    const ready = await waitForLog((l) => l.msg === "meshpilot ready", '"meshpilot ready"', opts.readyTimeoutMs ?? 90_000);
    const xdsPort = Number(ready["xdsPort"]);
    const debugPort = Number(ready["debugPort"]);
    return {
      pid: child.pid!,
      xdsPort,
      debugPort,
      debug: `http://127.0.0.1:${debugPort}`,
      lines,
      output: () => raw,
      waitForLog,
      kill: (signal) => {
        if (!gone) child.kill(signal);
      },
      exited,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
