// The cluster's long-running processes: started detached (they outlive `npm run cluster`), each
// with its pid in <dir>/pids/<name>.pid and its output in <dir>/logs/<name>.log, and stopped by
// that recorded pid only, after checking that the process still is ours (a pid can be reused).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `nsenter` options that put a command into the node's network and, if asked, mount namespace. */
export function enterArgs(cfg, { net = "node", mount = false } = {}) {
  const out = [];
  if (net) out.push(`--net=/run/netns/${net === "node" ? cfg.netnsNode : cfg.netnsExternal}`);
  if (mount) out.push(`--mount=${cfg.mntns}`);
  return out;
}

/**
 * Starts `cmd args` detached under `nice -n 10` (containers inherit it: the cluster yields to
 * whatever else runs on the machine), inside the given namespaces.
 * @param {{ net?: "node" | "external" | false, mount?: boolean, env?: NodeJS.ProcessEnv }} [where]
 */
export function startDaemon(cfg, name, cmd, args, where = {}) {
  mkdirSync(cfg.path("logs"), { recursive: true });
  mkdirSync(cfg.path("pids"), { recursive: true });
  const ns = enterArgs(cfg, { net: where.net ?? "node", mount: where.mount ?? false });
  const argv = [...ns, "--", "nice", "-n", "10", cmd, ...args];
  const log = openSync(cfg.path("logs", `${name}.log`), "a");
  const child = spawn("nsenter", argv, { detached: true, stdio: ["ignore", log, log], env: where.env ?? process.env });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name} (${cmd})`);
  // nsenter and nice exec in place: the recorded pid is the daemon's own.
  writeFileSync(cfg.path("pids", `${name}.pid`), `${child.pid}\n`);
  return child.pid;
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return undefined;
  }
}

/** Whether pid runs and names this cluster in its command line (everything we start does). */
export function isOurs(cfg, pid) {
  const cl = cmdline(pid);
  if (cl === undefined) return false;
  try {
    if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) return false;
  } catch {
    return false;
  }
  return cl.some((arg) => arg.includes(cfg.dir + "/") || arg === cfg.netnsNode);
}

export function recordedPids(cfg) {
  const dir = cfg.path("pids");
  if (!existsSync(dir)) return {};
  const out = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".pid")) continue;
    const pid = Number(readFileSync(join(dir, f), "utf8").trim());
    if (Number.isInteger(pid) && pid > 1) out[f.slice(0, -4)] = pid;
  }
  return out;
}

/** SIGTERM, up to graceMs for it to exit, then SIGKILL. Forgets the pid file either way. */
export async function stopDaemon(cfg, name, graceMs = 15_000) {
  const file = cfg.path("pids", `${name}.pid`);
  const pid = recordedPids(cfg)[name];
  if (pid !== undefined && isOurs(cfg, pid)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // gone already
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && isOurs(cfg, pid)) await sleep(100);
    if (isOurs(cfg, pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
      while (isOurs(cfg, pid)) await sleep(50);
    }
  }
  rmSync(file, { force: true });
}

/** Polls `check` (truthy = done) every `everyMs` until `timeoutMs`; throws naming `what`. */
export async function waitFor(what, check, { timeoutMs = 120_000, everyMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? `: ${String(last.message ?? last).slice(0, 400)}` : ""}`);
    await sleep(everyMs);
  }
}
