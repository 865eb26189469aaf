/**
 * Network namespaces a test creates and removes itself, and bridges that let the test process (on
 * the host) reach into them and them reach out to it, without any route or address on the host
 * (the network rule): every command runs with `ip -n <ns>` or inside `nsenter --net=<ns>`. Both
 * come from scripts/netns-bridge.mjs; this is its typed wrapper. Needs root.
 *
 *   const ns = NetNs.create("mp-kube");          // lo up; stale ones of a killed run are removed
 *   ns.addAddress("10.253.0.1");                  // /32 on the namespace's own lo
 *   const b = await ns.bridge({ forward: [{ host: "10.253.0.1", port: 80 }], reverse: [{ host: "10.253.0.1", port: 15010, to: xdsPort }] });
 *   fetch(`http://127.0.0.1:${b.forward[0].port}/`);   // reaches 10.253.0.1:80 inside
 *   await ns.delete();                            // also on process exit, and after a SIGKILL
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import type net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { addNetns, cleanStale, deleteNetns, nsenterArgs, nsPath, uniqueName, type RelayStats } from "../../scripts/netns-bridge.mjs";

const SCRIPT = fileURLToPath(new URL("../../scripts/netns-bridge.mjs", import.meta.url));

export interface ForwardSpec {
  /** The address inside the namespace to reach. */
  readonly host: string;
  readonly port: number;
  /** Host loopback port to listen on; default ephemeral. */
  readonly listenPort?: number;
}

export interface ReverseSpec {
  /** Listen inside the namespace at host:port (port 0: ephemeral)… */
  readonly host: string;
  readonly port: number;
  /** …and pass each connection to 127.0.0.1:`to` on the host. */
  readonly to: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface BridgeStats {
  readonly forward: readonly RelayStats[];
  readonly reverse: readonly RelayStats[];
}

export interface Bridge {
  /** The directory of its unix sockets (gone once the bridge has stopped). */
  readonly dir: string;
  /** Host loopback addresses, one per forward, in order. */
  readonly forward: readonly HostPort[];
  /** Addresses inside the namespace, one per reverse, in order. */
  readonly reverse: readonly HostPort[];
  /** Connections accepted and still open, per forward and reverse. */
  stats(): Promise<BridgeStats>;
  close(): Promise<void>;
}

/** What the bridge prints on stdout (see scripts/netns-bridge.mjs). */
type ReadyLine = { event: "ready"; dir: string; forward: Array<{ listen: string; to: string }>; reverse: Array<{ listen: string; to: string }> };
type StatsLine = BridgeStats & { event: "stats" };

/** Network namespaces can be made here (root, iproute2, nsenter); under CI=true a test must not skip on this. */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    execFileSync("nsenter", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs inside a namespace: listens at argv[1]:argv[2] and hands the listening socket to its parent
 * over the IPC channel (SCM_RIGHTS), then exits. The socket stays in the namespace it was made in.
 */
const LISTENER = `
const s = require("node:net").createServer();
s.on("error", (e) => { process.send({ error: e.message }); process.disconnect(); });
s.listen({ host: process.argv[1], port: Number(process.argv[2]), exclusive: true }, () => process.send("listening", s, () => { s.close(); process.disconnect(); }));
`;

/**
 * Runs `script` (node -e) inside the namespace; it sends `ok` with a socket handle, or
 * `{ error }`. The socket stays in the namespace it was made in; `what` names it in errors.
 */
function socketFromNetns<T>(name: string, script: string, args: readonly string[], ok: string, what: string): Promise<T> {
  const child = spawn("nsenter", nsenterArgs(name, process.execPath, ["-e", script, ...args]), { stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.once("message", (msg: unknown, handle: unknown) => {
      if (msg === ok && handle) resolve(handle as T);
      else reject(new Error(`${what}: ${(msg as { error?: string }).error ?? "no socket received"}`));
    });
    child.once("exit", (code) => reject(new Error(`${what}: the helper exited (${code}) ${stderr.trim()}`)));
  });
}

/**
 * A listening socket at host:port inside the named namespace (/run/netns/<name>, ours or one the
 * test run made otherwise, like a local cluster's), served by this process.
 */
export function listenInNetns(name: string, host: string, port: number): Promise<net.Server> {
  return socketFromNetns(name, LISTENER, [host, String(port)], "listening", `cannot listen on ${host}:${port} in ${name}`);
}

const CONNECTOR = `
const c = require("node:net").connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: Number(process.argv[3]) });
const fail = (e) => { process.send({ error: e.message }); process.disconnect(); };
c.on("error", fail);
c.on("timeout", () => fail(new Error("connect timed out")));
c.on("connect", () => { c.setTimeout(0); c.pause(); process.send("connected", c, () => process.disconnect()); });
`;

/**
 * A TCP connection made from inside the named namespace to host:port (say, a cluster's external
 * host to a Service's IP), handed to this process: what the test then sends on it (HTTP, TLS with
 * its own SNI and client certificate) leaves from that namespace, with no relay between.
 */
export function connectInNetns(name: string, host: string, port: number, timeoutMs = 5000): Promise<net.Socket> {
  return socketFromNetns(name, CONNECTOR, [host, String(port), String(timeoutMs)], "connected", `cannot connect to ${host}:${port} from ${name}`);
}

const live = new Set<NetNs>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const n of live) n.destroy();
  });
}

function hostPort(s: string): HostPort {
  const i = s.lastIndexOf(":");
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/**
 * Deletes the namespace once `owner` is gone, for when it dies without exit hooks (SIGKILL from a
 * test-runner timeout). Killed itself by delete().
 */
function startWatchdog(name: string, owner: number): ChildProcess {
  const script = `while kill -0 ${owner} 2>/dev/null; do sleep 1; done; exec "$0" "$1" del ${name}`;
  const w = spawn("/bin/sh", ["-c", script, process.execPath, SCRIPT], { stdio: "ignore", detached: true });
  w.on("error", () => undefined);
  w.unref();
  return w;
}

export class NetNs {
  readonly name: string;
  readonly path: string;
  private readonly bridges = new Set<Bridge>();
  private readonly children = new Set<ChildProcess>();
  private readonly watchdog: ChildProcess;
  private deleted = false;

  private constructor(name: string) {
    this.name = name;
    this.path = nsPath(name);
    this.watchdog = startWatchdog(name, process.pid);
  }

  /** A new namespace `PREFIX-<our pid>-<random>` with lo up; first removes PREFIX-* left by dead processes. */
  static create(prefix = "mp-test"): NetNs {
    cleanStale(prefix);
    const ns = new NetNs(addNetns(uniqueName(prefix)));
    live.add(ns);
    installExitHook();
    return ns;
  }

  /** `ip -n NAME …`. */
  ip(...args: string[]): string {
    return execFileSync("ip", ["-n", this.name, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /** Adds ADDR/32 to the namespace's lo. */
  addAddress(addr: string): void {
    this.ip("addr", "add", `${addr}/32`, "dev", "lo");
  }

  /**
   * Starts a process inside the namespace (network only; mounts, pids and the rest are the
   * host's). stdio defaults to ignore/pipe/pipe; killed by delete()/destroy() at the latest.
   */
  spawn(command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const child = spawn("nsenter", nsenterArgs(this.name, command, args), { stdio: ["ignore", "pipe", "pipe"], ...options });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** Runs a command inside the namespace and returns its stdout (blocks this process: see execAsync). */
  exec(command: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): string {
    return execFileSync("nsenter", nsenterArgs(this.name, command, args), { encoding: "utf8", input: opts.input, timeout: opts.timeoutMs ?? 20_000 });
  }

  /** Runs a command inside the namespace and resolves with its stdout; for commands that need this process to answer. */
  execAsync(command: string, args: readonly string[] = [], timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile("nsenter", nsenterArgs(this.name, command, args), { encoding: "utf8", timeout: timeoutMs }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${command} in ${this.name}: ${err.message}${stderr ? `: ${stderr.trim()}` : ""}`));
        else resolve(stdout);
      });
    });
  }

  /**
   * A server listening at host:port inside the namespace, served by this process: Node cannot
   * enter a namespace, so a short-lived process inside makes the socket and passes it over.
   * Connections it accepts are the namespace's (no relay between).
   */
  listen(host: string, port: number): Promise<net.Server> {
    return listenInNetns(this.name, host, port);
  }

  /** Starts scripts/netns-bridge.mjs for these forwards and reverses; resolves once all listen. */
  async bridge(spec: { readonly forward?: readonly ForwardSpec[]; readonly reverse?: readonly ReverseSpec[] }): Promise<Bridge> {
    const args = [SCRIPT, "bridge", this.name];
    for (const f of spec.forward ?? []) args.push("-L", `${f.listenPort ?? 0}:${f.host}:${f.port}`);
    for (const r of spec.reverse ?? []) args.push("-R", `${r.host}:${r.port}:${r.to}`);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const lines = createInterface({ input: child.stdout });
    const waiting: Array<(stats: BridgeStats) => void> = [];
    let ready: ((line: ReadyLine) => void) | undefined;
    lines.on("line", (text) => {
      const line = JSON.parse(text) as ReadyLine | StatsLine;
      if (line.event === "ready") ready?.(line);
      else waiting.shift()?.(line);
    });
    const up = await Promise.race([
      new Promise<ReadyLine>((resolve) => (ready = resolve)),
      exited.then(() => {
        throw new Error(`netns bridge into ${this.name} exited before it was ready: ${stderr.trim()}`);
      }),
    ]);
    const bridge: Bridge = {
      dir: up.dir,
      forward: up.forward.map((f) => hostPort(f.listen)),
      reverse: up.reverse.map((r) => hostPort(r.listen)),
      stats: () =>
        new Promise<BridgeStats>((resolve, reject) => {
          if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`netns bridge into ${this.name} has exited: ${stderr.trim()}`));
          waiting.push(resolve);
          child.kill("SIGUSR1");
        }),
      close: async () => {
        this.bridges.delete(bridge);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          await exited;
        }
      },
    };
    this.bridges.add(bridge);
    return bridge;
  }

  /** Closes its bridges (letting them stop cleanly), then destroy(). Idempotent. */
  async delete(): Promise<void> {
    await Promise.all([...this.bridges].map((b) => b.close()));
    this.destroy();
  }

  /** Kills every process inside and those it spawned, deletes the namespace; synchronous (exit hooks). Idempotent. */
  destroy(): void {
    if (this.deleted) return;
    this.deleted = true;
    live.delete(this);
    for (const c of this.children) c.kill("SIGKILL");
    deleteNetns(this.name);
    this.watchdog.kill("SIGKILL");
  }
}
