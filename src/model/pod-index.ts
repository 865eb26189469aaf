import type { StoredObject } from "../api/objects.js";
import type { Pod } from "../api/kube-types.js";
import { KindMap } from "../store/kind-map.js";

/**
 * The Pods of a build by namespace, then by name and by address. Two levels keyed by the objects'
 * own strings rather than one keyed by `ns/name`: a string made per Pod and per lookup had to be
 * flattened and hashed each time (ten thousand Pods at 1000 services, every build), where the
 * objects' strings keep their hash.
 */
export interface PodIndex {
  /** The Pods indexed, in input order. */
  readonly pods: readonly StoredObject<Pod>[];
  readonly byName: ReadonlyMap<string, ReadonlyMap<string, Pod>>;
  readonly byIp: ReadonlyMap<string, ReadonlyMap<string, Pod>>;
  /** Some key is two Pods' (host-network Pods share their node's address): the later one holds it. */
  readonly shared: boolean;
}

/** A Pod key's kind: by name or by address. */
export type PodKeyKind = "n" | "i";

/**
 * A Pod key as a string (`n:<ns>/<name>`, `i:<ns>/<ip>`): the form change sets and the services
 * that looked a key up are kept in. Made only where something changed, never per lookup.
 */
export const podKey = (kind: PodKeyKind, ns: string, k: string): string => `${kind}:${ns}/${k}`;

/** Each of a Pod's keys, once (podIPs[0] is podIP). */
export function forEachPodKey(pod: Pod, f: (kind: PodKeyKind, ns: string, k: string) => void): void {
  const ns = pod.metadata.namespace ?? "default";
  f("n", ns, pod.metadata.name);
  const first = pod.status?.podIP;
  if (first) f("i", ns, first);
  const ips = pod.status?.podIPs;
  if (ips) for (const { ip } of ips) if (ip && ip !== first) f("i", ns, ip);
}

export function podKeys(pod: Pod): string[] {
  const keys: string[] = [];
  forEachPodKey(pod, (kind, ns, k) => keys.push(podKey(kind, ns, k)));
  return keys;
}

export function lookupPod(index: PodIndex, kind: PodKeyKind, ns: string, k: string): Pod | undefined {
  return (kind === "n" ? index.byName : index.byIp).get(ns)?.get(k);
}

/** Sets `k` to `pod` in `m`; true when it held another Pod. */
function put(m: Map<string, Pod>, k: string, pod: Pod): boolean {
  const held = m.get(k);
  m.set(k, pod);
  return held !== undefined && held !== pod;
}

function inner(outer: Map<string, Map<string, Pod>>, ns: string): Map<string, Pod> {
  let m = outer.get(ns);
  if (!m) outer.set(ns, (m = new Map()));
  return m;
}

/** The index of `input`, from scratch, and how many keys it holds. */
export function indexAllPods(input: readonly StoredObject<Pod>[]): { index: PodIndex; keys: number } {
  const byName = new Map<string, Map<string, Pod>>();
  const byIp = new Map<string, Map<string, Pod>>();
  let shared = false;
  // Pods come grouped by namespace (the store's order): the inner maps change rarely.
  let lastNs: string | undefined;
  let names = new Map<string, Pod>();
  let ips = new Map<string, Pod>();
  for (let i = 0; i < input.length; i++) {
    const pod = input[i]!.object;
    const ns = pod.metadata.namespace ?? "default";
    if (ns !== lastNs) {
      names = inner(byName, ns);
      ips = inner(byIp, ns);
      lastNs = ns;
    }
    if (put(names, pod.metadata.name, pod)) shared = true;
    const first = pod.status?.podIP;
    if (first && put(ips, first, pod)) shared = true;
    const all = pod.status?.podIPs;
    if (all) for (const { ip } of all) if (ip && ip !== first && put(ips, ip, pod)) shared = true;
  }
  let keys = 0;
  for (const m of byName.values()) keys += m.size;
  for (const m of byIp.values()) keys += m.size;
  return { index: { pods: input, byName, byIp, shared }, keys };
}

/** A key to set (a Pod) or delete (undefined). */
export interface PodKeyMove {
  readonly kind: PodKeyKind;
  readonly ns: string;
  readonly k: string;
  pod: Pod | undefined;
}

/** `index` with `moves` laid over it (versions share what did not change: kind-map.ts). */
export function withMoves(index: PodIndex, pods: readonly StoredObject<Pod>[], moves: Iterable<PodKeyMove>): PodIndex {
  const names = new Map<string, [string, Pod | undefined][]>();
  const ips = new Map<string, [string, Pod | undefined][]>();
  for (const m of moves) {
    const byNs = m.kind === "n" ? names : ips;
    const list = byNs.get(m.ns);
    if (list) list.push([m.k, m.pod]);
    else byNs.set(m.ns, [[m.k, m.pod]]);
  }
  return { pods, byName: versioned(index.byName, names), byIp: versioned(index.byIp, ips), shared: index.shared };
}

function versioned(
  outer: ReadonlyMap<string, ReadonlyMap<string, Pod>>,
  changes: ReadonlyMap<string, [string, Pod | undefined][]>,
): ReadonlyMap<string, ReadonlyMap<string, Pod>> {
  if (changes.size === 0) return outer;
  const edit = KindMap.edit(outer);
  for (const [ns, list] of changes) {
    const m = KindMap.edit(outer.get(ns) ?? new Map<string, Pod>());
    for (const [k, pod] of list) {
      if (pod === undefined) m.delete(k);
      else m.set(k, pod);
    }
    edit.set(ns, m.done());
  }
  return edit.done();
}
