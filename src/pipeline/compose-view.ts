// A view's encoded resources from the part it shares with other views (a sidecar's outbound side)
// and its own part (its inbound side), the encoded counterpart of translate's composeProxy. Where
// the own part has nothing of a type the view holds the shared map itself, so every view of the
// part shares it (and its diffs); otherwise a LayeredMap lays the own resources over it.
import { encodeNamed } from "./encode-view.js";
import type { EncodeCache } from "../xds/encode-cache.js";
import { LayeredMap } from "../xds/layered-map.js";
import { TypeTable } from "../xds/type-table.js";
import type { ResourceMap } from "../xds/snapshot.js";
import { TYPE_URL, type TypeUrl } from "../xds/type-urls.js";
import type { InboundTranslation } from "../translate/proxy.js";

export type TypeMaps = ReadonlyMap<TypeUrl, ResourceMap>;

const EMPTY: ResourceMap = new Map();

/** The types an own part has. */
export const OWN_TYPES: readonly TypeUrl[] = [TYPE_URL.cluster, TYPE_URL.listener];

/**
 * The own part's resources (clusters and listeners), keeping `previous`'s maps where nothing
 * changed. Its maps do not keep the translation's lists: an own part is translated again only
 * when what it read changed, into new lists, and a workload's JSON (~7 KiB) held by each of a
 * thousand workload views was most of their heap.
 */
export function encodeOwn(own: InboundTranslation, previous: TypeMaps | undefined, shared: EncodeCache): TypeMaps {
  // A TypeTable, not a Map: one small array per view.
  const clusters = encodeNamed(TYPE_URL.cluster, own.clusters, previous?.get(TYPE_URL.cluster), shared, false);
  const listeners = encodeNamed(TYPE_URL.listener, own.listeners, previous?.get(TYPE_URL.listener), shared, false);
  return TypeTable.of((t) => (t === TYPE_URL.cluster ? clusters : t === TYPE_URL.listener ? listeners : undefined));
}

export interface Composed {
  readonly shared: TypeMaps;
  readonly own: TypeMaps;
  readonly maps: TypeMaps;
}

/**
 * Every type's map of the view. An own resource hides a shared one of its name (a Sidecar ingress
 * listener its outbound twin, as composeProxy does). With `previous`, a type whose two inputs are
 * the same maps as then keeps its composed map, so unchanged types keep their identity.
 */
export function composeMaps(shared: TypeMaps, own: TypeMaps, previous?: Composed): Composed {
  const maps = TypeTable.of<ResourceMap>((t) => {
    const s = shared.get(t) ?? EMPTY;
    const o = own.get(t) ?? EMPTY;
    const before = previous?.maps.get(t);
    if (before && previous!.shared.get(t) === s && previous!.own.get(t) === o) return before;
    return composedMap(s, o);
  });
  return { shared, own, maps };
}

/** One type's map of a view: the shared map itself where the own part has nothing of the type. */
export function composedMap(shared: ResourceMap | undefined, own: ResourceMap | undefined): ResourceMap {
  const s = shared ?? EMPTY;
  const o = own ?? EMPTY;
  return o.size === 0 ? s : new LayeredMap(s, o);
}
