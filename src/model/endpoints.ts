import type { Diagnostic } from "../api/diagnostics.js";
import type { InputObject, StoredObject } from "../api/objects.js";
import type { EndpointSlice, Node, Pod } from "../api/kube-types.js";
import { SERVICE_NAME_LABEL } from "../api/kube-types.js";
import { KindMap } from "../store/kind-map.js";
import { endpointWork } from "./endpoint-work.js";
import { indexAllPods, lookupPod, podKey, podKeys, type PodIndex, type PodKeyKind } from "./pod-index.js";
import type { EndpointModel, ServiceModel } from "./ir.js";
import { endpointKey } from "./ir.js";
import { podLocality } from "./locality.js";
import { serviceFqdn } from "./names.js";

export { endpointWork };

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const sliceKey = (s: EndpointSlice): string => `${s.metadata.namespace}/${s.metadata.name}`;

/** Past this many objects added or removed, a change is worked out as a whole again. */
const diffLimit = (n: number): number => Math.max(64, n >> 2);

/**
 * The objects `next` adds to `prev` and removes from it (by identity), in one walk over both: the
 * store keeps unchanged objects as the same objects in the same relative order. An object that
 * moved anyway counts as removed and added, which is a change of nothing. Undefined past `limit`.
 */
function diffInOrder<T extends InputObject>(
  prev: readonly StoredObject<T>[],
  next: readonly StoredObject<T>[],
  limit: number,
): { removed: StoredObject<T>[]; added: StoredObject<T>[] } | undefined {
  const removed: StoredObject<T>[] = [];
  const added: StoredObject<T>[] = [];
  let i = 0;
  let j = 0;
  while (i < prev.length && j < next.length) {
    const p = prev[i]!;
    const n = next[j]!;
    if (p.object === n.object) {
      i++;
      j++;
      continue;
    }
    if (i + 1 < prev.length && prev[i + 1]!.object === n.object) {
      removed.push(p);
      i++;
    } else if (j + 1 < next.length && next[j + 1]!.object === p.object) {
      added.push(n);
      j++;
    } else {
      removed.push(p);
      added.push(n);
      i++;
      j++;
    }
    if (removed.length + added.length > limit) return undefined;
  }
  if (removed.length + added.length + (prev.length - i) + (next.length - j) > limit) return undefined;
  for (; i < prev.length; i++) removed.push(prev[i]!);
  for (; j < next.length; j++) added.push(next[j]!);
  return { removed, added };
}

/**
 * The Pod index, and the keys whose Pod may differ from `previous`'s: the keys of every Pod
 * added, removed or replaced (a key's Pod can change only through one of those). An endpoint-only
 * update usually finds the Pods identical and reuses the index as is; a few Pods replaced are laid
 * over it.
 */
function indexPods(input: readonly StoredObject<Pod>[], previous: PodIndex | undefined): { index: PodIndex; changed: ReadonlySet<string> } {
  const changed = new Set<string>();
  if (previous) {
    const diff = diffInOrder(previous.pods, input, diffLimit(previous.pods.length));
    if (diff && diff.removed.length === 0 && diff.added.length === 0) return { index: previous, changed };
    const removed = diff ? diff.removed.map((p) => p.object) : previous.pods.map((p) => p.object);
    const added = diff ? diff.added.map((p) => p.object) : input.map((p) => p.object);
    if (!diff) {
      // Worked out as a whole: the Pods of one side that the other lacks.
      const before = new Set(removed);
      const after = new Set(added);
      removed.splice(0, removed.length, ...[...before].filter((pod) => !after.has(pod)));
      added.splice(0, added.length, ...[...after].filter((pod) => !before.has(pod)));
    }
    for (const pod of [...added, ...removed]) for (const k of podKeys(pod)) changed.add(k);
    const moved = previous.moved(input, removed, added);
    if (moved) {
      endpointWork.podKeysIndexed += moved.keys;
      return { index: moved.index, changed };
    }
  }
  const { index, keys } = indexAllPods(input);
  endpointWork.podKeysIndexed += keys;
  return { index, changed };
}

/** One service's endpoints and what they were built from (so an unchanged service is reused as is). */
interface ServiceEndpoints {
  readonly svc: ServiceModel;
  /** Its slices, in key order. */
  readonly slices: readonly StoredObject<EndpointSlice>[];
  /**
   * Every Pod key looked up, found or not, as (kind, namespace, name or address) triples: a
   * change to any of them invalidates the entry. As strings (podKeysOf) only when a change asks.
   */
  readonly lookedUp: readonly string[];
  podKeys?: ReadonlySet<string>;
  readonly lists: ReadonlyMap<string, EndpointModel[]>;
  /** With the key of their slice (findings are reported in slice key order). */
  readonly diagnostics: readonly SliceDiagnostic[];
}

interface SliceDiagnostic {
  readonly slice: string;
  readonly d: Diagnostic;
}

/** What a later build needs to rebuild only the services whose slices or pods changed. */
export interface EndpointState {
  readonly pods: PodIndex;
  /** Nodes by name (their labels give endpoints their locality), in input order as `nodeList`. */
  readonly nodes: ReadonlyMap<string, Node>;
  readonly nodeList: readonly Node[];
  readonly byService: KindMap<string, ServiceEndpoints>;
  /** The services with slices (the keys of `byService`). */
  readonly hosts: ReadonlySet<string>;
  /** What the build was made of and gave: a later one changed a few slices or pods starts from it. */
  readonly slices: readonly StoredObject<EndpointSlice>[];
  readonly services: ReadonlyMap<string, ServiceModel>;
  readonly domain: string;
  readonly endpoints: ReadonlyMap<string, EndpointModel[]>;
  /** In slice key order, with the service of each. */
  readonly diagnostics: readonly (SliceDiagnostic & { readonly host: string })[];
  /** The services that looked each Pod key up; made when a change first needs it. */
  podKeyHosts?: KindMap<string, readonly string[]>;
}

/** The Pod keys `se` looked up, as strings. */
function podKeysOf(se: ServiceEndpoints): ReadonlySet<string> {
  if (se.podKeys) return se.podKeys;
  const keys = new Set<string>();
  const l = se.lookedUp;
  for (let i = 0; i < l.length; i += 3) keys.add(podKey(l[i] as PodKeyKind, l[i + 1]!, l[i + 2]!));
  return (se.podKeys = keys);
}

/** The Pod of key (kind, ns, k), the key noted in `lookedUp`. */
function lookup(pods: PodIndex, lookedUp: string[], kind: PodKeyKind, ns: string, k: string): Pod | undefined {
  endpointWork.podLookups++;
  lookedUp.push(kind, ns, k);
  return lookupPod(pods, kind, ns, k);
}

/**
 * The Pod of each of a slice's endpoints that names one (null when that Pod is not known:
 * reported when `report`, and the endpoint left out), undefined for one that names none or is not
 * ready (those are skipped before their Pod is read).
 */
function slicePods(
  stored: StoredObject<EndpointSlice>,
  ns: string,
  report: boolean,
  pods: PodIndex,
  lookedUp: string[],
  diagnostics: SliceDiagnostic[],
): (Pod | null | undefined)[] {
  const { object: slice, source } = stored;
  const eps = slice.endpoints ?? [];
  const out = new Array<Pod | null | undefined>(eps.length);
  for (let ei = 0; ei < eps.length; ei++) {
    const ep = eps[ei]!;
    if (ep.conditions?.ready === false || ep.conditions?.terminating === true) continue;
    const ref = ep.targetRef;
    if (ref?.kind !== "Pod" || !ref.name) continue;
    const pod = lookup(pods, lookedUp, "n", ref.namespace ?? ns, ref.name);
    out[ei] = pod ?? null;
    if (!pod && report) {
      diagnostics.push({
        slice: sliceKey(slice),
        d: {
          severity: "warning",
          code: "MP0201",
          message: `endpoint targetRef names Pod ${ref.namespace ?? ns}/${ref.name}, which is not known; its addresses are left out until the Pod appears`,
          object: { kind: "EndpointSlice", namespace: ns, name: slice.metadata.name },
          path: `endpoints[${ei}].targetRef`,
          ...(source ? { source } : {}),
        },
      });
    }
  }
  return out;
}

/** The port of `slice` named as `name` ("" for none). */
function slicePort(slice: EndpointSlice, name: string): number | undefined {
  const ports = slice.ports;
  if (ports) for (let i = 0; i < ports.length; i++) if ((ports[i]!.name ?? "") === name) return ports[i]!.port;
  return undefined;
}

const byAddressAndPort = (a: EndpointModel, b: EndpointModel): number => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port);

/**
 * `localities`: each Node's locality, for the next Pod on it (Node labels give most endpoints
 * theirs: one string per Node, not one per endpoint), shared by the services of one build.
 */
function buildService(
  svc: ServiceModel,
  slices: readonly StoredObject<EndpointSlice>[],
  pods: PodIndex,
  nodes: ReadonlyMap<string, Node>,
  localities: Map<string, string>,
): ServiceEndpoints {
  endpointWork.servicesBuilt++;
  const lists = new Map<string, EndpointModel[]>();
  const lookedUp: string[] = [];
  const diagnostics: SliceDiagnostic[] = [];
  const ports = svc.ports;
  for (const stored of slices) {
    const slice = stored.object;
    const ns = slice.metadata.namespace ?? "default";
    const sliceEndpoints = slice.endpoints ?? [];
    // Each endpoint's Pod, looked up once for all ports (null: it names a Pod not known, and is
    // left out; undefined: no targetRef, each address finds its Pod by IP).
    let owners: (Pod | null | undefined)[] | undefined;
    for (let pi = 0; pi < ports.length; pi++) {
      const sp = ports[pi]!;
      const portNumber = slicePort(slice, sp.name ?? "") ?? (typeof sp.targetPort === "number" ? sp.targetPort : undefined);
      if (portNumber === undefined) continue;
      const key = endpointKey(svc.hostname, sp.port);
      const list = lists.get(key) ?? [];
      owners ??= slicePods(stored, ns, pi === 0, pods, lookedUp, diagnostics);
      for (let ei = 0; ei < sliceEndpoints.length; ei++) {
        const pod = owners[ei];
        if (pod === null) continue;
        const ep = sliceEndpoints[ei]!;
        if (ep.conditions?.ready === false || ep.conditions?.terminating === true) continue;
        for (const address of ep.addresses) {
          const owner = pod ?? lookup(pods, lookedUp, "i", ns, address);
          // Built by assignment: a mesh has tens of thousands of these, and each spread of an
          // optional part would be a temporary object more for the collector.
          const endpoint: Mutable<EndpointModel> = { address, port: portNumber, labels: owner?.metadata.labels ?? NO_LABELS, namespace: ns };
          if (owner) {
            endpoint.podName = owner.metadata.name;
            // The apiserver gives every Pod a ServiceAccount ("default" unless named).
            endpoint.serviceAccount = owner.spec?.serviceAccountName || "default";
            const locality = podLocality(owner, nodes, localities);
            if (locality) endpoint.locality = locality;
            const nodeName = owner.spec?.nodeName;
            if (nodeName) endpoint.nodeName = nodeName;
          }
          list.push(endpoint);
        }
      }
      lists.set(key, list);
    }
  }
  for (const list of lists.values()) list.sort(byAddressAndPort);
  return { svc, slices, lookedUp, lists, diagnostics };
}

function reusable(
  prev: ServiceEndpoints | undefined,
  svc: ServiceModel,
  slices: readonly StoredObject<EndpointSlice>[],
  changedPods: ReadonlySet<string>,
): prev is ServiceEndpoints {
  if (!prev || prev.svc !== svc || prev.slices.length !== slices.length) return false;
  if (!slices.every((s, i) => s.object === prev.slices[i]!.object)) return false;
  if (changedPods.size) for (const k of podKeysOf(prev)) if (changedPods.has(k)) return false;
  return true;
}

/** The service an EndpointSlice belongs to, if it is one of `services` (FQDN slices are not read). */
function serviceOf(slice: EndpointSlice, services: ReadonlyMap<string, ServiceModel>, domain: string): ServiceModel | undefined {
  if (slice.addressType === "FQDN") return undefined;
  const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return svcName ? services.get(serviceFqdn(svcName, slice.metadata.namespace ?? "default", domain)) : undefined;
}

const byKeyOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type EndpointsResult = { endpoints: Map<string, EndpointModel[]>; diagnostics: Diagnostic[]; state: EndpointState; changedHosts: Set<string> };

/**
 * Ready endpoints per service port, with the labels of the Pod behind each address (the labels
 * DestinationRule subsets select on). As in Istio, an address whose targetRef names a Pod that is
 * not known yet is left out until the Pod appears, and not-ready or terminating endpoints are not sent.
 *
 * With `previous` (the state of the last build, over the same ServiceModel objects), a service
 * whose slices and pods are the same objects as then keeps its endpoint lists: the same arrays,
 * so later stages can tell by identity what did not change (the EDS fast path). When `services`
 * and the Nodes are those of `previous` too, only the services of the slices and Pods that
 * changed are looked at: an endpoint change costs what it touched.
 */
export function buildEndpoints(
  slices: readonly StoredObject<EndpointSlice>[],
  pods: readonly StoredObject<Pod>[],
  services: ReadonlyMap<string, ServiceModel>,
  domain: string,
  previous?: EndpointState,
  nodeObjects: readonly StoredObject<Node>[] = [],
): EndpointsResult {
  const { index: podIndex, changed: changedPods } = indexPods(pods, previous?.pods);
  // Node labels change rarely; when any Node changed, every service is rebuilt (locality may differ).
  const sameNodes = previous !== undefined && nodeObjects.length === previous.nodeList.length && nodeObjects.every((n, i) => n.object === previous.nodeList[i]);
  if (sameNodes && previous.services === services && previous.domain === domain) {
    const changed = buildChanged(previous, slices, podIndex, changedPods);
    if (changed) return changed;
  }
  const nodeList = sameNodes ? previous.nodeList : nodeObjects.map((n) => n.object);
  const nodes = sameNodes ? previous.nodes : new Map(nodeList.map((n) => [n.metadata.name, n]));
  endpointWork.slicesGrouped += slices.length;
  const sorted = slices
    .map((slice) => ({ slice, key: sliceKey(slice.object) }))
    .sort((a, b) => byKeyOrder(a.key, b.key))
    .map((x) => x.slice);
  const slicesOf = new Map<ServiceModel, StoredObject<EndpointSlice>[]>();
  for (const slice of sorted) {
    const svc = serviceOf(slice.object, services, domain);
    if (!svc) continue;
    const list = slicesOf.get(svc);
    if (list) list.push(slice);
    else slicesOf.set(svc, [slice]);
  }
  const byService = new Map<string, ServiceEndpoints>();
  const localities = new Map<string, string>();
  // Services whose endpoint lists are not the previous build's arrays (all of them without one).
  const changedHosts = new Set<string>();
  const endpoints = new Map<string, EndpointModel[]>();
  const diagnostics: (SliceDiagnostic & { host: string })[] = [];
  for (const [svc, own] of slicesOf) {
    const prev = previous?.byService.get(svc.hostname);
    const reuse = sameNodes && reusable(prev, svc, own, changedPods);
    const built = reuse ? prev! : buildService(svc, own, podIndex, nodes, localities);
    if (!reuse) changedHosts.add(svc.hostname);
    byService.set(svc.hostname, built);
    for (const [k, list] of built.lists) endpoints.set(k, list);
    for (const d of built.diagnostics) diagnostics.push({ ...d, host: svc.hostname });
  }
  for (const host of previous?.hosts ?? []) if (!byService.has(host)) changedHosts.add(host);
  // Report in slice order, as a single pass over the sorted slices would.
  diagnostics.sort((a, b) => byKeyOrder(a.slice, b.slice));
  const state: EndpointState = {
    pods: podIndex,
    nodes,
    nodeList,
    byService: KindMap.of(byService),
    hosts: new Set(byService.keys()),
    slices,
    services,
    domain,
    endpoints,
    diagnostics,
  };
  return { endpoints, diagnostics: diagnostics.map((x) => x.d), state, changedHosts };
}

/**
 * The build after a few slices or Pods changed under the same services and Nodes: the services of
 * those slices, and those that looked up a changed Pod key, are built again; the rest is
 * `previous`'s. Undefined when the change is not of that kind: too many objects, a service gaining
 * its first slice or losing its last, or its endpoint keys changing (the whole walk then keeps the
 * order of services and findings).
 */
function buildChanged(
  previous: EndpointState,
  slices: readonly StoredObject<EndpointSlice>[],
  podIndex: PodIndex,
  changedPods: ReadonlySet<string>,
): EndpointsResult | undefined {
  const { services, domain } = previous;
  const diff = diffInOrder(previous.slices, slices, diffLimit(previous.slices.length));
  if (!diff) return undefined;
  const touched = new Map<string, { readonly svc: ServiceModel; readonly removed: Set<EndpointSlice>; readonly added: StoredObject<EndpointSlice>[] }>();
  const touch = (svc: ServiceModel): { removed: Set<EndpointSlice>; added: StoredObject<EndpointSlice>[] } => {
    let t = touched.get(svc.hostname);
    if (!t) touched.set(svc.hostname, (t = { svc, removed: new Set(), added: [] }));
    return t;
  };
  for (const s of diff.removed) {
    const svc = serviceOf(s.object, services, domain);
    if (svc) touch(svc).removed.add(s.object);
  }
  for (const s of diff.added) {
    const svc = serviceOf(s.object, services, domain);
    if (svc) touch(svc).added.push(s);
  }
  if (changedPods.size > 0) {
    const podKeyHosts = (previous.podKeyHosts ??= indexPodKeyHosts(previous));
    for (const k of changedPods) {
      for (const host of podKeyHosts.get(k) ?? []) {
        const svc = services.get(host);
        if (svc) touch(svc);
      }
    }
  }
  const endpoints = touched.size ? new Map(previous.endpoints) : (previous.endpoints as Map<string, EndpointModel[]>);
  const rebuilt: [string, ServiceEndpoints][] = [];
  const localities = new Map<string, string>();
  const hostsEdits = new Map<string, string[]>();
  const hostsOf = (k: string): string[] => {
    let hosts = hostsEdits.get(k);
    if (!hosts) hostsEdits.set(k, (hosts = [...(previous.podKeyHosts?.get(k) ?? [])]));
    return hosts;
  };
  let findings = false;
  for (const [host, { svc, removed, added }] of touched) {
    const prev = previous.byService.get(host);
    if (!prev) return undefined;
    const own = removed.size ? prev.slices.filter((s) => !removed.has(s.object)) : [...prev.slices];
    for (const s of added) {
      const key = sliceKey(s.object);
      const at = own.findIndex((o) => byKeyOrder(sliceKey(o.object), key) > 0);
      own.splice(at < 0 ? own.length : at, 0, s);
    }
    if (own.length === 0) return undefined;
    const built = buildService(svc, own, podIndex, previous.nodes, localities);
    const keys = [...built.lists.keys()];
    if (keys.length !== prev.lists.size || [...prev.lists.keys()].some((k, i) => k !== keys[i])) return undefined;
    for (const [k, list] of built.lists) endpoints.set(k, list);
    rebuilt.push([host, built]);
    findings ||= prev.diagnostics.length > 0 || built.diagnostics.length > 0;
    if (previous.podKeyHosts) {
      for (const k of podKeysOf(prev)) {
        const hosts = hostsOf(k);
        const at = hosts.indexOf(host);
        if (at >= 0) hosts.splice(at, 1);
      }
      for (const k of podKeysOf(built)) hostsOf(k).push(host);
    }
  }
  let diagnostics = previous.diagnostics;
  if (findings) {
    const next = diagnostics.filter((d) => !touched.has(d.host));
    for (const [host, built] of rebuilt) for (const d of built.diagnostics) next.push({ ...d, host });
    diagnostics = next.sort((a, b) => byKeyOrder(a.slice, b.slice));
  }
  const state: EndpointState = {
    ...previous,
    pods: podIndex,
    byService: rebuilt.length ? previous.byService.with(rebuilt) : previous.byService,
    slices,
    endpoints,
    diagnostics,
    ...(previous.podKeyHosts ? { podKeyHosts: previous.podKeyHosts.with([...hostsEdits].map(([k, hosts]) => [k, hosts.length ? hosts : undefined])) } : {}),
  };
  return { endpoints, diagnostics: diagnostics.map((x) => x.d), state, changedHosts: new Set(touched.keys()) };
}

/**
 * Work out ahead what a Pod change of `state` looks up (which services read each Pod key): made
 * when the first such change needs it, it cost that change ~15 ms at 1000 services. A no-op when
 * it is there already (an endpoint change carries it on to the next state).
 */
export function prepareEndpointChanges(state: EndpointState): void {
  state.podKeyHosts ??= indexPodKeyHosts(state);
}

/** Which services looked up each Pod key, over every service of `state`. */
function indexPodKeyHosts(state: EndpointState): KindMap<string, readonly string[]> {
  endpointWork.podKeyHostIndexes++;
  const out = new Map<string, string[]>();
  for (const host of state.hosts) {
    for (const k of podKeysOf(state.byService.get(host)!)) {
      const hosts = out.get(k);
      if (hosts) hosts.push(host);
      else out.set(k, [host]);
    }
  }
  return KindMap.of(out);
}
