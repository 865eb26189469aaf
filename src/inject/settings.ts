/**
 * What meshpilot injects with: the values istiod takes from its injection template and mesh
 * config (images, proxy identity, ports, where the proxy finds the control plane).
 */
export interface InjectionSettings {
  /** meshpilot's ADS address as the proxy reaches it, `host:port`. */
  readonly xdsAddress: string;
  /**
   * xdsAddress is meshpilot's secure port: the proxy authenticates with the pod's projected
   * ServiceAccount token and gets its workload certificates there (see identity.ts). Unset: the
   * plaintext port, where a proxy holds no certificate.
   */
  readonly secureXds?: {
    /** The name meshpilot's certificate must carry (default: the host of xdsAddress). */
    readonly serverName?: string;
    /** Audience of the projected token (Istio: istio-ca). */
    readonly tokenAudience: string;
  };
  /** Image of the stock Envoy sidecar. */
  readonly proxyImage: string;
  /** Command that starts Envoy in proxyImage (args are added by the injector). */
  readonly proxyCommand: readonly string[];
  /** Image of the init container that installs the capture rules (busybox sh + iptables). */
  readonly captureImage: string;
  /** The proxy's uid and gid: its own traffic is exempt from capture by them (Istio: 1337). */
  readonly proxyUid: number;
  readonly proxyGid: number;
  /** Istio's ports: outbound capture 15001, inbound capture 15006, Envoy admin 15000 (loopback), health 15021, app probes 15020. */
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly adminPort: number;
  readonly healthPort: number;
  readonly appProbePort: number;
  /** Inbound ports never captured (Envoy's own listeners reached from outside the pod). */
  readonly excludeInboundPorts: readonly number[];
  /** Cluster DNS domain (node id suffix). */
  readonly clusterDomain: string;
  /** Metadata CLUSTER_ID. */
  readonly clusterId: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  /** Envoy's --log-level. */
  readonly proxyLogLevel: string;
}

export const DEFAULT_INJECTION_SETTINGS: InjectionSettings = {
  xdsAddress: "meshpilot.meshpilot-system.svc:15010",
  proxyImage: "localhost/meshpilot-envoy:local",
  proxyCommand: ["/usr/local/bin/envoy"],
  captureImage: "localhost/meshpilot-proxy-init:local",
  proxyUid: 1337,
  proxyGid: 1337,
  outboundPort: 15001,
  inboundPort: 15006,
  adminPort: 15000,
  healthPort: 15021,
  appProbePort: 15020,
  // As Istio's template: Prometheus 15090, health 15021, status/app probes 15020.
  excludeInboundPorts: [15090, 15021, 15020],
  clusterDomain: "cluster.local",
  clusterId: "Kubernetes",
  imagePullPolicy: "IfNotPresent",
  proxyLogLevel: "warning",
};
