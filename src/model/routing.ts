import type { Diagnostic } from "../api/diagnostics.js";
import { originOf } from "./gateway-api/origin.js";
import type { StoredObject } from "../api/objects.js";
import type { VirtualService } from "../api/istio-types.js";
import { entriesForHost, hostSpecificity, isExportedTo, memoIndex, type HostIndex } from "./hosts.js";
import { mergeDelegates } from "./delegation.js";
import type { VirtualServiceModel } from "./ir.js";
import { MESH_GATEWAY, resolveHost } from "./names.js";

export function buildVirtualServices(
  vss: readonly StoredObject<VirtualService>[],
  domain: string,
): { virtualServices: VirtualServiceModel[]; diagnostics: Diagnostic[] } {
  const virtualServices = vss.map(({ object }) => virtualServiceModel(object, domain));
  virtualServices.sort(byCreation);
  return mergeDelegates(virtualServices, domain);
}

/** Per input object (the store hands the same one while it is unchanged): its model, never mutated. */
const models = new WeakMap<VirtualService, { readonly domain: string; readonly model: VirtualServiceModel }>();

/** One VirtualService's model; the same object for the same input object, so that a build keeps it without comparing. */
function virtualServiceModel(vs: VirtualService, domain: string): VirtualServiceModel {
  const known = models.get(vs);
  if (known?.domain === domain) return known.model;
  const namespace = vs.metadata.namespace ?? "default";
  const origin = originOf(vs.metadata);
  const model: VirtualServiceModel = {
    name: vs.metadata.name,
    namespace,
    creationTimestamp: vs.metadata.creationTimestamp ?? "",
    hosts: (vs.spec.hosts ?? []).map((h) => resolveHost(h, namespace, domain)),
    gateways: vs.spec.gateways ?? [],
    exportTo: vs.spec.exportTo ?? [],
    http: vs.spec.http ?? [],
    routedHttp: vs.spec.http ?? [],
    tcp: vs.spec.tcp ?? [],
    tls: vs.spec.tls ?? [],
    ref: origin ?? { kind: "VirtualService", namespace, name: vs.metadata.name },
    ...(origin ? { gatewaySemantics: true } : {}),
  };
  models.set(vs, { domain, model });
  return model;
}

export function byCreation(
  a: { creationTimestamp: string; namespace: string; name: string },
  b: { creationTimestamp: string; namespace: string; name: string },
): number {
  if (a.creationTimestamp !== b.creationTimestamp) return a.creationTimestamp < b.creationTimestamp ? -1 : 1;
  return compareQualified(a.namespace, a.name, b.namespace, b.name);
}

/**
 * `${an}/${a}` against `${bn}/${b}` as strings compare (by UTF-16 code unit), without making
 * them: sorting a thousand objects of one creation time made two strings per comparison.
 */
export function compareQualified(an: string, a: string, bn: string, b: string): number {
  if (an === bn) return a < b ? -1 : a > b ? 1 : 0;
  const la = an.length + 1 + a.length;
  const lb = bn.length + 1 + b.length;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const x = i < an.length ? an.charCodeAt(i) : i === an.length ? SLASH : a.charCodeAt(i - an.length - 1);
    const y = i < bn.length ? bn.charCodeAt(i) : i === bn.length ? SLASH : b.charCodeAt(i - bn.length - 1);
    if (x !== y) return x < y ? -1 : 1;
  }
  return la < lb ? -1 : la > lb ? 1 : 0;
}

const SLASH = 0x2f;

/** Applies to sidecars: bound to no gateway, or to the `mesh` gateway. */
export function appliesToSidecars(vs: VirtualServiceModel): boolean {
  return vs.gateways.length === 0 || vs.gateways.includes(MESH_GATEWAY);
}

/**
 * The VirtualServices a sidecar in `namespace` sees, in Istio's import order: private to its own
 * namespace first, then exported to it by name, then public; each group by creation time.
 */
export function sidecarVirtualServices(all: readonly VirtualServiceModel[], namespace: string): VirtualServiceModel[] {
  // One pass into the three groups, each in the list's order: what a stable sort by group gives.
  const own: VirtualServiceModel[] = [];
  const named: VirtualServiceModel[] = [];
  const rest: VirtualServiceModel[] = [];
  for (const vs of all) {
    if (!appliesToSidecars(vs) || !isExportedTo(vs.exportTo, vs.namespace, namespace)) continue;
    if (vs.namespace === namespace && vs.exportTo.includes(".")) own.push(vs);
    else if (vs.exportTo.includes(namespace)) named.push(vs);
    else rest.push(vs);
  }
  return own.length === 0 && named.length === 0 ? rest : [...own, ...named, ...rest];
}

/**
 * The VirtualService that routes `host` for a sidecar: for sidecars Istio does not merge, so the
 * first (in import order) with the most specific matching host wins.
 */
export function virtualServiceForHost(ordered: readonly VirtualServiceModel[], host: string): VirtualServiceModel | undefined {
  let best: { vs: VirtualServiceModel; spec: number } | undefined;
  for (const { item: vs, pattern } of entriesForHost(
    memoIndex(hostIndexes, ordered, (vs) => vs.hosts),
    host,
  )) {
    const spec = hostSpecificity(pattern);
    if (!best || spec > best.spec) best = { vs, spec };
  }
  return best?.vs;
}

const hostIndexes = new WeakMap<readonly VirtualServiceModel[], HostIndex<VirtualServiceModel>>();
