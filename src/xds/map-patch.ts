// A resource map made from another by replacing a few of its resources (the EDS fast path: an
// endpoint change re-encodes a handful of ClusterLoadAssignments among thousands). The new map
// lays its replacements over the other's entries instead of copying them, and remembers what it
// replaced, so that what is derived from maps (the type version, the encode cache's retained set)
// follows the change in proportion to it instead of walking every resource again.
import { EntriesMap } from "../entries-map.js";
import type { Resource, ResourceMap } from "./snapshot.js";

export interface MapPatch {
  /** The map this one was made from (weakly: a chain of patches must not keep old maps alive). */
  readonly base: WeakRef<ResourceMap>;
  /** Each replaced resource: the base's, then this map's (same name). */
  readonly replaced: readonly (readonly [Resource, Resource])[];
}

const patches = new WeakMap<ResourceMap, MapPatch>();

/** A plain map's entries with some resources replaced: its names, in its order. */
class PatchedMap extends EntriesMap<string, Resource> {
  constructor(
    readonly root: ReadonlyMap<string, Resource>,
    readonly over: ReadonlyMap<string, Resource>,
  ) {
    super();
  }

  get size(): number {
    return this.root.size;
  }

  get(name: string): Resource | undefined {
    return this.over.get(name) ?? this.root.get(name);
  }

  override has(name: string): boolean {
    return this.root.has(name);
  }

  *entries(): MapIterator<[string, Resource]> {
    for (const [name, r] of this.root) yield [name, this.over.get(name) ?? r];
  }

  override *keys(): MapIterator<string> {
    yield* this.root.keys();
  }

  override *values(): MapIterator<Resource> {
    for (const [name, r] of this.root) yield this.over.get(name) ?? r;
  }
}

/**
 * `base` with the resources of `fresh` in place of those of their names (each name must be one of
 * `base`'s: the map keeps `base`'s names and order). When every one is the base's own object,
 * `base` itself. Replacements accumulate over the first plain map until they outgrow about the
 * square root of its size; then they are folded into a new plain map (amortized: a patch costs
 * about what it replaces).
 */
export function patchMap(base: ResourceMap, fresh: Iterable<Resource>): ResourceMap {
  const replaced: (readonly [Resource, Resource])[] = [];
  for (const r of fresh) {
    const old = base.get(r.name);
    if (old === undefined) throw new Error(`patchMap: "${r.name}" is not in the base map`);
    if (old !== r) replaced.push([old, r]);
  }
  if (replaced.length === 0) return base;
  const root = base instanceof PatchedMap ? base.root : base;
  const over = new Map(base instanceof PatchedMap ? base.over : undefined);
  for (const [, r] of replaced) over.set(r.name, r);
  let out: ResourceMap;
  if (over.size <= foldAt(root.size)) out = new PatchedMap(root, over);
  else {
    const folded = new Map(root);
    for (const [name, r] of over) folded.set(name, r);
    out = folded;
  }
  patches.set(out, { base: new WeakRef(base), replaced });
  return out;
}

function foldAt(size: number): number {
  return Math.max(16, 2 * Math.ceil(Math.sqrt(size)));
}

/** How `map` was made from another by patchMap, if it was. */
export function patchOf(map: ResourceMap): MapPatch | undefined {
  return patches.get(map);
}
