import type { StoredObject } from "../api/objects.js";
import type { Pod } from "../api/kube-types.js";
import { KindMap } from "../store/kind-map.js";
import { endpointWork } from "./endpoint-work.js";

/**
 * The Pods of a build by namespace, then by name and by address. Two levels keyed by the objects'
 * own strings rather than one keyed by `ns/name`: a string made per Pod and per lookup had to be
 * flattened and hashed each time (ten thousand Pods at 1000 services, every build), where the
 * objects' strings keep their hash. The addresses are indexed when first asked for: slices name
 * their Pods, so a build from scratch rarely looks one up by address.
 */
export class PodIndex {
  private ips: ReadonlyMap<string, ReadonlyMap<string, Pod>> | undefined;
  private ipsShared = false;

  constructor(
    /** The Pods indexed, in input order. */
    readonly pods: readonly StoredObject<Pod>[],
    readonly byName: ReadonlyMap<string, ReadonlyMap<string, Pod>>,
    /** Some name is two Pods' (the later one holds it); as `ipsShared`, for addresses (host-network Pods share their node's). */
    private readonly namesShared: boolean,
    ips?: { readonly byIp: ReadonlyMap<string, ReadonlyMap<string, Pod>>; readonly shared: boolean },
  ) {
    if (ips) {
      this.ips = ips.byIp;
      this.ipsShared = ips.shared;
    }
  }

  get byIp(): ReadonlyMap<string, ReadonlyMap<string, Pod>> {
    if (!this.ips) {
      const r = indexAddresses(this.pods);
      endpointWork.podKeysIndexed += r.keys;
      this.ips = r.byIp;
      this.ipsShared = r.shared;
    }
    return this.ips;
  }

  /**
   * This index for `pods`, which differ from its own Pods by `removed` and `added`: their keys
   * moved over it (versions share what did not change: kind-map.ts). Undefined when a key is
   * two Pods' (which one holds it depends on the order of all of them: index them whole). The
   * addresses are moved only when they were indexed; else they are left to be indexed when asked.
   */
  moved(pods: readonly StoredObject<Pod>[], removed: readonly Pod[], added: readonly Pod[]): { index: PodIndex; keys: number } | undefined {
    if (this.namesShared || (this.ips && this.ipsShared)) return undefined;
    const withIps = this.ips !== undefined;
    const moves = new Map<string, PodKeyMove>();
    for (const pod of removed) {
      forEachPodKey(pod, (kind, ns, k) => {
        if (kind === "n" || withIps) moves.set(podKey(kind, ns, k), { kind, ns, k, pod: undefined });
      });
    }
    let shared = false;
    for (const pod of added) {
      forEachPodKey(pod, (kind, ns, k) => {
        if (kind === "i" && !withIps) return;
        const key = podKey(kind, ns, k);
        const move = moves.get(key);
        const held = move ? move.pod : lookupPod(this, kind, ns, k);
        if (held !== undefined && held !== pod) shared = true;
        if (move) move.pod = pod;
        else moves.set(key, { kind, ns, k, pod });
      });
    }
    if (shared) return undefined;
    const names = new Map<string, [string, Pod | undefined][]>();
    const ips = new Map<string, [string, Pod | undefined][]>();
    for (const m of moves.values()) {
      const byNs = m.kind === "n" ? names : ips;
      const list = byNs.get(m.ns);
      if (list) list.push([m.k, m.pod]);
      else byNs.set(m.ns, [[m.k, m.pod]]);
    }
    const byIp = this.ips ? { byIp: versioned(this.ips, ips), shared: false } : undefined;
    return { index: new PodIndex(pods, versioned(this.byName, names), false, byIp), keys: moves.size };
  }
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

/** The index of `input` by name, from scratch, and how many keys it holds. */
export function indexAllPods(input: readonly StoredObject<Pod>[]): { index: PodIndex; keys: number } {
  const byName = new Map<string, Map<string, Pod>>();
  let shared = false;
  // Pods come grouped by namespace (the store's order): the inner map changes rarely.
  let lastNs: string | undefined;
  let names = new Map<string, Pod>();
  let keys = 0;
  for (let i = 0; i < input.length; i++) {
    const pod = input[i]!.object;
    const ns = pod.metadata.namespace ?? "default";
    if (ns !== lastNs) {
      names = inner(byName, ns);
      lastNs = ns;
    }
    if (put(names, pod.metadata.name, pod)) shared = true;
  }
  for (const m of byName.values()) keys += m.size;
  return { index: new PodIndex(input, byName, shared), keys };
}

function indexAddresses(input: readonly StoredObject<Pod>[]): { byIp: ReadonlyMap<string, ReadonlyMap<string, Pod>>; shared: boolean; keys: number } {
  const byIp = new Map<string, Map<string, Pod>>();
  let shared = false;
  let lastNs: string | undefined;
  let ips = new Map<string, Pod>();
  for (let i = 0; i < input.length; i++) {
    const pod = input[i]!.object;
    const first = pod.status?.podIP;
    const all = pod.status?.podIPs;
    if (!first && !all?.length) continue;
    const ns = pod.metadata.namespace ?? "default";
    if (ns !== lastNs) {
      ips = inner(byIp, ns);
      lastNs = ns;
    }
    if (first && put(ips, first, pod)) shared = true;
    if (all) {
      for (let j = 0; j < all.length; j++) {
        const ip = all[j]!.ip;
        if (ip && ip !== first && put(ips, ip, pod)) shared = true;
      }
    }
  }
  let keys = 0;
  for (const m of byIp.values()) keys += m.size;
  return { byIp, shared, keys };
}

/** A key to set (a Pod) or delete (undefined). */
interface PodKeyMove {
  readonly kind: PodKeyKind;
  readonly ns: string;
  readonly k: string;
  pod: Pod | undefined;
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
