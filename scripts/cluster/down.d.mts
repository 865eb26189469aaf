// Types for scripts/cluster/down.mjs.
import type { ClusterConfig } from "./config.mjs";
export declare function clusterExists(cfg: ClusterConfig): boolean;
export declare function down(cfg: ClusterConfig, opts?: { keepDir?: boolean; log?: (msg: string) => void }): Promise<void>;
export declare function downAbandoned(log?: (msg: string) => void): Promise<string[]>;
