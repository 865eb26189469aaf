import type { Diagnostic } from "../api/diagnostics.js";
import type { StoredObject } from "../api/objects.js";
import type { EndpointSlice, Node, Pod } from "../api/kube-types.js";
import { SERVICE_NAME_LABEL } from "../api/kube-types.js";
import type { EndpointModel, ServiceModel } from "./ir.js";
import { endpointKey } from "./ir.js";
import { podTopology } from "./locality.js";
import { serviceFqdn } from "./names.js";

interface PodIndex {
  /** The Pods indexed, in input order. */
  readonly pods: readonly Pod[];
  /** `n:<ns>/<name>` and `i:<ns>/<ip>` → the Pod. */
  readonly byKey: ReadonlyMap<string, Pod>;
  /** Some key is two Pods' (host-network Pods share their node's address): the later one holds it. */
  readonly shared: boolean;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

const nameKey = (ns: string, name: string): string => `n:${ns}/${name}`;
const ipKey = (ns: string, ip: string): string => `i:${ns}/${ip}`;

function podKeys(pod: Pod): string[] {
  const ns = pod.metadata.namespace ?? "default";
  const keys = [nameKey(ns, pod.metadata.name)];
  const first = pod.status?.podIP;
  if (first) keys.push(ipKey(ns, first));
  // podIPs[0] is podIP: each key once.
  for (const { ip } of pod.status?.podIPs ?? []) if (ip && ip !== first) keys.push(ipKey(ns, ip));
  return keys;
}

/**
 * The Pod index, and the keys whose Pod may differ from `previous`'s: the keys of every Pod
 * added, removed or replaced (a key's Pod can change only through one of those). The store keeps
 * unchanged objects as the same objects in the same order, so an endpoint-only update usually
 * finds the Pods identical and reuses the index as is.
 */
function indexPods(input: readonly StoredObject<Pod>[], previous: PodIndex | undefined): { index: PodIndex; changed: ReadonlySet<string> } {
  const pods = input.map((p) => p.object);
  if (previous && pods.length === previous.pods.length && pods.every((p, i) => p === previous.pods[i])) return { index: previous, changed: new Set() };
  const changed = new Set<string>();
  if (previous) {
    const before = new Set(previous.pods);
    const after = new Set(pods);
    const added = pods.filter((pod) => !before.has(pod));
    const removed = previous.pods.filter((pod) => !after.has(pod));
    for (const pod of [...added, ...removed]) for (const k of podKeys(pod)) changed.add(k);
    // A Pod replaced: the previous index with its keys moved, unless a key is two Pods' (which
    // one holds it depends on the order of all of them; then the index is made whole).
    if (!previous.shared) {
      const byKey = new Map(previous.byKey);
      for (const pod of removed) for (const k of podKeys(pod)) byKey.delete(k);
      let shared = false;
      for (const pod of added) for (const k of podKeys(pod)) shared = setKey(byKey, k, pod) || shared;
      if (!shared) return { index: { pods, byKey, shared }, changed };
    }
  }
  const byKey = new Map<string, Pod>();
  let shared = false;
  for (const pod of pods) for (const k of podKeys(pod)) shared = setKey(byKey, k, pod) || shared;
  return { index: { pods, byKey, shared }, changed };
}

/** Sets `k` to `pod`; true when another Pod held it. */
function setKey(byKey: Map<string, Pod>, k: string, pod: Pod): boolean {
  const held = byKey.get(k);
  byKey.set(k, pod);
  return held !== undefined && held !== pod;
}

/** One service's endpoints and what they were built from (so an unchanged service is reused as is). */
interface ServiceEndpoints {
  readonly svc: ServiceModel;
  readonly slices: readonly EndpointSlice[];
  /** Every Pod key looked up, found or not: a change to any of them invalidates the entry. */
  readonly podKeys: ReadonlySet<string>;
  readonly lists: ReadonlyMap<string, EndpointModel[]>;
  /** With the index of their slice in `slices` (positions among all slices change between builds). */
  readonly diagnostics: readonly { readonly slice: number; readonly d: Diagnostic }[];
}

/** What a later build needs to rebuild only the services whose slices or pods changed. */
export interface EndpointState {
  readonly pods: PodIndex;
  /** Nodes by name (their labels give endpoints their locality), in input order as `nodeList`. */
  readonly nodes: ReadonlyMap<string, Node>;
  readonly nodeList: readonly Node[];
  readonly byService: ReadonlyMap<string, ServiceEndpoints>;
}

interface SliceAt {
  readonly slice: StoredObject<EndpointSlice>;
  readonly at: number;
}

function buildService(svc: ServiceModel, slices: readonly SliceAt[], pods: PodIndex, nodes: ReadonlyMap<string, Node>): ServiceEndpoints {
  const lists = new Map<string, EndpointModel[]>();
  const podKeys = new Set<string>();
  const diagnostics: { slice: number; d: Diagnostic }[] = [];
  const lookup = (key: string): Pod | undefined => {
    podKeys.add(key);
    return pods.byKey.get(key);
  };
  for (const [si, { slice: stored }] of slices.entries()) {
    const { object: slice, source } = stored;
    const ns = slice.metadata.namespace ?? "default";
    const ref = { kind: "EndpointSlice", namespace: ns, name: slice.metadata.name };
    for (const sp of svc.ports) {
      const slicePort = (slice.ports ?? []).find((p) => (p.name ?? "") === (sp.name ?? ""));
      const portNumber = slicePort?.port ?? (typeof sp.targetPort === "number" ? sp.targetPort : undefined);
      if (portNumber === undefined) continue;
      const key = endpointKey(svc.hostname, sp.port);
      const list = lists.get(key) ?? [];
      for (const [ei, ep] of (slice.endpoints ?? []).entries()) {
        if (ep.conditions?.ready === false || ep.conditions?.terminating === true) continue;
        let pod: Pod | undefined;
        if (ep.targetRef?.kind === "Pod" && ep.targetRef.name) {
          pod = lookup(nameKey(ep.targetRef.namespace ?? ns, ep.targetRef.name));
          if (!pod) {
            if (sp === svc.ports[0]) {
              diagnostics.push({
                slice: si,
                d: {
                  severity: "warning",
                  code: "MP0201",
                  message: `endpoint targetRef names Pod ${ep.targetRef.namespace ?? ns}/${ep.targetRef.name}, which is not known; its addresses are left out until the Pod appears`,
                  object: ref,
                  path: `endpoints[${ei}].targetRef`,
                  ...(source ? { source } : {}),
                },
              });
            }
            continue;
          }
        }
        for (const address of ep.addresses) {
          const owner = pod ?? lookup(ipKey(ns, address));
          list.push({
            address,
            port: portNumber,
            labels: owner?.metadata.labels ?? NO_LABELS,
            namespace: ns,
            // The apiserver gives every Pod a ServiceAccount ("default" unless named).
            ...(owner ? { podName: owner.metadata.name, serviceAccount: owner.spec?.serviceAccountName || "default" } : {}),
            ...podTopology(owner, nodes),
          });
        }
      }
      lists.set(key, list);
    }
  }
  for (const list of lists.values()) list.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  return { svc, slices: slices.map((s) => s.slice.object), podKeys, lists, diagnostics };
}

function reusable(
  prev: ServiceEndpoints | undefined,
  svc: ServiceModel,
  slices: readonly SliceAt[],
  changedPods: ReadonlySet<string>,
): prev is ServiceEndpoints {
  if (!prev || prev.svc !== svc || prev.slices.length !== slices.length) return false;
  if (!slices.every((s, i) => s.slice.object === prev.slices[i])) return false;
  for (const k of prev.podKeys) if (changedPods.has(k)) return false;
  return true;
}

/**
 * Ready endpoints per service port, with the labels of the Pod behind each address (the labels
 * DestinationRule subsets select on). As in Istio, an address whose targetRef names a Pod that is
 * not known yet is left out until the Pod appears, and not-ready or terminating endpoints are not sent.
 *
 * With `previous` (the state of the last build, over the same ServiceModel objects), a service
 * whose slices and pods are the same objects as then keeps its endpoint lists: the same arrays,
 * so later stages can tell by identity what did not change (the EDS fast path).
 */
export function buildEndpoints(
  slices: readonly StoredObject<EndpointSlice>[],
  pods: readonly StoredObject<Pod>[],
  services: ReadonlyMap<string, ServiceModel>,
  domain: string,
  previous?: EndpointState,
  nodeObjects: readonly StoredObject<Node>[] = [],
): { endpoints: Map<string, EndpointModel[]>; diagnostics: Diagnostic[]; state: EndpointState; changedHosts: Set<string> } {
  const { index: podIndex, changed: changedPods } = indexPods(pods, previous?.pods);
  // Node labels change rarely; when any Node changed, every service is rebuilt (locality may differ).
  const nodeList = nodeObjects.map((n) => n.object);
  const sameNodes = previous !== undefined && nodeList.length === previous.nodeList.length && nodeList.every((n, i) => n === previous.nodeList[i]);
  const nodes = sameNodes ? previous.nodes : new Map(nodeList.map((n) => [n.metadata.name, n]));
  const sorted = slices
    .map((slice) => ({ slice, key: `${slice.object.metadata.namespace}/${slice.object.metadata.name}` }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.slice);
  const slicesOf = new Map<ServiceModel, SliceAt[]>();
  sorted.forEach((slice, at) => {
    const s = slice.object;
    if (s.addressType === "FQDN") return;
    const svcName = s.metadata.labels?.[SERVICE_NAME_LABEL];
    const svc = svcName ? services.get(serviceFqdn(svcName, s.metadata.namespace ?? "default", domain)) : undefined;
    if (!svc) return;
    const list = slicesOf.get(svc);
    if (list) list.push({ slice, at });
    else slicesOf.set(svc, [{ slice, at }]);
  });
  const byService = new Map<string, ServiceEndpoints>();
  // Services whose endpoint lists are not the previous build's arrays (all of them without one).
  const changedHosts = new Set<string>();
  const endpoints = new Map<string, EndpointModel[]>();
  const diagnostics: { at: number; d: Diagnostic }[] = [];
  for (const [svc, own] of slicesOf) {
    const prev = previous?.byService.get(svc.hostname);
    const reuse = sameNodes && reusable(prev, svc, own, changedPods);
    const built = reuse ? prev! : buildService(svc, own, podIndex, nodes);
    if (!reuse) changedHosts.add(svc.hostname);
    byService.set(svc.hostname, built);
    for (const [k, list] of built.lists) endpoints.set(k, list);
    for (const { slice, d } of built.diagnostics) diagnostics.push({ at: own[slice]!.at, d });
  }
  for (const host of previous?.byService.keys() ?? []) if (!byService.has(host)) changedHosts.add(host);
  // Report in slice order, as a single pass over the sorted slices would.
  diagnostics.sort((a, b) => a.at - b.at);
  return { endpoints, diagnostics: diagnostics.map((x) => x.d), state: { pods: podIndex, nodes, nodeList, byService }, changedHosts };
}
