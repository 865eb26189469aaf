// The server side of the targets section: the generated mesh written as a config directory (one
// YAML file per service), and `meshpilot serve --config-dir` from dist/ in a process of its own,
// measured alone from /proc (CPU seconds, RSS, peak RSS) and, through a preloaded probe, its
// heap after GC. Changes are file edits, so what a proxy sees includes everything a real edit
// goes through: the file watch, parsing, validation, the push debouncer, translation and the push.
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { ENDPOINTS_PER_SERVICE, generateMesh, withEndpointChange, withWeightEdit, type GeneratedMesh } from "./mesh.js";
import { sleep } from "./report.js";

const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const PROBE = fileURLToPath(new URL("./targets-gc-probe.mjs", import.meta.url));
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS = 100;

function yamlOf(objects: readonly StoredObject<InputObject>[]): string {
  return objects.map((o) => stringify(o.object)).join("---\n");
}

/** A config directory holding a generated mesh, and the edits the bench makes to it. */
export class ConfigDir {
  readonly dir = mkdtempSync(path.join(tmpdir(), "meshpilot-targets-"));
  private mesh: GeneratedMesh;
  private readonly notReady = new Set<number>();
  private readonly edited = new Set<number>();

  constructor(services: number) {
    this.mesh = generateMesh(services, "basic");
    writeFileSync(path.join(this.dir, "namespaces.yaml"), yamlOf(this.mesh.objects.slice(0, this.first(0))));
    for (let i = 0; i < services; i++) this.writeService(i);
  }

  /** generateMesh lists each service's objects together: Service, Pods, EndpointSlice, VirtualService, DestinationRule. */
  private first(i: number): number {
    return this.mesh.sliceIndex[i]! - ENDPOINTS_PER_SERVICE - 1;
  }

  /** Service `i`'s objects, its EndpointSlice last: an edit of it shifts no other object's line. */
  private serviceFile(i: number): string {
    const objects = this.mesh.objects.slice(this.first(i), this.mesh.vsIndex[i]! + 2);
    if (objects[0]?.object.kind !== "Service") throw new Error(`bench: service ${i}'s objects are not where mesh.ts puts them`);
    const slice = objects.filter((o) => o.object.kind === "EndpointSlice");
    return yamlOf([...objects.filter((o) => o.object.kind !== "EndpointSlice"), ...slice]);
  }

  private writeService(i: number): void {
    const file = path.join(this.dir, `svc-${i}.yaml`);
    // Write then rename, as editors and kubectl-style tools do: the watcher never sees half a file.
    const tmp = path.join(this.dir, `.svc-${i}.tmp`);
    writeFileSync(tmp, this.serviceFile(i));
    renameSync(tmp, file);
  }

  /** Endpoint 0 of service `i` toggles between ready and not ready. Returns when the file is in place. */
  endpointChange(i: number): void {
    const notReady = !this.notReady.has(i);
    if (notReady) this.notReady.add(i);
    else this.notReady.delete(i);
    this.mesh = withEndpointChange(this.mesh, i, notReady ? new Set([0]) : new Set<number>());
    this.writeService(i);
  }

  /** Service `i`'s VirtualService split toggles between 90/10 (as generated) and 80/20. */
  weightEdit(i: number): void {
    const edited = !this.edited.has(i);
    if (edited) this.edited.add(i);
    else this.edited.delete(i);
    this.mesh = withWeightEdit(this.mesh, i, edited ? 80 : 90);
    this.writeService(i);
  }

  get services(): number {
    return this.mesh.services;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  readonly cpuS: number;
  readonly rssBytes: number;
  /** Peak RSS (VmHWM) since the process started. */
  readonly peakRssBytes: number;
}

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at ") ": utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { cpuS, rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
}

/** `meshpilot serve --config-dir` in its own process. */
export class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly xdsAddress: string,
    readonly debugUrl: string,
    /** Epoch ms when the process was started. */
    readonly startedAt: number,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(configDir: string, readyTimeoutMs: number): Promise<ServerProcess> {
    const [xds, debug] = [await freePort(), await freePort()];
    const startedAt = performance.timeOrigin + performance.now();
    const child = fork(
      MAIN,
      [
        "serve",
        "--config-dir",
        configDir,
        "--xds-address",
        `127.0.0.1:${xds}`,
        "--debug-address",
        `127.0.0.1:${debug}`,
        "--log-level",
        "warn",
        "--no-secure-xds",
        "--no-inject",
        "--no-status",
      ],
      // The server's log goes to the bench's stderr: stdout holds the tables.
      { execArgv: ["--expose-gc", "--import", PROBE], stdio: ["ignore", 2, 2, "ipc"] },
    );
    const s = new ServerProcess(child, `127.0.0.1:${xds}`, `http://127.0.0.1:${debug}`, startedAt);
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

  sample(): ProcSample {
    return procSample(this.pid);
  }

  /** V8 heap and ArrayBuffers after full collections, measured inside the server. */
  heapAfterGc(timeoutMs = 30_000): Promise<{ heap: number; buffers: number }> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.child.off("message", on);
        reject(new Error("bench: the server did not report its heap"));
      }, timeoutMs);
      const on = (m: { event?: string; heap: number; buffers: number }): void => {
        if (m.event !== "heap") return;
        clearTimeout(t);
        this.child.off("message", on);
        resolve({ heap: m.heap, buffers: m.buffers });
      };
      this.child.on("message", on);
      this.child.send({ cmd: "heap" });
    });
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
