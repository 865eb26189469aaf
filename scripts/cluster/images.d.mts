// Types for scripts/cluster/images.mjs (plain JS so that the cluster scripts run without a build step).

/** One row of the image table. */
export interface ImageSpec {
  /** Short name: pause, busybox, envoy, meshpilot, testapp, proxy-init. */
  readonly name: string;
  /** Repository part of the ref, e.g. "localhost/meshpilot-envoy". */
  readonly repository: string;
  /** What the image holds. */
  readonly contents: string;
  /** What the cluster uses it for. */
  readonly use: string;
}

export interface BuiltImage {
  name: string;
  /** `<repository>:<content digest tag>`, the exact image. */
  ref: string;
  /** `<repository>:local`, the same image under a fixed tag. */
  alias: string;
  /** docker-archive tarball for `ctr -n k8s.io images import`. */
  tar: string;
}

export declare const IMAGES: readonly ImageSpec[];
export declare const ALIAS_TAG: string;
export declare const NODE_RUNTIME: { readonly package: string; readonly version: string; readonly integrity: string };
/** $MESHPILOT_CACHE/images, else ~/.cache/meshpilot/images. */
export declare function imagesCacheDir(env?: NodeJS.ProcessEnv): string;
/** Builds what changed, reuses the rest; images in IMAGES order. */
export declare function ensureImages(options?: { cacheDir?: string; log?: (msg: string) => void; only?: string[] }): Promise<{ images: BuiltImage[] }>;
