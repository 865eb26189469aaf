// Types for scripts/cluster/demo.mjs.
import type { ClusterConfig } from "./config.mjs";
import type { ClusterBinaries } from "./prepare.mjs";
export declare const DEMO_MANIFEST: string;
export declare function deployDemo(cfg: ClusterConfig, bins: ClusterBinaries, images: Record<string, string>, log?: (msg: string) => void): Promise<void>;
