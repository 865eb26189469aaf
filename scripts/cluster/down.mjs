// Teardown that leaves nothing behind, also after a failed or interrupted start: every step works
// from what is on disk and in the kernel (pid files, the cluster's cgroups, its namespaces, mounts
// under its directory), never from the memory of the process that started it.
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "../cache-util.mjs";
import { clusterConfig, CLUSTERS_ROOT, DIR_PREFIX } from "./config.mjs";
import { cgroupPids, deleteNetwork, hostMountsUnder, networkExists, removeCgroups } from "./namespaces.mjs";
import { sleep, stopDaemon } from "./procs.mjs";

/** Kills what runs in the cluster's cgroups (the pods' processes) until none is left. */
async function killPods(cfg, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(cfg);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
    if (Date.now() > deadline) throw new Error(`processes in cgroup ${cfg.cgroupRoot} survive SIGKILL: ${pids.join(", ")}`);
    await sleep(100);
  }
}

/** Whether anything of the cluster is left on this machine. */
export function clusterExists(cfg) {
  return existsSync(cfg.dir) || networkExists(cfg) || readdirSafe("/sys/fs/cgroup").some((h) => existsSync(`/sys/fs/cgroup/${h}/${cfg.cgroupRoot}`));
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Stops the cluster and removes its traces: processes, pods, cgroups, mounts, network
 * namespaces (with their links and iptables rules) and, unless keepDir, its directory.
 * @param {import("./config.mjs").ClusterConfig} cfg
 * @param {{ keepDir?: boolean, log?: (msg: string) => void }} [opts]
 */
export async function down(cfg, opts = {}) {
  const log = opts.log ?? (() => {});
  const problems = [];
  const step = async (what, fn) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${err.message}`);
    }
  };
  // The kubelet first, so that nothing restarts the containers killed next.
  for (const name of ["kubelet", "kube-proxy", "kube-controller-manager", "kube-scheduler", "external-http", "bridge"]) {
    await step(`stop ${name}`, () => stopDaemon(cfg, name, 5_000));
  }
  await step("kill pods", () => killPods(cfg));
  await step("stop containerd", () => stopDaemon(cfg, "containerd", 5_000));
  // A throwaway cluster: no need to wait for the apiserver's graceful shutdown.
  await step("stop kube-apiserver", () => stopDaemon(cfg, "kube-apiserver", 3_000));
  await step("stop etcd", () => stopDaemon(cfg, "etcd", 3_000));
  // Whatever still runs in the node's namespace (containerd's shims) dies with it.
  await step("delete network namespaces", () => deleteNetwork(cfg));
  await step("kill pods", () => killPods(cfg));
  await step("remove cgroups", async () => {
    let left = [];
    for (let i = 0; i < 50; i++) {
      left = removeCgroups(cfg);
      if (left.length === 0) return;
      await sleep(100);
    }
    throw new Error(`cgroups left: ${left.join(", ")}`);
  });
  await step("unmount", async () => {
    for (const m of hostMountsUnder(cfg)) {
      try {
        await run("umount", [m]);
      } catch {
        await run("umount", ["-l", m]);
      }
    }
  });
  const mounts = hostMountsUnder(cfg);
  if (mounts.length > 0) problems.push(`mounts left under ${cfg.dir}: ${mounts.join(", ")}`);
  else if (!opts.keepDir) await step("remove directory", () => rmSync(cfg.dir, { recursive: true, force: true }));
  if (problems.length > 0) throw new Error(`cluster ${cfg.name}: teardown incomplete:\n  ${problems.join("\n  ")}`);
  log(`cluster ${cfg.name} removed`);
}

function ownerAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/**
 * Tears down clusters whose owner (the test run that started them) is gone: an interrupted run
 * must not leave a cluster running until the machine reboots. Clusters started for users have
 * no owner and stay until `npm run cluster:down`.
 */
export async function downAbandoned(log = () => {}) {
  const removed = [];
  for (const entry of readdirSafe(CLUSTERS_ROOT)) {
    if (!entry.startsWith(DIR_PREFIX)) continue;
    let state;
    try {
      state = JSON.parse(readFileSync(join(CLUSTERS_ROOT, entry, "state.json"), "utf8"));
    } catch {
      continue;
    }
    if (typeof state.ownerPid !== "number" || ownerAlive(state.ownerPid)) continue;
    const cfg = clusterConfig(state.name, { dir: join(CLUSTERS_ROOT, entry) });
    log(`removing cluster ${cfg.name}, left behind by pid ${state.ownerPid}`);
    await down(cfg, { log });
    removed.push(cfg.name);
  }
  return removed;
}
