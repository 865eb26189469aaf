// Types for scripts/cluster/procs.mjs.
import type { ClusterConfig } from "./config.mjs";
/** The cluster's recorded processes: name → pid. */
export declare function recordedPids(cfg: ClusterConfig): Record<string, number>;
export declare function isOurs(cfg: ClusterConfig, pid: number): boolean;
