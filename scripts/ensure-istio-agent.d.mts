// Types for scripts/ensure-istio-agent.mjs (plain JS so that it runs without a build step).
export declare const ISTIO_MODULE_VERSION: string;
export declare function istioAgentCacheDir(env?: NodeJS.ProcessEnv): string;
/** Builds pilot-agent (and copies Envoy's bootstrap template from the module; absent for MESHPILOT_PILOT_AGENT) from the istio.io/istio Go module if needed and returns its absolute path. */
export declare function ensureIstioAgent(options?: {
  cacheDir?: string;
  log?: (msg: string) => void;
}): Promise<{ version: string; pilotAgent: string; bootstrapTemplate?: string }>;
