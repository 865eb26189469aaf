// The server's CPU and memory, read from /proc as `ps` would: any server process on this machine
// (istiod too), given its pid or the port it listens on. The parsers are pure; reading is at the edges.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcCpu {
  /** user + system CPU seconds since the process started. */
  readonly cpuS: number;
}

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat) in clock ticks. `comm` may hold spaces and parentheses: fields count from the last ")". */
export function parseStatTicks(stat: string): number {
  const close = stat.lastIndexOf(")");
  if (close < 0) throw new Error("/proc stat: no command field");
  const fields = stat
    .slice(close + 2)
    .trim()
    .split(/\s+/); // fields[0] is field 3 (state)
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error("/proc stat: utime/stime are not numbers");
  return utime + stime;
}

export interface ProcMemory {
  /** VmRSS: resident now. */
  readonly rssBytes: number;
  /** VmHWM: the peak resident set since the process started. */
  readonly hwmBytes: number;
}

/** VmRSS and VmHWM of /proc/<pid>/status (given in kB). */
export function parseStatusMemory(status: string): ProcMemory {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, "m").exec(status);
    if (!m) throw new Error(`/proc status: no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { rssBytes: kb("VmRSS"), hwmBytes: kb("VmHWM") };
}

/**
 * Inodes of sockets listening on `port` in /proc/net/tcp or tcp6 text: columns
 * `sl local_address rem_address st … inode`, addresses as hex `ADDR:PORT`, state 0A = LISTEN.
 */
export function listeningInodes(netTcp: string, port: number): string[] {
  const out: string[] = [];
  for (const line of netTcp.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const local = cols[1]!;
    const p = parseInt(local.slice(local.lastIndexOf(":") + 1), 16);
    if (p === port && cols[3] === "0A") out.push(cols[9]!);
  }
  return out;
}

let ticks: number | undefined;
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux when getconf is missing). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export function readCpuSeconds(pid: number): number {
  return parseStatTicks(readFileSync(`/proc/${pid}/stat`, "utf8")) / clockTicks();
}

export function readMemory(pid: number): ProcMemory {
  return parseStatusMemory(readFileSync(`/proc/${pid}/status`, "utf8"));
}

/** The process listening on TCP `port` (found through its socket's inode), if this user may see it. */
export function findPidByPort(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      for (const i of listeningInodes(readFileSync(f, "utf8"), port)) inodes.add(`socket:[${i}]`);
    } catch {
      // no IPv6, say
    }
  }
  if (inodes.size === 0) return undefined;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${d}/fd`);
    } catch {
      continue; // gone, or not ours
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${d}/fd/${fd}`))) return Number(d);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** Samples a server's RSS while a run lasts (VmHWM is the peak since start; this is the peak during the run). */
export class ServerMonitor {
  private timer: NodeJS.Timeout | undefined;
  peakRssBytes = 0;
  error: string | undefined;

  constructor(
    readonly pid: number,
    private readonly everyMs = 200,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  sample(): void {
    try {
      this.peakRssBytes = Math.max(this.peakRssBytes, readMemory(this.pid).rssBytes);
    } catch (e) {
      this.error ??= `reading /proc/${this.pid}: ${(e as Error).message}`;
    }
  }

  cpuSeconds(): number {
    return readCpuSeconds(this.pid);
  }

  memory(): ProcMemory {
    return readMemory(this.pid);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }
}
