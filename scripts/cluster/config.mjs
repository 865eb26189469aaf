// What one local cluster is called, where its state lives and which addresses it uses. Every
// name the host can see (scratch dir, namespace files, cgroup root) derives from the cluster
// name, so two clusters coexist. Addresses need not differ between clusters: each cluster's
// network lives in namespaces of its own and the host routes to none of them.
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Where the scratch dirs of all local clusters live (one `meshpilot-cluster-<name>` each). */
export const CLUSTERS_ROOT = tmpdir();
export const DIR_PREFIX = "meshpilot-cluster-";

/**
 * @param {string} [name]
 * @param {{ dir?: string }} [opts]
 */
export function clusterConfig(name = "meshpilot", opts = {}) {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(name)) throw new Error(`cluster name ${JSON.stringify(name)}: expected 1–20 of [a-z0-9-], starting with a letter`);
  const dir = resolve(opts.dir ?? join(CLUSTERS_ROOT, `${DIR_PREFIX}${name}`));
  return {
    name,
    dir,
    nodeName: `${name}-node`,
    // The node netns holds every cluster process's network; the external host's netns is a
    // machine outside the cluster, reached only over the link between the two.
    // `ip netns` names (so `ip netns list` shows them and nsenter finds them in /run/netns).
    netnsNode: `mpc-${name}`,
    netnsExternal: `mpc-${name}-ext`,
    mntns: join(dir, "mntns"),
    cgroupRoot: `meshpilot-${name}`,
    nodeIP: "10.200.0.1",
    externalIP: "10.200.0.2",
    linkPrefix: 30,
    podCIDR: "10.244.0.0/24",
    podGateway: "10.244.0.1",
    clusterCIDR: "10.244.0.0/16",
    serviceCIDR: "10.96.0.0/16",
    apiServiceIP: "10.96.0.1",
    dnsServiceIP: "10.96.0.10",
    clusterDomain: "cluster.local",
    externalHost: "external.meshpilot.test",
    apiserverPort: 6443,
    // Files the kubelet writes host-wide (vm.overcommit_memory=1, kernel.panic=10, …) whatever
    // it is told; inside the cluster's mount namespace they are scratch copies.
    guardedSysctls: [
      "vm/overcommit_memory",
      "vm/panic_on_oom",
      "kernel/panic",
      "kernel/panic_on_oops",
      "kernel/keys/root_maxkeys",
      "kernel/keys/root_maxbytes",
    ],
    path: (...parts) => join(dir, ...parts),
  };
}

/** @typedef {ReturnType<typeof clusterConfig>} ClusterConfig */
