/**
 * Localities as Istio 1.28 derives and compares them (region/zone/subzone).
 *
 * Where an endpoint's locality comes from (Istio's kube registry, in order):
 * 1. the Pod label `topology.istio.io/locality` (`region/zone/subzone`), else the deprecated
 *    `istio-locality` (dots instead of slashes, since label values cannot hold "/");
 * 2. the labels of the Pod's Node (`spec.nodeName`): `topology.kubernetes.io/region` and
 *    `/zone` (the `failure-domain.beta.kubernetes.io/*` names as fallback) and
 *    `topology.istio.io/subzone`.
 * EndpointSlice `zone` is not used (Istio does not either).
 *
 * The proxy's own locality is its Envoy `node.locality` (set in the bootstrap); Istio prefers the
 * registry's view of the proxy's pod, which meshpilot does not look up (the view is keyed by what
 * the node sends).
 */
import type { Node, Pod } from "../api/kube-types.js";
import {
  HOSTNAME_LABEL,
  LEGACY_LOCALITY_LABEL,
  LEGACY_REGION_LABEL,
  LEGACY_ZONE_LABEL,
  LOCALITY_LABEL,
  TOPOLOGY_CLUSTER_LABEL,
  TOPOLOGY_REGION_LABEL,
  TOPOLOGY_SUBZONE_LABEL,
  TOPOLOGY_ZONE_LABEL,
} from "../api/kube-types.js";

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** Istio's default cluster id; endpoints and proxies carry it as `topology.istio.io/cluster`. */
export const DEFAULT_CLUSTER_ID = "Kubernetes";

/** `region/zone/subzone` (missing parts empty) → parts. */
export function splitLocality(label: string): Locality {
  // A mesh has a few localities, read for every endpoint: split each once (frozen: shared).
  let l = splitLocalities.get(label);
  if (l === undefined) {
    const [region = "", zone = "", subZone = ""] = label.split("/");
    l = Object.freeze({ region, zone, subZone });
    if (splitLocalities.size >= MAX_SPLIT_LOCALITIES) splitLocalities.clear();
    splitLocalities.set(label, l);
  }
  return l;
}

const splitLocalities = new Map<string, Locality>();
/** Bounded: labels come from user input. */
const MAX_SPLIT_LOCALITIES = 1000;

/** Istio's label form: `region`, `region/zone` or `region/zone/subzone` ("" when unknown). */
export function localityLabel(l: Locality | undefined): string {
  if (!l || (!l.region && !l.zone && !l.subZone)) return "";
  return [l.region, l.zone, l.subZone].join("/").replace(/\/+$/, "");
}

/** The locality of a Pod's endpoints, from the Pod's labels or its Node's ("" when unknown); `byNode` keeps each Node's for the next Pod on it. */
export function podLocality(pod: Pod | undefined, nodes: ReadonlyMap<string, Node>, byNode?: Map<string, string>): string {
  const labels = pod?.metadata.labels ?? {};
  const direct = labels[LOCALITY_LABEL] ?? labels[LEGACY_LOCALITY_LABEL];
  if (direct) return direct.includes("/") ? direct : direct.replaceAll(".", "/");
  const nodeName = pod?.spec?.nodeName;
  if (!nodeName) return "";
  let l = byNode?.get(nodeName);
  if (l === undefined) {
    l = nodeLocality(nodes.get(nodeName));
    byNode?.set(nodeName, l);
  }
  return l;
}

function nodeLocality(node: Node | undefined): string {
  if (!node) return "";
  const nl = node.metadata.labels ?? {};
  const region = nl[TOPOLOGY_REGION_LABEL] ?? nl[LEGACY_REGION_LABEL] ?? "";
  const zone = nl[TOPOLOGY_ZONE_LABEL] ?? nl[LEGACY_ZONE_LABEL] ?? "";
  const subZone = nl[TOPOLOGY_SUBZONE_LABEL] ?? "";
  if (!region && !zone && !subZone) return "";
  return `${region}/${zone}/${subZone}`;
}

/**
 * Labels with the topology labels Istio adds (AugmentLabels): region, zone and subzone of the
 * locality, the cluster id and the node name. Subsets and failoverPriority match on these.
 */
export function topologyLabels(
  labels: Readonly<Record<string, string>>,
  locality: string,
  nodeName: string | undefined,
  clusterId = DEFAULT_CLUSTER_ID,
): Readonly<Record<string, string>> {
  const { region, zone, subZone } = splitLocality(locality);
  return {
    ...labels,
    ...(region ? { [TOPOLOGY_REGION_LABEL]: region } : {}),
    ...(zone ? { [TOPOLOGY_ZONE_LABEL]: zone } : {}),
    ...(subZone ? { [TOPOLOGY_SUBZONE_LABEL]: subZone } : {}),
    ...(clusterId ? { [TOPOLOGY_CLUSTER_LABEL]: clusterId } : {}),
    ...(nodeName ? { [HOSTNAME_LABEL]: nodeName } : {}),
  };
}

/**
 * One label of an endpoint as Istio sees it (pod labels plus topology labels), without building
 * the whole map: subset selection asks this for every endpoint.
 */
export function endpointLabel(
  ep: { readonly labels: Readonly<Record<string, string>>; readonly locality?: string; readonly nodeName?: string },
  key: string,
): string | undefined {
  switch (key) {
    case TOPOLOGY_REGION_LABEL:
      return splitLocality(ep.locality ?? "").region || ep.labels[key];
    case TOPOLOGY_ZONE_LABEL:
      return splitLocality(ep.locality ?? "").zone || ep.labels[key];
    case TOPOLOGY_SUBZONE_LABEL:
      return splitLocality(ep.locality ?? "").subZone || ep.labels[key];
    case TOPOLOGY_CLUSTER_LABEL:
      return DEFAULT_CLUSTER_ID;
    case HOSTNAME_LABEL:
      return ep.nodeName || ep.labels[key];
    default:
      return ep.labels[key];
  }
}

/** Istio's LocalityMatch: a rule locality (`region/zone/subzone`, `*` wildcards, trailing parts optional). */
export function localityMatches(proxy: Locality, rule: string): boolean {
  const r = splitLocality(rule);
  return (
    (r.region === "*" || proxy.region === r.region) &&
    (r.zone === "*" || r.zone === "" || proxy.zone === r.zone) &&
    (r.subZone === "*" || r.subZone === "" || proxy.subZone === r.subZone)
  );
}

/** Istio's LbPriority: 0 same region/zone/subzone, 1 same region/zone, 2 same region, 3 otherwise. */
export function localityPriority(proxy: Locality, endpoint: Locality): number {
  if (proxy.region !== endpoint.region) return 3;
  if (proxy.zone !== endpoint.zone) return 2;
  return proxy.subZone === endpoint.subZone ? 0 : 1;
}
