/**
 * Network namespaces that a test creates and removes itself (`ip netns add`), for transparent
 * capture tests. Nothing here touches the host's own interfaces, routes or iptables: every
 * command runs with `ip -n <ns>` or inside `nsenter --net=/run/netns/<ns>`.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "./net.js";

/** Network namespaces can be made here (root, iproute2); under CI=true a test must not skip on this. */
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

export class NetNs {
  private readonly children = new Set<ChildProcess>();
  private constructor(readonly name: string) {}

  static create(prefix: string): NetNs {
    const name = `${prefix}-${process.pid}-${randomInt(1000, 9999)}`;
    execFileSync("ip", ["netns", "add", name]);
    const ns = new NetNs(name);
    ns.ip("link", "set", "lo", "up");
    return ns;
  }

  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** `ip -n <ns> …` */
  ip(...args: string[]): string {
    return execFileSync("ip", ["-n", this.name, ...args], { encoding: "utf8" });
  }

  /** Runs a command inside the namespace and returns its stdout. */
  exec(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    return execFileSync("nsenter", [`--net=${this.path}`, "--", cmd, ...args], { encoding: "utf8", input: opts.input, timeout: opts.timeoutMs ?? 20_000 });
  }

  /** Starts a long-running command inside the namespace; stopped by destroy(). */
  spawn(cmd: string, args: readonly string[]): ChildProcess {
    const child = spawn("nsenter", [`--net=${this.path}`, "--", cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  destroy(): void {
    for (const c of this.children) c.kill("SIGKILL");
    try {
      execFileSync("ip", ["netns", "del", this.name], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}
