// Types for scripts/cluster/config.mjs.
export declare const CLUSTERS_ROOT: string;
export declare const DIR_PREFIX: string;
export interface ClusterConfig {
  name: string;
  dir: string;
  nodeName: string;
  netnsNode: string;
  netnsExternal: string;
  mntns: string;
  cgroupRoot: string;
  nodeIP: string;
  externalIP: string;
  linkPrefix: number;
  podCIDR: string;
  podGateway: string;
  clusterCIDR: string;
  serviceCIDR: string;
  apiServiceIP: string;
  dnsServiceIP: string;
  clusterDomain: string;
  externalHost: string;
  apiserverPort: number;
  guardedSysctls: string[];
  path: (...parts: string[]) => string;
}
export declare function clusterConfig(name?: string, opts?: { dir?: string }): ClusterConfig;
