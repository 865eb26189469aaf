// A resource map made from another by replacing a few of its resources (the EDS fast path: an
// endpoint change re-encodes a handful of ClusterLoadAssignments among thousands). The new map
// remembers which, so that what is derived from maps (the type version, the encode cache's
// retained set) follows the change in proportion to it instead of walking every resource again.
import type { Resource, ResourceMap } from "./snapshot.js";

export interface MapPatch {
  /** The map this one was made from (weakly: a chain of patches must not keep old maps alive). */
  readonly base: WeakRef<ResourceMap>;
  /** Each replaced resource: the base's, then this map's (same name). */
  readonly replaced: readonly (readonly [Resource, Resource])[];
}

const patches = new WeakMap<ResourceMap, MapPatch>();

/**
 * `base` with the resources of `fresh` in place of those of their names (each name must be one of
 * `base`'s: the map keeps `base`'s names and order). When every one is the base's own object,
 * `base` itself.
 */
export function patchMap(base: ResourceMap, fresh: Iterable<Resource>): ResourceMap {
  const replaced: (readonly [Resource, Resource])[] = [];
  for (const r of fresh) {
    const old = base.get(r.name);
    if (old === undefined) throw new Error(`patchMap: "${r.name}" is not in the base map`);
    if (old !== r) replaced.push([old, r]);
  }
  if (replaced.length === 0) return base;
  const out = new Map(base);
  for (const [, r] of replaced) out.set(r.name, r);
  patches.set(out, { base: new WeakRef(base), replaced });
  return out;
}

/** How `map` was made from another by patchMap, if it was. */
export function patchOf(map: ResourceMap): MapPatch | undefined {
  return patches.get(map);
}
