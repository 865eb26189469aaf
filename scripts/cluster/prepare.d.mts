// Types for scripts/cluster/prepare.mjs.
import type { KubeClusterBinaries } from "../ensure-kube.mjs";
export type ClusterBinaries = KubeClusterBinaries;
export interface ClusterImages {
  pause: string;
  coredns: string;
  /** image name (pause, busybox, envoy, meshpilot, testapp, proxy-init, coredns) → exact ref */
  byName: Record<string, string>;
  tarballs: string[];
}
export declare function prepareCluster(opts?: { log?: (msg: string) => void; images?: string[] }): Promise<{ bins: ClusterBinaries; images: ClusterImages }>;
