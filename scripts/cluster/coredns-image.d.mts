// Types for scripts/cluster/coredns-image.mjs.
/** Builds CoreDNS if needed and writes its one-file image; returns the ref and tarball. */
export declare function ensureCoreDNSImage(options?: { cacheDir?: string; log?: (msg: string) => void }): Promise<{ name: string; ref: string; tar: string }>;
