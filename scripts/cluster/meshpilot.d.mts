// Types for scripts/cluster/meshpilot.mjs.
import type { ClusterConfig } from "./config.mjs";
import type { ClusterBinaries } from "./prepare.mjs";
export declare const DEPLOY_DIR: string;
export declare const MANIFEST_IMAGE: string;
export declare function substituteImages(text: string, images: Record<string, string>): string;
export declare function deployMeshpilot(cfg: ClusterConfig, bins: ClusterBinaries, image: string, log?: (msg: string) => void): Promise<void>;
