// Types for scripts/ensure-gateway-api.mjs (plain JS so that it runs without a build step).
export declare const GATEWAY_API_VERSION: string;
export declare const GATEWAY_API_MODULE: string;
export declare const GATEWAY_API_CRDS: readonly string[];
/** The Gateway API release's experimental-channel CRDs (the kinds meshpilot reads), fetched from the Go module proxy once. */
export declare function ensureGatewayApi(options?: {
  cacheDir?: string;
  log?: (msg: string) => void;
}): Promise<{ version: string; crds: string; module: string }>;
