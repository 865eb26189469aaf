// Types for scripts/ensure-chromium.mjs (plain JS so that it runs without a build step).
export declare const CHROMIUM_PACKAGES: string[];
/** Installs Debian's Chromium if needed (root) and returns the absolute path of its binary. */
export declare function ensureChromium(options?: { log?: (msg: string) => void }): Promise<string>;
/** `chromium --version`. */
export declare function chromiumVersion(path: string): Promise<string>;
