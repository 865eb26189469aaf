/**
 * The proxy's point of view: what of a connecting Envoy changes the config it gets. Parsed from
 * the xDS node (Istio's `type~ip~pod.ns~ns.svc.domain` id and its metadata keys).
 */

import { localityLabel, type Locality } from "./locality.js";

export type ProxyType = "sidecar" | "router";
export type InterceptionMode = "REDIRECT" | "TPROXY" | "NONE";

export interface ProxyView {
  readonly type: ProxyType;
  readonly id: string;
  readonly ip: string;
  readonly podName: string;
  readonly namespace: string;
  readonly dnsDomain: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly interceptionMode: InterceptionMode;
  /** Envoy's `node.locality`, when it sends one: locality load balancing is relative to it. */
  readonly locality?: Locality;
}

export interface NodeLike {
  readonly id: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly subZone?: string };
}

const PROXY_TYPES: readonly string[] = ["sidecar", "router"];
const INTERCEPTION_MODES: readonly string[] = ["REDIRECT", "TPROXY", "NONE"];

export function parseProxy(node: NodeLike): { proxy: ProxyView } | { error: string } {
  const parts = node.id.split("~");
  if (parts.length !== 4) {
    return { error: `node id "${node.id}" must have 4 parts "type~ip~pod.namespace~namespace.svc.cluster.local"` };
  }
  const [type, ip, podId, dnsDomain] = parts as [string, string, string, string];
  if (!PROXY_TYPES.includes(type)) return { error: `node id "${node.id}": type "${type}" must be one of ${PROXY_TYPES.join(", ")}` };
  if (!ip) return { error: `node id "${node.id}": the IP part is empty` };
  const md = node.metadata ?? {};
  const dot = podId.lastIndexOf(".");
  const podName = dot > 0 ? podId.slice(0, dot) : podId;
  const metaNs = typeof md["NAMESPACE"] === "string" ? (md["NAMESPACE"] as string) : undefined;
  const namespace = metaNs || (dot > 0 ? podId.slice(dot + 1) : "") || dnsDomain.split(".")[0] || "";
  if (!namespace) return { error: `node id "${node.id}": no namespace in the id or in metadata NAMESPACE` };
  const rawMode = md["INTERCEPTION_MODE"];
  const mode = typeof rawMode === "string" && rawMode ? rawMode : "REDIRECT";
  if (!INTERCEPTION_MODES.includes(mode)) return { error: `node metadata INTERCEPTION_MODE "${mode}" must be one of ${INTERCEPTION_MODES.join(", ")}` };
  const labels: Record<string, string> = {};
  const rawLabels = md["LABELS"];
  if (rawLabels && typeof rawLabels === "object" && !Array.isArray(rawLabels)) {
    for (const [k, v] of Object.entries(rawLabels)) if (typeof v === "string") labels[k] = v;
  }
  const domainSuffix = dnsDomain.split(".svc.")[1];
  const loc = node.locality;
  const locality = loc && (loc.region || loc.zone || loc.subZone) ? { region: loc.region ?? "", zone: loc.zone ?? "", subZone: loc.subZone ?? "" } : undefined;
  return {
    proxy: {
      type: type as ProxyType,
      id: node.id,
      ip,
      podName,
      namespace,
      dnsDomain: domainSuffix ?? "cluster.local",
      labels,
      interceptionMode: mode as InterceptionMode,
      ...(locality ? { locality } : {}),
    },
  };
}

/**
 * Proxies with equal keys receive identical config, so they share one snapshot. Only what the
 * translator reads goes in: the IP and pod name do not.
 */
export function viewKey(p: ProxyView): string {
  const labels = Object.keys(p.labels)
    .sort()
    .map((k) => `${k}=${p.labels[k]}`)
    .join(",");
  return `${p.type}|${p.namespace}|${p.dnsDomain}|${p.interceptionMode}|${labels}|${localityLabel(p.locality)}`;
}
