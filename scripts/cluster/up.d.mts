// Types for scripts/cluster/up.mjs.
import type { ClusterConfig } from "./config.mjs";
import type { ClusterBinaries, ClusterImages } from "./prepare.mjs";
export declare function kubectl(cfg: ClusterConfig, bins: ClusterBinaries, args: string[], opts?: object): Promise<{ stdout: string; stderr: string }>;
export declare function readState(cfg: ClusterConfig): Record<string, unknown> | undefined;
export declare function up(
  cfg: ClusterConfig,
  opts: { bins: ClusterBinaries; images: ClusterImages; ownerPid?: number | null; log?: (msg: string) => void },
): Promise<{ kubeconfig: string; apiserverHostPort: number; timings: Record<string, number> }>;
