// Everything a cluster needs before it starts, each piece cached: Debian packages, the
// Kubernetes binaries, CoreDNS, and the images (built by images.mjs, CoreDNS's here).
import { ensureKubeCluster } from "../ensure-kube.mjs";
import { ensureCoreDNSImage } from "./coredns-image.mjs";
import { ensureDebPackages } from "./host-files.mjs";
import { ensureImages } from "./images.mjs";

/**
 * The node's runtime from Debian: containerd, runc, the CNI plugins, iptables (kube-proxy's and
 * the CNI plugins' backend), conntrack (kube-proxy clears stale UDP entries with it) and a static
 * busybox (the external host's web server).
 */
export const CLUSTER_PACKAGES = ["containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "busybox-static"];

/**
 * @param {{ log?: (msg: string) => void, images?: string[] }} [opts] images: which of images.mjs's
 *   to build (default all); pause is always among them.
 * @returns {Promise<{ bins: Record<string, string>, images: { pause: string, coredns: string, byName: Record<string, string>, tarballs: string[] } }>}
 */
export async function prepareCluster(opts = {}) {
  const log = opts.log ?? ((m) => process.stderr.write(`cluster: ${m}\n`));
  await ensureDebPackages(CLUSTER_PACKAGES, log);
  const only = opts.images ? [...new Set(["pause", ...opts.images])] : undefined;
  const [bins, built, coredns] = await Promise.all([ensureKubeCluster({ log }), ensureImages({ log, ...(only ? { only } : {}) }), ensureCoreDNSImage({ log })]);
  const all = [...built.images, coredns];
  const byName = Object.fromEntries(all.map((i) => [i.name, i.ref]));
  return { bins, images: { pause: byName.pause, coredns: coredns.ref, byName, tarballs: all.map((i) => i.tar) } };
}
