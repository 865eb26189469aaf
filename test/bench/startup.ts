// Start-up section (`BENCH_ONLY=startup`, issue 12 item 3): what the built command line costs as
// a user runs it, each command in a fresh process, several runs, medians:
//   - `meshpilot --help` and `meshpilot translate` of the demo's config: wall time from spawn to
//     exit, CPU seconds and peak RSS (the child's own getrusage, written at exit by a preload);
//   - `meshpilot serve` of a 50-service directory with 10 delta ADS clients (the push bench's
//     client process): server CPU from spawn until every client holds the full snapshot, and the
//     server's peak RSS then (/proc/<pid>/stat and VmHWM); also its CPU when it logs that it is
//     ready (modules loaded, directory read, inputs built), before any client connects.
// Wall time is noisy on the shared machine; CPU seconds and RSS are the steadier figures.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { generateMesh } from "./mesh.js";
import { ClientProcess } from "./push.js";
import { median, ratio, type Table } from "./report.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = process.env["BENCH_MESHPILOT_MAIN"] ?? join(ROOT, "dist/cli/main.js");
const DEMO = join(ROOT, "examples/reviews-canary");
const DEMO_PROXY = "sidecar~10.244.0.10~productpage-v1.default~default.svc.cluster.local";
const SERVE_SERVICES = 50;
const SERVE_CLIENTS = 10;
const RUN_TIMEOUT_MS = 60_000;
/** Linux's USER_HZ: the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS = 100;

export interface StartupRow {
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
  readonly target: number;
  /** value / target: ≤ 1 meets the target. */
  readonly ratio: number;
}

interface ProcessCost {
  readonly wallS: number;
  readonly cpuS: number;
  readonly rssMiB: number;
}

// Runs inside the measured process: its own CPU and peak RSS at exit (getrusage), to a file.
const RUSAGE_PRELOAD = `import { writeFileSync } from "node:fs";
process.on("exit", () => {
  const u = process.resourceUsage();
  writeFileSync(process.env.MESHPILOT_RUSAGE_FILE, JSON.stringify({ cpuUs: u.userCPUTime + u.systemCPUTime, maxRssKiB: u.maxRSS }));
});`;

/** Spawns `node ...args`, waits for it (bounded) and returns its wall time, CPU and peak RSS. */
async function measureRun(args: readonly string[]): Promise<ProcessCost> {
  const dir = mkdtempSync(join(tmpdir(), "bench-startup-"));
  const file = join(dir, "rusage.json");
  try {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(RUSAGE_PRELOAD)}`, ...args], {
        cwd: ROOT,
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, MESHPILOT_RUSAGE_FILE: file },
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
      const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
      child.on("error", reject);
      child.on("exit", (c) => {
        clearTimeout(timer);
        if (c !== 0) reject(new Error(`bench: node ${args.join(" ")} exited ${c}: ${stderr}`));
        else resolve();
      });
    });
    const wallS = (performance.now() - t0) / 1000;
    const u = JSON.parse(readFileSync(file, "utf8")) as { cpuUs: number; maxRssKiB: number };
    return { wallS, cpuS: u.cpuUs / 1e6, rssMiB: u.maxRssKiB / 1024 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds and peak RSS of a live process, from /proc. */
function procCost(pid: number): { cpuS: number; rssMiB: number } {
  // Fields after the command name (which may hold spaces) start at the last ")".
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { cpuS: ticks / CLOCK_TICKS, rssMiB: Number(hwm?.[1] ?? 0) / 1024 };
}

/** The 50-service bench mesh as a config directory (one multi-document YAML file). */
function writeMeshDir(services: number): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-serve-"));
  const docs = generateMesh(services, "basic").objects.map(({ object }) => toYaml(object));
  writeFileSync(join(dir, "mesh.yaml"), docs.join("---\n"));
  return dir;
}

/** `meshpilot serve --config-dir DIR` until SERVE_CLIENTS delta clients hold the full snapshot. */
async function measureServe(
  dir: string,
  clients: ClientProcess,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ cpuS: number; readyCpuS: number; rssMiB: number; syncS: number }> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...(process.env["BENCH_SERVE_NODE_ARGS"]?.split(" ").filter(Boolean) ?? []),
      MAIN,
      "serve",
      "--config-dir",
      dir,
      "--xds-address",
      "127.0.0.1:0",
      "--debug-address",
      "127.0.0.1:0",
      "--no-secure-xds",
      "--no-inject",
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      // pino writes the logs to stderr; its "meshpilot ready" line carries the bound port.
      let err = "";
      const timer = setTimeout(() => reject(new Error(`bench: serve not ready within ${RUN_TIMEOUT_MS} ms: ${err.slice(-2000)}`)), RUN_TIMEOUT_MS);
      child.stdout.resume();
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        const line = err.split("\n").find((l) => l.includes('"meshpilot ready"'));
        if (line === undefined) return;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { xdsPort: number }).xdsPort);
      });
      child.once("exit", (c) => reject(new Error(`bench: serve exited ${c} before ready: ${err.slice(-2000)}`)));
    });
    const readyCpuS = procCost(child.pid!).cpuS;
    clients.send({
      cmd: "connect",
      group: `serve-${child.pid}`,
      address: `127.0.0.1:${port}`,
      count: SERVE_CLIENTS,
      firstIndex: 0,
      timeoutMs: RUN_TIMEOUT_MS,
      selfCheck: false,
    });
    await clients.next("synced", RUN_TIMEOUT_MS + 5_000);
    const syncS = (performance.now() - t0) / 1000;
    const cost = procCost(child.pid!);
    clients.send({ cmd: "close", group: `serve-${child.pid}` });
    await clients.next("closed", RUN_TIMEOUT_MS);
    return { ...cost, readyCpuS, syncS };
  } finally {
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
  }
}

const row = (figure: string, value: number, unit: string, target: number): StartupRow => ({ figure, value, unit, target, ratio: value / target });

/** The start-up figures (medians of `runs` runs each) against issue 12's targets. */
export async function runStartup(o: { readonly runs: number; readonly log: (s: string) => void }): Promise<StartupRow[]> {
  const runs = async (what: string, args: readonly string[]): Promise<ProcessCost> => {
    const xs: ProcessCost[] = [];
    for (let i = 0; i < o.runs; i++) xs.push(await measureRun(args));
    const m = { wallS: median(xs.map((x) => x.wallS)), cpuS: median(xs.map((x) => x.cpuS)), rssMiB: median(xs.map((x) => x.rssMiB)) };
    o.log(`  ${what}: wall ${m.wallS.toFixed(3)} s, CPU ${m.cpuS.toFixed(3)} s, peak RSS ${m.rssMiB.toFixed(1)} MiB (medians of ${o.runs})`);
    return m;
  };
  const bare = await runs("bare node", ["-e", "0"]);
  const help = await runs("meshpilot --help", [MAIN, "--help"]);
  const translate = await runs("meshpilot translate (demo)", [MAIN, "translate", "--config-dir", DEMO, "--proxy", DEMO_PROXY]);

  const dir = writeMeshDir(SERVE_SERVICES);
  const clients = new ClientProcess();
  const serves: { cpuS: number; readyCpuS: number; rssMiB: number; syncS: number }[] = [];
  // serve without V8's code cache (an empty cache directory): its first start after a build, or
  // where dist/ is read-only and MESHPILOT_CODE_CACHE is not set (the image).
  const cold: { cpuS: number; readyCpuS: number; rssMiB: number; syncS: number }[] = [];
  const noCache = mkdtempSync(join(tmpdir(), "bench-code-cache-"));
  try {
    await clients.next("ready", 30_000);
    for (let i = 0; i < o.runs; i++) serves.push(await measureServe(dir, clients));
    for (let i = 0; i < Math.min(3, o.runs); i++) {
      rmSync(noCache, { recursive: true, force: true });
      cold.push(await measureServe(dir, clients, { ...process.env, MESHPILOT_CODE_CACHE: noCache }));
    }
  } finally {
    rmSync(noCache, { recursive: true, force: true });
    await clients.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const serve = {
    cpuS: median(serves.map((s) => s.cpuS)),
    readyCpuS: median(serves.map((s) => s.readyCpuS)),
    rssMiB: median(serves.map((s) => s.rssMiB)),
    syncS: median(serves.map((s) => s.syncS)),
  };
  const coldCpuS = median(cold.map((s) => s.cpuS));
  o.log(
    `  serve ${SERVE_SERVICES}/${SERVE_CLIENTS}: CPU to full sync ${serve.cpuS.toFixed(2)} s (${serve.readyCpuS.toFixed(2)} s of it before ready), peak RSS ${serve.rssMiB.toFixed(1)} MiB, wall ${serve.syncS.toFixed(2)} s; without code cache ${coldCpuS.toFixed(2)} s (median of ${cold.length})`,
  );

  return [
    row("meshpilot --help: wall", help.wallS, "s", 0.15),
    row("meshpilot --help: CPU", help.cpuS, "s", 0.15),
    row("meshpilot --help: peak RSS", help.rssMiB, "MiB", 80),
    row("meshpilot translate (demo): wall", translate.wallS, "s", 0.4),
    row("meshpilot translate (demo): CPU", translate.cpuS, "s", 0.4),
    row("meshpilot translate (demo): peak RSS", translate.rssMiB, "MiB", 80),
    row(`serve ${SERVE_SERVICES} services / ${SERVE_CLIENTS} proxies: CPU to first full sync`, serve.cpuS, "s", 0.5),
    row(`serve ${SERVE_SERVICES} services / ${SERVE_CLIENTS} proxies: peak RSS`, serve.rssMiB, "MiB", 120),
    // Where the CPU to first sync goes: before ready (start-up proper) and after (first view, pushes).
    row(`serve ${SERVE_SERVICES} services / ${SERVE_CLIENTS} proxies: CPU to ready (reference)`, serve.readyCpuS, "s", 0.5),
    row(`serve ${SERVE_SERVICES} services / ${SERVE_CLIENTS} proxies: CPU to first full sync without code cache (reference)`, coldCpuS, "s", 0.5),
    row("bare node -e 0: wall (reference)", bare.wallS, "s", 0.15),
    row("bare node -e 0: peak RSS (reference)", bare.rssMiB, "MiB", 80),
  ];
}

export function startupTable(rows: readonly StartupRow[], load: string): Table {
  return {
    title: `7. Start-up: fresh processes of the built CLI, medians (load average ${load})`,
    header: ["figure", "value", "target", "ratio"],
    rows: rows.map((r) => [r.figure, `${r.value.toFixed(r.unit === "s" ? 3 : 1)} ${r.unit}`, `${r.target} ${r.unit}`, ratio(r.ratio)]),
    notes: [
      "wall = spawn to exit; CPU = user + system of the process (its own getrusage, or /proc for serve); RSS = peak resident set (VmHWM).",
      `serve reads a ${SERVE_SERVICES}-service directory (bench mesh, basic) with no CA and no webhook; ${SERVE_CLIENTS} delta ADS clients connect once it is ready.`,
      "serve's figures are medians of starts with V8's code cache (dist/bundle/code-cache, written by the first start after a build); the reference without it starts each time from an empty cache directory.",
    ],
  };
}
