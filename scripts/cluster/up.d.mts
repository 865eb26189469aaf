// Types for scripts/cluster/up.mjs.
import type { ClusterConfig } from "./config.mjs";
import type { ClusterBinaries, ClusterImages } from "./prepare.mjs";
export declare function kubectl(cfg: ClusterConfig, bins: ClusterBinaries, args: string[], opts?: object): Promise<{ stdout: string; stderr: string }>;
/** Loads docker-archive tarballs into the node's containerd (namespace k8s.io). */
export declare function importImages(cfg: ClusterConfig, tarballs: readonly string[]): Promise<void>;
export declare function readState(cfg: ClusterConfig): Record<string, unknown> | undefined;
export declare function up(
  cfg: ClusterConfig,
  opts: { bins: ClusterBinaries; images: ClusterImages; ownerPid?: number | null; log?: (msg: string) => void },
): Promise<{ kubeconfig: string; apiserverHostPort: number; timings: Record<string, number> }>;
