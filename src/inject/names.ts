/** Istio's label, annotation and container names that injection reads and writes. */
export const INJECTION_NAMESPACE_LABEL = "istio-injection";
export const REVISION_LABEL = "istio.io/rev";
export const INJECT_LABEL = "sidecar.istio.io/inject";
/** The older annotation form of INJECT_LABEL; the label wins when both are set. */
export const INJECT_ANNOTATION = "sidecar.istio.io/inject";
export const STATUS_ANNOTATION = "sidecar.istio.io/status";
export const REWRITE_PROBES_ANNOTATION = "sidecar.istio.io/rewriteAppHTTPProbers";
export const INTERCEPTION_MODE_ANNOTATION = "sidecar.istio.io/interceptionMode";
export const TLS_MODE_LABEL = "security.istio.io/tlsMode";

export const TRAFFIC = {
  includeOutboundIPRanges: "traffic.sidecar.istio.io/includeOutboundIPRanges",
  excludeOutboundIPRanges: "traffic.sidecar.istio.io/excludeOutboundIPRanges",
  includeInboundPorts: "traffic.sidecar.istio.io/includeInboundPorts",
  excludeInboundPorts: "traffic.sidecar.istio.io/excludeInboundPorts",
  includeOutboundPorts: "traffic.sidecar.istio.io/includeOutboundPorts",
  excludeOutboundPorts: "traffic.sidecar.istio.io/excludeOutboundPorts",
} as const;

export const INIT_CONTAINER = "istio-init";
export const PROXY_CONTAINER = "istio-proxy";

/** Namespaces Istio never injects into, whatever the labels say. */
export const IGNORED_NAMESPACES: readonly string[] = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"];
