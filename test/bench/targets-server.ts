// The server of the targets section: `meshpilot serve --config-dir` from dist/ in a process of
// its own, measured alone (CPU and RSS from /proc, read by the load generator's proc.ts) and,
// through a preloaded probe (targets-gc-probe.mjs), its heap after GC. The load generator writes
// the mesh into the directory and edits it, so what a proxy sees went through everything a real
// edit goes through: the file watch, parsing, validation, the push debouncer, translation, push.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { sleep } from "./report.js";

const MAIN = process.env["BENCH_MESHPILOT_MAIN"] ?? fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const PROBE = fileURLToPath(new URL("./targets-gc-probe.mjs", import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

export class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly xdsAddress: string,
    readonly debugUrl: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts the server on `configDir`; resolves once /ready answers. `heapFile`: where the probe writes the heap on SIGUSR2. */
  static async start(configDir: string, heapFile: string, readyTimeoutMs: number): Promise<ServerProcess> {
    const [xds, debug] = [await freePort(), await freePort()];
    // BENCH_SERVE_NODE_ARGS: extra Node options for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
    const extra = process.env["BENCH_SERVE_NODE_ARGS"]?.split(" ").filter(Boolean) ?? [];
    const args = ["--expose-gc", ...extra, "--import", PROBE, MAIN, "serve", "--config-dir", configDir];
    args.push("--xds-address", `127.0.0.1:${xds}`, "--debug-address", `127.0.0.1:${debug}`);
    args.push("--log-level", "warn", "--no-secure-xds", "--no-inject", "--no-status");
    // The server's log goes to the bench's stderr: stdout holds the tables.
    const child = spawn(process.execPath, args, { stdio: ["ignore", 2, 2], env: { ...process.env, MESHPILOT_BENCH_HEAP_FILE: heapFile } });
    const s = new ServerProcess(child, `127.0.0.1:${xds}`, `http://127.0.0.1:${debug}`);
    const deadline = performance.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`bench: meshpilot serve exited with code ${child.exitCode} before it was ready`);
      const ready = await fetch(`${s.debugUrl}/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return s;
      if (performance.now() > deadline) {
        await s.stop();
        throw new Error(`bench: meshpilot serve not ready within ${readyTimeoutMs} ms`);
      }
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(t);
  }
}
