// Shared by ensure-envoy.mjs and ensure-kube.mjs: where tool caches live, how a cached binary is
// recognised, a lock between concurrent installers, and a child-process runner whose errors carry the tool's stderr (the useful part
// when a pip or go build fails in CI).
import { execFile } from "node:child_process";
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** $MESHPILOT_CACHE, else ~/.cache/meshpilot: outside the repo, so a clean clone reuses it. */
export function cacheBase(env = process.env) {
  return env.MESHPILOT_CACHE ? resolve(env.MESHPILOT_CACHE) : join(homedir(), ".cache", "meshpilot");
}

export function isExecutable(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command; rejects with its last 4000 characters of stderr in the message. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${String(stderr).slice(-4000)}`.trim());
        e.stdout = String(stdout);
        e.stderr = String(stderr);
        reject(e);
      } else resolvePromise({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A directory lock (`<dir>/.lock` holding the owner's pid) so that concurrent installers (two
 * test runs, a demo, a bench) do not race. A lock whose owner is gone is taken over.
 * @param {string} dir
 * @param {{ waitMs: number, log: (msg: string) => void }} opts
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 * @template T
 */
export async function withLock(dir, opts, fn) {
  const lock = join(dir, ".lock");
  const deadline = Date.now() + opts.waitMs;
  let said = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      let owner;
      try {
        owner = Number(readFileSync(join(lock, "pid"), "utf8"));
      } catch {
        owner = undefined;
      }
      let alive;
      if (owner) {
        try {
          process.kill(owner, 0);
          alive = true;
        } catch (e) {
          alive = e.code === "EPERM";
        }
      } else {
        // Lock dir without a pid yet: the owner is between mkdir and write, or died there.
        try {
          alive = Date.now() - statSync(lock).mtimeMs < 30_000;
        } catch {
          alive = false;
        }
      }
      if (!alive) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!said) {
        opts.log(`waiting for another installer (lock ${lock}, pid ${owner})`);
        said = true;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lock}`);
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
