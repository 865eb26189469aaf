/**
 * ClusterLoadAssignments as Istio builds them: endpoints grouped by locality (sorted by locality
 * label), each group weighted by the sum of its endpoints' weights, then — for the proxy asking —
 * locality load balancing (DestinationRule `localityLbSetting`, on by default in Istio's mesh
 * config): `distribute` rewrites the group weights; otherwise, when the policy has
 * outlierDetection (without it Envoy would never move off a lower priority), groups get
 * priorities: by `failoverPriority` labels, and/or by locality (0 same region/zone/subzone,
 * 1 same zone, 2 same region, 3 other regions, 4 regions `failover` does not name).
 */
import type { EndpointModel, MeshModel } from "../model/ir.js";
import type { ClusterPolicy } from "../model/parsed.js";
import { endpointLabel, localityMatches, localityPriority, splitLocality, topologyLabels, type Locality } from "../model/locality.js";
import type { ProxyView } from "../model/proxy.js";
import { isMeshMember } from "../model/identity.js";
import { ISTIO_TLS_MODE, TRANSPORT_SOCKET_MATCH_KEY } from "../model/names.js";
import { mtlsModeForPort, workloadMtls, type PeerAuthentications } from "../model/peer-authentication.js";
import type { JsonObject } from "@bufbuild/protobuf";
import type { ClusterLoadAssignmentJson, LbEndpointJson, LocalityLbEndpointsJson } from "./envoy.js";
import type { EdsTarget } from "./proxy.js";
import { assignmentBytes, istioWorkload, OWN_BYTES, type AssignmentGroup } from "./assignment-bytes.js";

type LocalityLbSetting = NonNullable<NonNullable<ClusterPolicy["loadBalancer"]>["localityLbSetting"]>;

/** What locality load balancing needs for one cluster and one proxy. */
export interface LocalityLb {
  readonly setting: LocalityLbSetting;
  /** The policy has outlierDetection: failover priorities apply. */
  readonly failover: boolean;
  readonly proxyLocality: Locality;
  /** The proxy's labels with its topology labels (failoverPriority matches on them). */
  readonly proxyLabels: Readonly<Record<string, string>>;
}

const NO_LOCALITY: Locality = { region: "", zone: "", subZone: "" };

/**
 * The locality load balancing of a cluster for `proxy`: the rule's `localityLbSetting`, else
 * Istio's mesh default (enabled, no distribute or failover); none when the rule disables it.
 */
export function localityLbFor(policy: ClusterPolicy | undefined, proxy: ProxyView): LocalityLb | undefined {
  const setting = policy?.loadBalancer?.localityLbSetting ?? MESH_DEFAULT;
  if (setting.enabled === false) return undefined;
  // One object per (view, setting, failover): every cluster of the view under the same setting
  // shares it, so what is keyed on its content (shared-endpoints.ts) is computed once per view.
  let bySetting = localityLbs.get(proxy);
  if (!bySetting) localityLbs.set(proxy, (bySetting = new WeakMap()));
  let both = bySetting.get(setting);
  if (!both) bySetting.set(setting, (both = {}));
  const failover = policy?.outlierDetection !== undefined;
  const key = failover ? "failover" : "plain";
  return (both[key] ??= { setting, failover, ...proxySide(proxy) });
}

const MESH_DEFAULT: LocalityLbSetting = { enabled: true };
const localityLbs = new WeakMap<ProxyView, WeakMap<LocalityLbSetting, { plain?: LocalityLb; failover?: LocalityLb }>>();
const proxySides = new WeakMap<ProxyView, Pick<LocalityLb, "proxyLocality" | "proxyLabels">>();

/** The proxy's locality and topology-labelled labels, computed once per view. */
function proxySide(proxy: ProxyView): Pick<LocalityLb, "proxyLocality" | "proxyLabels"> {
  let side = proxySides.get(proxy);
  if (!side) {
    const proxyLocality = proxy.locality ?? NO_LOCALITY;
    side = { proxyLocality, proxyLabels: topologyLabels(proxy.labels, [proxyLocality.region, proxyLocality.zone, proxyLocality.subZone].join("/"), undefined) };
    proxySides.set(proxy, side);
  }
  return side;
}

/**
 * Whether the cluster needs Envoy's locality-weighted load balancing: with `distribute`, or with
 * `failover`/`failoverPriority` when outlierDetection makes failover possible (as in Istio).
 */
export function usesLocalityWeights(policy: ClusterPolicy | undefined): boolean {
  const s = policy?.loadBalancer?.localityLbSetting;
  if (!s || s.enabled === false) return false;
  return Boolean(s.distribute?.length) || (policy?.outlierDetection !== undefined && Boolean(s.failover?.length || s.failoverPriority?.length));
}

/** Endpoints whose labels (with Istio's topology labels) include every subset label (no labels: all endpoints). */
export function selectEndpoints(endpoints: readonly EndpointModel[], labels: Readonly<Record<string, string>>): readonly EndpointModel[] {
  const keys = Object.keys(labels);
  // A port's own cluster selects them all: the list itself (never mutated), not a copy per view.
  if (keys.length === 0) return endpoints;
  // Loops, not filter/every: a closure per endpoint was most of what a subset's selection allocated.
  const out: EndpointModel[] = [];
  for (const ep of endpoints) {
    let i = 0;
    while (i < keys.length && endpointLabel(ep, keys[i]!) === labels[keys[i]!]) i++;
    if (i === keys.length) out.push(ep);
  }
  return out;
}

interface Group extends AssignmentGroup {
  weight: number;
  priority: number;
  emptied?: boolean;
}

/** What decides whether an endpoint is marked for mTLS. */
export interface EndpointTls {
  readonly peerAuthentications?: PeerAuthentications;
  /** The cluster's DestinationRule TLS mode, when the rule sets TLS. */
  readonly ruleMode?: string;
}

/**
 * Istio's per-endpoint mTLS decision: the rule's mode when it sets one (ISTIO_MUTUAL or not);
 * otherwise a mesh member whose own PeerAuthentication does not DISABLE mTLS on that port.
 */
function mtlsEndpoint(ep: EndpointModel, tls: EndpointTls | undefined): boolean {
  if (tls?.ruleMode !== undefined) return tls.ruleMode === "ISTIO_MUTUAL";
  if (!isMeshMember(ep)) return false;
  return mtlsModeForPort(workloadMtls(tls?.peerAuthentications, ep.namespace, ep.labels), ep.port) !== "DISABLE";
}

/**
 * An endpoint's JSON depends on the endpoint and its mTLS mark only: the clusters of a port and of
 * its subsets share one object per endpoint (never mutated), which halves the objects a view holds.
 */
const lbEndpoints = new WeakMap<EndpointModel, { plain?: LbEndpointJson; mtls?: LbEndpointJson }>();

function lbEndpoint(ep: EndpointModel, tls: EndpointTls | undefined): LbEndpointJson {
  const mtls = mtlsEndpoint(ep, tls);
  let both = lbEndpoints.get(ep);
  if (!both) lbEndpoints.set(ep, (both = {}));
  return mtls ? (both.mtls ??= lbEndpointJson(ep, true)) : (both.plain ??= lbEndpointJson(ep, false));
}

function lbEndpointJson(ep: EndpointModel, mtls: boolean): LbEndpointJson {
  const json: LbEndpointJson = {
    endpoint: { address: { socketAddress: { address: ep.address, portValue: ep.port } } },
    healthStatus: "HEALTHY",
    loadBalancingWeight: ep.weight ?? 1,
  };
  if (ep.podName || mtls) {
    const filterMetadata: Record<string, JsonObject> = {};
    if (mtls) filterMetadata[TRANSPORT_SOCKET_MATCH_KEY] = TLS_MODE_ISTIO;
    if (ep.podName) filterMetadata["istio"] = { workload: istioWorkload(ep as EndpointModel & { podName: string }) };
    json.metadata = { filterMetadata };
  }
  return json;
}

/** The transport socket match of an mTLS endpoint: one object for all of them. */
const TLS_MODE_ISTIO: JsonObject = Object.freeze({ tlsMode: ISTIO_TLS_MODE });

/** Istio's applyLocalityWeights: the first `distribute` entry whose `from` matches the proxy. */
function distribute(groups: Group[], lb: LocalityLb, rules: NonNullable<LocalityLbSetting["distribute"]>): void {
  const rule = rules.find((r) => r.from !== undefined && localityMatches(lb.proxyLocality, r.from));
  if (!rule) return;
  const unmatched = new Set(groups.map((_, i) => i));
  for (const to of Object.keys(rule.to ?? {}).sort()) {
    const weight = rule.to![to]!;
    const matched = [...unmatched].filter((i) => localityMatches(splitLocality(groups[i]!.locality), to));
    const total = matched.reduce((s, i) => s + groups[i]!.weight, 0);
    for (const i of matched) {
      unmatched.delete(i);
      const w = (groups[i]!.weight * weight) / total;
      if (w > 0) groups[i]!.weight = Math.ceil(w);
    }
  }
  for (const i of unmatched) groups[i]!.emptied = true;
}

/** Renumber priorities 0..n-1 without gaps, keeping their order. */
function compact(groups: Group[]): void {
  // A few groups with a few priorities: loops over them, not a Set and a sorted copy per assignment.
  const distinct: number[] = [];
  for (const g of groups) if (!distinct.includes(g.priority)) distinct.push(g.priority);
  if (distinct.length === 1 && distinct[0] === 0) return;
  distinct.sort((a, b) => a - b);
  for (const g of groups) g.priority = distinct.indexOf(g.priority);
}

/** The label keys of a failoverPriority list and the value each must have to match the proxy. */
interface FailoverWants {
  readonly keys: readonly string[];
  readonly values: readonly string[];
  readonly proxyHasLabels: boolean;
}

/** Per LocalityLb (one per view and setting): worked out once, not once per cluster. */
const failoverWants = new WeakMap<LocalityLb, FailoverWants>();

function wantsOf(lb: LocalityLb, labels: readonly string[]): FailoverWants {
  let w = failoverWants.get(lb);
  if (!w) {
    const keys = labels.map((l) => l.split("=")[0]!);
    const overrides = new Map(labels.filter((l) => l.split("=").length === 2).map((l) => l.split("=") as [string, string]));
    w = { keys, values: keys.map((k) => overrides.get(k) ?? lb.proxyLabels[k] ?? ""), proxyHasLabels: Object.keys(lb.proxyLabels).length > 0 };
    failoverWants.set(lb, w);
  }
  return w;
}

/** Istio's applyFailoverPriorities: split each group by how many of the labels (in order) match the proxy's. */
function failoverPriorities(groups: Group[], lb: LocalityLb, labels: readonly string[]): Group[] {
  const { keys, values, proxyHasLabels } = wantsOf(lb, labels);
  if (!proxyHasLabels) return groups;
  const out: Group[] = [];
  // Priorities run from 0 (every label matches) to keys.length: one list per priority, in order.
  const byPriority: (EndpointModel[] | undefined)[] = [];
  for (const g of groups) {
    for (const ep of g.endpoints) {
      let miss = 0;
      while (miss < keys.length && values[miss] === (endpointLabel(ep, keys[miss]!) ?? "")) miss++;
      const priority = miss === keys.length ? 0 : keys.length - miss;
      (byPriority[priority] ??= []).push(ep);
    }
    for (let p = 0; p < byPriority.length; p++) {
      const eps = byPriority[p];
      if (eps === undefined) continue;
      out.push({ locality: g.locality, endpoints: eps, weight: weightOf(eps), priority: p });
      byPriority[p] = undefined;
    }
  }
  compact(out);
  return out;
}

/** Istio's applyLocalityFailover: priority by locality distance, layered on any earlier priority. */
function localityFailover(groups: Group[], lb: LocalityLb, failover: NonNullable<LocalityLbSetting["failover"]>): void {
  for (const g of groups) {
    const loc = splitLocality(g.locality);
    let p = localityPriority(lb.proxyLocality, loc);
    if (p === 3) {
      const rule = failover.find((f) => f.from === lb.proxyLocality.region);
      if (rule && (g.locality === "" || loc.region !== rule.to)) p = 4;
    }
    g.priority = g.priority * 5 + p;
  }
  compact(groups);
}

function applyLocalityLb(groups: Group[], lb: LocalityLb): Group[] {
  const s = lb.setting;
  if (s.distribute?.length) {
    distribute(groups, lb, s.distribute);
    return groups;
  }
  if (!lb.failover) return groups;
  if (s.failoverPriority?.length) {
    const split = failoverPriorities(groups, lb, s.failoverPriority);
    if (s.failover?.length) localityFailover(split, lb, s.failover);
    return split;
  }
  localityFailover(groups, lb, s.failover ?? []);
  return groups;
}

/** One ClusterLoadAssignment, relative to the proxy when `lb` is given. */
export function clusterLoadAssignment(clusterName: string, endpoints: readonly EndpointModel[], lb?: LocalityLb, tls?: EndpointTls): ClusterLoadAssignmentJson {
  return { clusterName, endpoints: localitiesJson(assignmentGroups(endpoints, lb), tls) };
}

/** The endpoints by locality (sorted by label), weighed, with the proxy's locality load balancing when `lb` is given. */
function assignmentGroups(endpoints: readonly EndpointModel[], lb: LocalityLb | undefined): readonly Group[] {
  if (endpoints.length === 0) return [];
  // Usually one locality (or none) for all: one group over the list itself.
  const first = endpoints[0]!.locality ?? "";
  if (endpoints.every((ep) => (ep.locality ?? "") === first)) {
    const one: Group[] = [{ locality: first, endpoints, weight: weightOf(endpoints), priority: 0 }];
    return lb ? applyLocalityLb(one, lb) : one;
  }
  const byLocality = new Map<string, EndpointModel[]>();
  for (const ep of endpoints) {
    const key = ep.locality ?? "";
    const list = byLocality.get(key);
    if (list) list.push(ep);
    else byLocality.set(key, [ep]);
  }
  let groups: Group[] = [...byLocality.keys()].sort().map((locality) => {
    const eps = byLocality.get(locality)!;
    return { locality, endpoints: eps, weight: weightOf(eps), priority: 0 };
  });
  if (lb && groups.length) groups = applyLocalityLb(groups, lb);
  return groups;
}

function localitiesJson(groups: readonly Group[], tls: EndpointTls | undefined): LocalityLbEndpointsJson[] {
  // Built by assignment, in the order the JSON keeps: conditional spreads cost a temporary each.
  const localities: LocalityLbEndpointsJson[] = [];
  for (const g of groups) {
    const out: LocalityLbEndpointsJson = {};
    if (g.locality) out.locality = localityJson(g.locality);
    const lbEndpoints: LbEndpointJson[] = [];
    if (!g.emptied) for (const ep of g.endpoints) lbEndpoints.push(lbEndpoint(ep, tls));
    out.lbEndpoints = lbEndpoints;
    out.loadBalancingWeight = g.weight;
    if (g.priority) out.priority = g.priority;
    localities.push(out);
  }
  return localities;
}

/**
 * An EDS resource: its JSON `endpoints` made when first read (config dumps, tests), and its bytes
 * written from the groups (OWN_BYTES), which is all a push needs.
 */
function edsAssignment(clusterName: string, groups: readonly Group[], tls: EndpointTls | undefined): ClusterLoadAssignmentJson {
  let localities: LocalityLbEndpointsJson[] | undefined;
  const cla = {
    clusterName,
    get endpoints(): LocalityLbEndpointsJson[] {
      return (localities ??= localitiesJson(groups, tls));
    },
  };
  Object.defineProperty(cla, OWN_BYTES, { value: () => assignmentBytes(clusterName, groups, (ep) => mtlsEndpoint(ep, tls)) });
  return cla;
}

function weightOf(eps: readonly EndpointModel[]): number {
  let sum = 0;
  for (const ep of eps) sum += ep.weight ?? 1;
  return sum;
}

/** A locality label's JSON: a mesh has a few, shared (frozen) by every group of every assignment. */
function localityJson(label: string): NonNullable<LocalityLbEndpointsJson["locality"]> {
  let l = localityJsons.get(label);
  if (l === undefined) {
    const { region, zone, subZone } = splitLocality(label);
    const json: NonNullable<LocalityLbEndpointsJson["locality"]> = {};
    if (region) json.region = region;
    if (zone) json.zone = zone;
    if (subZone) json.subZone = subZone;
    l = Object.freeze(json);
    if (localityJsons.size >= MAX_LOCALITY_JSONS) localityJsons.clear();
    localityJsons.set(label, l);
  }
  return l;
}

const localityJsons = new Map<string, NonNullable<LocalityLbEndpointsJson["locality"]>>();
/** Bounded: labels come from user input. */
const MAX_LOCALITY_JSONS = 1000;

/** One EDS cluster's ClusterLoadAssignment from the model's endpoints. */
export function edsTargetEndpoints(target: EdsTarget, endpoints: MeshModel["endpoints"]): ClusterLoadAssignmentJson {
  const selected = selectEndpoints(endpoints.get(target.endpoints) ?? [], target.labels);
  return edsAssignment(target.cluster, assignmentGroups(selected, target.locality), target.tls);
}
