// Types for scripts/ensure-gateway-conformance.mjs (plain JS so that it runs without a build step).
export declare const CONFORMANCE_MODULE: string;
export interface GatewayConformance {
  /** The Gateway API release (the conformance module's version). */
  version: string;
  /** `go test -c` binary of a test that calls conformance.RunConformance; steered by the suite's flags. */
  runner: string;
  /** The suite's echo backend, static. */
  echoBasic: string;
  /** Where the conformance module's sources are (its base manifests, tests). */
  moduleDir: string;
  /** Images the base manifests name, each a docker-archive for `ctr images import`. */
  images: { name: string; ref: string; tar: string }[];
  buildSeconds: number;
}
export declare function gatewayConformanceCacheDir(env?: NodeJS.ProcessEnv): string;
/** Builds the runner, echo-basic and the images if needed. Idempotent, locked. */
export declare function ensureGatewayConformance(options?: { cacheDir?: string; log?: (msg: string) => void }): Promise<GatewayConformance>;
