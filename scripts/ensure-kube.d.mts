// Types for scripts/ensure-kube.mjs (plain JS so that it runs without a build step).
export declare const KUBE_VERSION: string;
/** Directory holding the Go build module, the binaries and the build marker. */
export declare function kubeCacheDir(env?: NodeJS.ProcessEnv): string;
/** The staging modules (`k8s.io/<name> v0.0.0` requirements) of a k8s.io/kubernetes go.mod. */
export declare function stagingModules(goMod: string): string[];
/** Builds kube-apiserver and etcd if needed and returns their absolute paths. */
export declare function ensureKube(options?: { cacheDir?: string; log?: (msg: string) => void }): Promise<{ version: string; apiserver: string; etcd: string }>;
