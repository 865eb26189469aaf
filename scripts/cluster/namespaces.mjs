// The namespaces a cluster lives in, and their removal.
//
// Network: the node's namespace holds every cluster process and, through the CNI bridge, every
// pod; a second namespace is the "external host", a machine outside the cluster linked to the
// node by a veth pair. Neither has a default route and the host's own namespace gets no address,
// route or link: the host reaches the cluster only through netns-bridge relays on 127.0.0.1.
//
// Mount: one private mount namespace, bound to a file, that containerd, its shims, runc, the CNI
// plugins, the kubelet and kube-proxy share (the kubelet's volume mounts and containerd's rootfs
// mounts must be in the same one). tmpfs over /run, /var/lib and /var/log hides the paths they
// write whatever they are told (/run/containerd, /var/lib/cni, /var/log/containers,
// /run/xtables.lock, …), and scratch copies of the kernel tunables the kubelet rewrites are bound
// over /proc/sys.
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { addNetns, deleteNetns, listNetns } from "../netns-bridge.mjs";
import { run } from "../cache-util.mjs";
import { enterArgs } from "./procs.mjs";

const inNs = (cfg, net, cmd, args) => run("nsenter", [...enterArgs(cfg, { net }), "--", cmd, ...args]);

/** Node and external-host namespaces, the link between them, the node's ClusterIP sink. */
export async function createNetwork(cfg) {
  addNetns(cfg.netnsNode);
  addNetns(cfg.netnsExternal);
  const node = (...a) => inNs(cfg, "node", "ip", a);
  const ext = (...a) => inNs(cfg, "external", "ip", a);
  await node("link", "add", "ext0", "type", "veth", "peer", "name", "node0", "netns", cfg.netnsExternal);
  await node("addr", "add", `${cfg.nodeIP}/${cfg.linkPrefix}`, "dev", "ext0");
  await node("link", "set", "ext0", "up");
  await ext("addr", "add", `${cfg.externalIP}/${cfg.linkPrefix}`, "dev", "node0");
  await ext("link", "set", "node0", "up");
  // With no default route a connect() to a ClusterIP fails before kube-proxy's DNAT can act; an
  // empty bridge gives the Service range a route (the `dummy` link type is not built into every
  // kernel). A ClusterIP with no DNAT rule dies there.
  await node("link", "add", "svc0", "type", "bridge");
  await node("link", "set", "svc0", "up");
  await node("route", "add", cfg.serviceCIDR, "dev", "svc0");
  await inNs(cfg, "node", "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  // The external host answers pods (masqueraded to the node's address) and may call Services.
  await ext("route", "add", cfg.clusterCIDR, "via", cfg.nodeIP);
  await ext("route", "add", cfg.serviceCIDR, "via", cfg.nodeIP);
}

/** The private mount namespace: tmpfs over the hard-coded paths, scratch copies of the guarded sysctls. */
export async function createMountNamespace(cfg) {
  // A namespace file may not sit on a shared mount (systemd makes / shared): give the scratch
  // dir a private mount of its own then.
  const propagation = (await run("findmnt", ["-n", "-o", "PROPAGATION", "--target", cfg.dir])).stdout;
  if (propagation.includes("shared")) {
    await run("mount", ["--bind", cfg.dir, cfg.dir]);
    await run("mount", ["--make-private", cfg.dir]);
  }
  closeSync(openSync(cfg.mntns, "w"));
  await run("unshare", [`--mount=${cfg.mntns}`, "--propagation", "private", "true"]);
  const binds = cfg.guardedSysctls.map((k) => {
    const copy = cfg.path("fakesys", k.replaceAll("/", "_"));
    writeFileSync(copy, readFileSync(`/proc/sys/${k}`));
    return `mount --bind ${copy} /proc/sys/${k}`;
  });
  const script = ["set -e", ...["/run", "/var/lib", "/var/log"].map((d) => `mount -t tmpfs -o mode=755 tmpfs ${d}`), ...binds].join("\n");
  await run("nsenter", [`--mount=${cfg.mntns}`, "--", "sh", "-c", script]);
}

/** The cgroup hierarchies: the v1 ones (cpu, memory, …) and cgroup2's `unified`, where the kubelet creates its tree too. */
function hierarchies() {
  const root = "/sys/fs/cgroup";
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && existsSync(`${root}/${d.name}/cgroup.procs`))
    .map((d) => `${root}/${d.name}`);
}

/** One cgroup per hierarchy for the kubelet's cgroupRoot; cpuset needs its cpus and mems filled in. */
export function createCgroups(cfg) {
  for (const h of hierarchies()) {
    const dir = `${h}/${cfg.cgroupRoot}`;
    execFileSync("mkdir", ["-p", dir]);
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(`${h}/${f}`) && readFileSync(`${dir}/${f}`, "utf8").trim() === "") writeFileSync(`${dir}/${f}`, readFileSync(`${h}/${f}`));
    }
  }
}

/** Every process inside the cluster's cgroups: pods' containers, whoever started them. */
export function cgroupPids(cfg) {
  const pids = new Set();
  const walk = (dir) => {
    try {
      for (const p of readFileSync(`${dir}/cgroup.procs`, "utf8").split("\n")) if (p) pids.add(Number(p));
      for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) walk(`${dir}/${d.name}`);
    } catch {
      // removed meanwhile
    }
  };
  for (const h of hierarchies()) if (existsSync(`${h}/${cfg.cgroupRoot}`)) walk(`${h}/${cfg.cgroupRoot}`);
  return [...pids];
}

/** rmdir the cluster's cgroup trees, deepest first; returns the ones that would not go. */
export function removeCgroups(cfg) {
  const left = [];
  const rm = (dir) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) rm(`${dir}/${d.name}`);
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  for (const h of hierarchies()) if (existsSync(`${h}/${cfg.cgroupRoot}`)) rm(`${h}/${cfg.cgroupRoot}`);
  return left;
}

/** Mount points the host's mount namespace has under the cluster's directory, deepest first. */
export function hostMountsUnder(cfg) {
  const out = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (mp && (mp === cfg.dir || mp.startsWith(cfg.dir + "/"))) out.push(mp.replace(/\\040/g, " "));
  }
  return out.sort((a, b) => b.length - a.length);
}

export function networkExists(cfg) {
  const names = listNetns();
  return names.includes(cfg.netnsNode) || names.includes(cfg.netnsExternal);
}

/** Deletes both network namespaces (killing whatever still runs in them): links, bridges and iptables go with them. */
export function deleteNetwork(cfg) {
  const names = listNetns();
  for (const n of [cfg.netnsNode, cfg.netnsExternal]) if (names.includes(n)) deleteNetns(n);
}
