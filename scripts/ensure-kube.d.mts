// Types for scripts/ensure-kube.mjs (plain JS so that it runs without a build step).
export declare const KUBE_VERSION: string;
/** Directory holding the Go build module, the binaries and the build marker. */
export declare function kubeCacheDir(env?: NodeJS.ProcessEnv): string;
/** The staging modules (`k8s.io/<name> v0.0.0` requirements) of a k8s.io/kubernetes go.mod. */
export declare function stagingModules(goMod: string): string[];
/** Builds kube-apiserver and etcd if needed and returns their absolute paths. */
export declare function ensureKube(options?: { cacheDir?: string; log?: (msg: string) => void }): Promise<{ version: string; apiserver: string; etcd: string }>;
/** The node and control-plane commands built by ensureKubeCluster. */
export declare const CLUSTER_COMMANDS: readonly string[];
export interface KubeClusterBinaries {
  version: string;
  apiserver: string;
  etcd: string;
  kubelet: string;
  "kube-controller-manager": string;
  "kube-scheduler": string;
  "kube-proxy": string;
  kubectl: string;
}
/** kube-apiserver and etcd plus the five commands a node needs, same version, built if needed. */
export declare function ensureKubeCluster(options?: { cacheDir?: string; log?: (msg: string) => void }): Promise<KubeClusterBinaries>;
