/**
 * A connecting Envoy (ProxyNode, parsed from the xDS node: Istio's `type~ip~pod.ns~ns.svc.domain`
 * id and its metadata keys), and its point of view (ProxyView): only what changes the config it
 * gets. Proxies with equal views share one translation and one snapshot.
 */

import { localityLabel, type Locality } from "./locality.js";
import { projectLabels, type LabelSelection, type ProjectedLabels } from "./selected-labels.js";

export type ProxyType = "sidecar" | "router";
export type InterceptionMode = "REDIRECT" | "TPROXY" | "NONE";

/**
 * What the translator sees of a proxy. Its labels are only those some configuration selects on
 * (selected-labels.ts): a translation cannot depend on anything the view key leaves out.
 */
export interface ProxyView {
  readonly type: ProxyType;
  readonly namespace: string;
  readonly dnsDomain: string;
  readonly labels: ProjectedLabels;
  readonly interceptionMode: InterceptionMode;
  /** Envoy's `node.locality`, when it sends one: locality load balancing is relative to it. */
  readonly locality?: Locality;
}

/** A connected proxy as its node describes it: every label, its IP and pod name. */
export interface ProxyNode extends Omit<ProxyView, "labels"> {
  readonly id: string;
  readonly ip: string;
  readonly podName: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface NodeLike {
  readonly id: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly subZone?: string };
}

const PROXY_TYPES: readonly string[] = ["sidecar", "router"];
const INTERCEPTION_MODES: readonly string[] = ["REDIRECT", "TPROXY", "NONE"];

export function parseProxy(node: NodeLike): { proxy: ProxyNode } | { error: string } {
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

/** The view of `node` under the mesh's current label selection. */
export function proxyView(node: ProxyNode, selection: LabelSelection): ProxyView {
  const { type, namespace, dnsDomain, interceptionMode, locality } = node;
  return { type, namespace, dnsDomain, interceptionMode, labels: projectLabels(node.labels, selection), ...(locality ? { locality } : {}) };
}

/**
 * The view `view` shares a translation with: a sidecar's labels projected through the outbound
 * selection (outboundLabels), for its outbound side, which every pod of the namespace that agrees
 * on those labels gets alike; a router shares all of its translation, so its view is its own.
 */
export function sharedView(view: ProxyView, outbound: LabelSelection): ProxyView {
  return view.type === "router" ? view : { ...view, labels: projectLabels(view.labels, outbound) };
}

/** Equal keys, equal views: the proxies of one key share a translation and a snapshot. */
export function viewKey(p: ProxyView): string {
  return classKey(p, p.labels);
}

/**
 * The key of every proxy that looks like `node` whatever the configuration: all its labels, no IP
 * or pod name. Proxies of one class always share a view; the view a class belongs to changes
 * when the label selection does.
 */
export function nodeClassKey(node: ProxyNode): string {
  return classKey(node, node.labels);
}

function classKey(p: Omit<ProxyView, "labels">, labels: Readonly<Record<string, string>>): string {
  // JSON: node metadata labels are free text, and a "," or "=" in one must not make two label sets alike.
  const text = JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
  return `${p.type}|${p.namespace}|${p.dnsDomain}|${p.interceptionMode}|${text}|${localityLabel(p.locality)}`;
}
