// Types for scripts/ensure-coredns.mjs (plain JS so that it runs without a build step).
export declare const COREDNS_VERSION: string;
export declare const COREDNS_PLUGINS: readonly string[];
/** Builds CoreDNS (only the plugins the cluster's Corefile uses) if needed; returns its path. */
export declare function ensureCoreDNS(options?: {
  cacheDir?: string;
  log?: (msg: string) => void;
  /** Another CoreDNS than the cluster's (default COREDNS_VERSION). */
  version?: string;
  /** Its plugins (default COREDNS_PLUGINS). */
  plugins?: readonly string[];
}): Promise<{ version: string; coredns: string }>;
