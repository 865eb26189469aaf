// Starts a single-node Kubernetes cluster (see README "A local cluster"): namespaces, PKI,
// etcd, kube-apiserver, containerd, controller-manager, scheduler, kubelet, kube-proxy, CoreDNS,
// an external host, and the relay that gives the host the apiserver on 127.0.0.1.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { run } from "../cache-util.mjs";
import { components } from "./components.mjs";
import { corednsManifest } from "./coredns.mjs";
import { writeConfigs, writeUserKubeconfig } from "./configs.mjs";
import { clusterExists, down, downAbandoned } from "./down.mjs";
import { createCgroups, createMountNamespace, createNetwork } from "./namespaces.mjs";
import { makePKI } from "./pki.mjs";
import { enterArgs, startDaemon, waitFor } from "./procs.mjs";

const BRIDGE = fileURLToPath(new URL("../netns-bridge.mjs", import.meta.url));

/** kubectl inside the node's network namespace, as the cluster admin. */
export function kubectl(cfg, bins, args, opts = {}) {
  return run("nsenter", [...enterArgs(cfg, { net: "node" }), "--", bins.kubectl, "--kubeconfig", cfg.path("admin-node.kubeconfig"), ...args], opts);
}

/** `ctr` on the node's containerd, in the k8s.io namespace the kubelet uses. */
const ctr = (cfg, args) => run("ctr", ["--address", cfg.path("containerd", "containerd.sock"), "-n", "k8s.io", ...args]);

/** Loads docker-archive tarballs into the node's containerd. */
export async function importImages(cfg, tarballs) {
  await Promise.all(tarballs.map((tar) => ctr(cfg, ["images", "import", tar])));
}

export function readState(cfg) {
  try {
    return JSON.parse(readFileSync(cfg.path("state.json"), "utf8"));
  } catch {
    return undefined;
  }
}

function writeState(cfg, state) {
  writeFileSync(cfg.path("state.json"), JSON.stringify(state, null, 2) + "\n");
}

/**
 * A relay process on the host: 127.0.0.1:<ephemeral> → the apiserver inside the node namespace.
 * Detached, so that it outlives `npm run cluster`; its port is read from its first output line.
 */
async function startBridge(cfg) {
  const out = cfg.path("logs", "bridge.out");
  const fd = openSync(out, "w");
  const err = openSync(cfg.path("logs", "bridge.log"), "a");
  const child = spawn(process.execPath, [BRIDGE, "bridge", cfg.netnsNode, "-L", `0:127.0.0.1:${cfg.apiserverPort}`, "--keep"], {
    detached: true,
    stdio: ["ignore", fd, err],
  });
  closeSync(fd);
  closeSync(err);
  child.unref();
  writeFileSync(cfg.path("pids", "bridge.pid"), `${child.pid}\n`);
  const ready = await waitFor(
    "the apiserver relay",
    () => {
      const line = readFileSync(out, "utf8").split("\n")[0];
      return line ? JSON.parse(line) : undefined;
    },
    { timeoutMs: 20_000, everyMs: 100 },
  );
  return Number(ready.forward[0].listen.split(":")[1]);
}

/** A web server on the external host, so that its name leads somewhere: busybox httpd, static. */
function startExternalHost(cfg) {
  const www = cfg.path("external-www");
  mkdirSync(www, { recursive: true });
  writeFileSync(`${www}/index.html`, `external host of cluster ${cfg.name}\n`);
  startDaemon(cfg, "external-http", "busybox", ["httpd", "-f", "-p", `${cfg.externalIP}:80`, "-h", www], { net: "external" });
}

/**
 * @param {import("./config.mjs").ClusterConfig} cfg
 * @param {{
 *   bins: Record<string, string>,                // ensureKubeCluster() plus coredns image
 *   images: { pause: string, coredns: string, tarballs: string[] },
 *   ownerPid?: number | null,                      // torn down by downAbandoned() once this pid is gone
 *   log?: (msg: string) => void,
 * }} opts
 * @returns {Promise<{ kubeconfig: string, apiserverHostPort: number, timings: Record<string, number> }>}
 */
export async function up(cfg, opts) {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const timings = {};
  const mark = (what) => {
    timings[what] = (Date.now() - t0) / 1000;
    log(`[${timings[what].toFixed(1)} s] ${what}`);
  };
  await downAbandoned(log);
  if (clusterExists(cfg)) {
    log(`cluster ${cfg.name}: removing what an earlier run left`);
    await down(cfg, { log });
  }
  mkdirSync(cfg.path("pids"), { recursive: true });
  writeState(cfg, { name: cfg.name, ownerPid: opts.ownerPid ?? null, startedAt: new Date().toISOString() });
  try {
    await makePKI(cfg);
    writeConfigs(cfg, opts.images.pause);
    await createNetwork(cfg);
    await createMountNamespace(cfg);
    createCgroups(cfg);
    mark("namespaces ready");

    const c = components(cfg, opts.bins);
    const start = (name) => startDaemon(cfg, name, c[name].cmd, c[name].args, c[name].where);
    start("etcd");
    start("containerd");
    start("kube-apiserver");
    const bridgePort = await startBridge(cfg);
    const kubeconfig = writeUserKubeconfig(cfg, bridgePort);
    startExternalHost(cfg);

    await waitFor("containerd", () => ctr(cfg, ["version"]).then(() => true), { timeoutMs: 30_000 });
    mark("containerd up");
    await importImages(cfg, opts.images.tarballs);
    mark("images imported");

    const k = (args) => kubectl(cfg, opts.bins, args);
    await waitFor("the apiserver", () => k(["get", "--raw", "/readyz"]).then(() => true), { timeoutMs: 90_000 });
    mark("apiserver ready");
    for (const name of ["kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"]) start(name);

    const manifest = cfg.path("manifests", "coredns.yaml");
    writeFileSync(manifest, corednsManifest(cfg, opts.images.coredns));
    await waitFor("the kube-system ServiceAccount controller", () => k(["-n", "kube-system", "get", "serviceaccount", "default"]).then(() => true), {
      timeoutMs: 60_000,
    });
    await k(["apply", "-f", manifest]);
    await waitFor(
      `node ${cfg.nodeName} Ready`,
      async () => (await k(["get", "node", cfg.nodeName, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"])).stdout.trim() === "True",
      { timeoutMs: 90_000 },
    );
    mark("node Ready");
    await waitFor(
      "CoreDNS ready",
      async () => (await k(["-n", "kube-system", "get", "deployment", "coredns", "-o", "jsonpath={.status.readyReplicas}"])).stdout.trim() === "2",
      { timeoutMs: 120_000 },
    );
    mark("CoreDNS ready");
    writeState(cfg, { ...readState(cfg), apiserverHostPort: bridgePort, kubeconfig, timings });
    return { kubeconfig, apiserverHostPort: bridgePort, timings };
  } catch (err) {
    err.message = `cluster ${cfg.name} did not start: ${err.message} (logs: ${cfg.path("logs")})`;
    throw err;
  }
}
