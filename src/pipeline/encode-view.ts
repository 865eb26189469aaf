// One proxy view's translated resources (Envoy JSON) → encoded resource maps, one per xDS type.
// Shared by the control plane, the golden tests and the bench so that all three encode the same
// set of types the same way.
import type { ProxyResources } from "../translate/proxy.js";
import { encodeResources } from "../xds/encode.js";
import type { EncodeCache } from "../xds/encode-cache.js";
import { encodeRoutes, encodeVirtualHostSteps } from "../xds/route-delivery.js";
import type { ResourceMap } from "../xds/snapshot.js";
import { TYPE_URL, type TypeUrl } from "../xds/type-urls.js";

type Named = { readonly name?: string; readonly clusterName?: string };

/** Per encoded map, the list it was encoded from: a translation that kept the list (a route edit's clusters) is not looked through. */
const encodedFrom = new WeakMap<ResourceMap, readonly Named[]>();

/**
 * Encode one type's resources, each named by its own `name` (or a CLA's `clusterName`). With
 * `remember` off the map does not keep `items` (for a list never given again: the map would hold
 * its JSON as long as it lives).
 */
export function encodeNamed(t: TypeUrl, items: readonly Named[], previous?: ResourceMap, shared?: EncodeCache, remember = true): ResourceMap {
  if (previous && encodedFrom.get(previous) === items) return previous;
  // Item for item what the last build encoded (known by identity): the previous map, without
  // making another of thousands of entries only to find it equal.
  const out =
    previous && shared && previous.size === items.length && encodedAsBefore(items, previous, shared)
      ? previous
      : encodeResources(
          t,
          items.map((json) => ({ name: (json.name ?? json.clusterName)!, json })),
          previous,
          shared,
        );
  if (remember) encodedFrom.set(out, items);
  return out;
}

/** Counts for tests: items compared with the previous map's resources (encodedAsBefore). */
export const encodeViewStats = { compared: 0 };

/** Is each item, in order, the JSON the resource of `previous` at its place was encoded from? */
function encodedAsBefore(items: readonly Named[], previous: ResourceMap, shared: EncodeCache): boolean {
  let i = 0;
  for (const [name, r] of previous) {
    encodeViewStats.compared++;
    const item = items[i++]!;
    if (shared.ofJson(item) !== r || (item.name ?? item.clusterName) !== name) return false;
  }
  return true;
}

/**
 * Every type of a view. `previous` (the view's last maps) lets unchanged resources keep their
 * encoded bytes and versions; `shared` lets views share what they hold alike. `endpoints`: the
 * view's EDS map when the caller knows it holds `r`'s ClusterLoadAssignments already (kept up to
 * date by the EDS fast path), so they are neither made nor compared. Throws, naming the
 * resource, on JSON Envoy's schema rejects.
 */
export function encodeProxyResources(
  r: ProxyResources,
  previous?: ReadonlyMap<TypeUrl, ResourceMap>,
  shared?: EncodeCache,
  endpoints?: ResourceMap,
): Map<TypeUrl, ResourceMap> {
  const encode = (t: TypeUrl, items: readonly Named[]): [TypeUrl, ResourceMap] => [t, encodeNamed(t, items, previous?.get(t), shared)];
  // Route configurations in both forms: inline, and split into VHDS virtual hosts (route-delivery.ts).
  const routes = encodeRoutes(r.routes, { routes: previous?.get(TYPE_URL.route), virtualHosts: previous?.get(TYPE_URL.virtualHost) }, shared);
  return new Map<TypeUrl, ResourceMap>([
    encode(TYPE_URL.cluster, r.clusters),
    endpoints ? [TYPE_URL.endpoint, endpoints] : encode(TYPE_URL.endpoint, r.endpoints),
    encode(TYPE_URL.listener, r.listeners),
    [TYPE_URL.route, routes.routes],
    [TYPE_URL.virtualHost, routes.virtualHosts],
    encode(TYPE_URL.secret, r.secrets),
  ]);
}

/**
 * encodeProxyResources' expensive part, a resource per step, into `shared`: run across turns of
 * the event loop (sliced-work.ts), it leaves encodeProxyResources of the same `r` with only cache
 * hits and the assembly of route configurations from their encoded virtual hosts.
 */
export function* encodeSteps(r: ProxyResources, shared: EncodeCache): Generator<void, void, undefined> {
  const types: [TypeUrl, readonly Named[]][] = [
    [TYPE_URL.cluster, r.clusters],
    [TYPE_URL.endpoint, r.endpoints],
    [TYPE_URL.listener, r.listeners],
    [TYPE_URL.secret, r.secrets],
  ];
  for (const [t, items] of types) {
    for (const item of items) {
      encodeNamed(t, [item], undefined, shared);
      yield;
    }
  }
  yield* encodeVirtualHostSteps(r.routes, shared);
}
