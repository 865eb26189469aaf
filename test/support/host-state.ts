/**
 * What a cluster must not change on the host, read from the host's own namespaces: its links,
 * addresses and routes, its iptables rules, its mounts, the kernel settings the kubelet and the
 * node's networking touch, and the top level of its cgroup hierarchies.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";

/** Kernel settings the kubelet writes (or would) and those a node's networking needs. */
export const WATCHED_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/route_localnet",
  "net/bridge/bridge-nf-call-iptables",
  "net/bridge/bridge-nf-call-ip6tables",
  "net/netfilter/nf_conntrack_max",
  "net/netfilter/nf_conntrack_tcp_timeout_established",
  "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
];

const cmd = (file: string, args: string[]) => {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    return `(${file} ${args.join(" ")} failed: ${(err as Error).message.split("\n")[0]})`;
  }
};

/** iptables-save without its timestamp comments and packet counters. */
const rules = (tool: string) =>
  cmd(tool, [])
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[-]"))
    .join("\n");

export interface HostState {
  links: string;
  addresses: string;
  routes: string;
  iptables: string;
  ip6tables: string;
  mounts: string[];
  sysctls: Record<string, string>;
  cgroups: string[];
}

export function hostState(): HostState {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    // mount point, options, fs type, source, super options (ids and parents left out)
    .map((l) => {
      const f = l.split(" ");
      const dash = f.indexOf("-");
      return [f[4], f[5], ...f.slice(dash + 1)].join(" ");
    })
    .sort();
  const sysctls: Record<string, string> = {};
  for (const k of WATCHED_SYSCTLS) {
    const p = `/proc/sys/${k}`;
    sysctls[k] = existsSync(p) ? readFileSync(p, "utf8").trim() : "(absent)";
  }
  const cgroups: string[] = [];
  for (const h of existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : []) {
    try {
      for (const d of readdirSync(`/sys/fs/cgroup/${h}`, { withFileTypes: true })) if (d.isDirectory()) cgroups.push(`${h}/${d.name}`);
    } catch {
      // not a directory
    }
  }
  return {
    links: cmd("ip", ["-o", "link", "show"]).replace(/\s+link\/\S+ [0-9a-f:]+ brd [0-9a-f:]+/g, ""),
    addresses: cmd("ip", ["-o", "addr", "show"]),
    routes: cmd("ip", ["route", "show", "table", "all"]) + cmd("ip", ["-6", "route", "show", "table", "all"]),
    iptables: rules("iptables-save"),
    ip6tables: rules("ip6tables-save"),
    mounts,
    sysctls,
    cgroups: cgroups.sort(),
  };
}
