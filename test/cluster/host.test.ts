/**
 * A cluster leaves the host as it found it, and survives being killed: a second cluster (next to
 * the run's shared one) is started, killed the way an interrupted run dies (SIGKILL to every
 * recorded process, no teardown), started again over those remains, and stopped. The host's
 * links, addresses, routes, iptables rules, mounts, kernel settings and cgroups are the same
 * before and after. The cluster project runs alone (vitest.config.ts), so nothing else changes
 * the host meanwhile.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterConfig } from "../../scripts/cluster/config.mjs";
import { clusterExists, down } from "../../scripts/cluster/down.mjs";
import { recordedPids } from "../../scripts/cluster/procs.mjs";
import { kubectl, up } from "../../scripts/cluster/up.mjs";
import { clusterTestsSkipped, eventually, useCluster, type TestCluster } from "../support/cluster.js";
import { hostState, type HostState } from "../support/host-state.js";

const log = (m: string) => console.log(`[host-test] ${m}`);

describe.skipIf(clusterTestsSkipped)("a local cluster and the host", () => {
  let shared: TestCluster;
  let before: HostState;
  const cfg = clusterConfig(`h${process.pid}`);

  beforeAll(async () => {
    shared = await useCluster();
    before = hostState();
  });

  afterAll(async () => {
    if (clusterExists(cfg)) await down(cfg, { log });
  });

  it("runs next to another cluster, restarts over a killed run's remains, and leaves the host unchanged", async () => {
    const opts = { bins: shared.bins, images: shared.images, ownerPid: process.pid, log };
    await up(cfg, opts);
    // Both nodes are Ready at once: the two clusters do not share a name, cgroup, port or address the host sees.
    for (const [c, node] of [
      [cfg, cfg.nodeName],
      [shared.cfg, shared.cfg.nodeName],
    ] as const) {
      const ready = (await kubectl(c, shared.bins, ["get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"])).stdout;
      expect(ready, `node ${node}`).toBe("True");
    }

    // An interrupted run: every process it started dies at once; nothing is torn down.
    const pids = Object.values(recordedPids(cfg));
    expect(pids.length).toBeGreaterThanOrEqual(8);
    for (const pid of pids) process.kill(pid, "SIGKILL");
    expect(clusterExists(cfg)).toBe(true);

    // The next start finds the remains, removes them, and works.
    const again = await up(cfg, opts);
    expect(again.timings["CoreDNS ready"]).toBeGreaterThan(0);
    const dns = (await kubectl(cfg, shared.bins, ["-n", "kube-system", "get", "deployment", "coredns", "-o", "jsonpath={.status.readyReplicas}"])).stdout;
    expect(dns).toBe("2");

    await down(cfg, { log });
    expect(existsSync(cfg.dir)).toBe(false);
    expect(clusterExists(cfg)).toBe(false);

    // Transient changes by other programs (another test run on a shared machine) pass; a leak stays.
    const mine = [cfg.netnsNode, shared.cfg.netnsNode];
    const want = comparable(before, mine);
    const after = await eventually(
      "the host as it was",
      async () => {
        const now = comparable(hostState(), mine);
        return JSON.stringify(now) === JSON.stringify(want) ? now : undefined;
      },
      30_000,
      1000,
    ).catch(() => comparable(hostState(), mine));
    expect(after.sysctls).toEqual(want.sysctls);
    expect(after.links).toBe(want.links);
    expect(after.addresses).toBe(want.addresses);
    expect(after.routes).toBe(want.routes);
    expect(after.iptables).toBe(want.iptables);
    expect(after.ip6tables).toBe(want.ip6tables);
    expect(after.mounts).toEqual(want.mounts);
    expect(after.cgroups).toEqual(want.cgroups);
  });

  it("keeps the kubelet's kernel settings away from the host while the cluster runs", () => {
    // The kubelet of the shared cluster has set these inside its mount namespace (scratch copies).
    const host = hostState().sysctls;
    expect(sysctlInside(shared, "vm/overcommit_memory")).toBe("1");
    expect(sysctlInside(shared, "kernel/panic")).toBe("10");
    expect(host["vm/overcommit_memory"]).toBe(before.sysctls["vm/overcommit_memory"]);
    expect(host["kernel/panic"]).toBe(before.sysctls["kernel/panic"]);
    // The node forwards; the host's setting is its own.
    expect(inNodeNetns(shared, ["cat", "/proc/sys/net/ipv4/ip_forward"])).toBe("1");
    // Nothing in the node can reach past the external host.
    expect(inNodeNetns(shared, ["ip", "route", "show", "default"])).toBe("");
  });
});

/**
 * The state to compare, without what other programs own: on a machine shared with other test
 * runs (their network namespaces, their clusters' cgroups) those come and go meanwhile. Ours
 * (`mine`: the clusters' namespace and cgroup names) stay in, and clusterExists() checks them too.
 */
function comparable(s: HostState, mine: string[]): HostState {
  const ours = (name: string) => mine.some((m) => name === m || name.startsWith(`${m}-`));
  return {
    ...s,
    mounts: s.mounts.filter((m) => {
      const ns = /^\/run\/netns\/(\S+) /.exec(m);
      return !ns || ours(ns[1]!);
    }),
    cgroups: s.cgroups.filter((c) => !/\/meshpilot-/.test(c) || mine.some((m) => c.endsWith(`/meshpilot-${m.replace(/^mpc-/, "")}`))),
  };
}

/** A kernel setting as the processes in the cluster's mount namespace see it. */
function sysctlInside(c: TestCluster, key: string): string {
  return execFileSync("nsenter", [`--mount=${c.cfg.mntns}`, "--", "cat", `/proc/sys/${key}`], { encoding: "utf8" }).trim();
}

function inNodeNetns(c: TestCluster, command: string[]): string {
  return execFileSync("nsenter", [`--net=/run/netns/${c.cfg.netnsNode}`, "--", ...command], { encoding: "utf8" }).trim();
}
