// Every proxy of a view moves between the same snapshots, so what changed from one resource map
// to the next is worked out once per pair and shared: after an endpoint change each delta stream
// then costs the changed resources, not a walk over every resource it holds.
import { LayeredMap } from "./layered-map.js";
import { patchOf } from "./map-patch.js";
import type { Resource, ResourceMap } from "./snapshot.js";

export interface MapDiff {
  /** Resources of `to` that `from` lacks or has at another version, in `to`'s order. */
  readonly changed: readonly Resource[];
  /** Names of `from` that `to` lacks. */
  readonly removed: readonly string[];
  /** How many of `changed` are names `from` lacks. */
  readonly added: number;
}

const diffs = new WeakMap<ResourceMap, WeakMap<ResourceMap, MapDiff>>();
/** Per layered map: how many first responses were worked out from it, or, from the KEEP_FIRST_DIFF-th on, that diff. */
const firstDiffs = new WeakMap<ResourceMap, number | MapDiff>();
const KEEP_FIRST_DIFF = 4;

export function mapDiff(from: ResourceMap, to: ResourceMap): MapDiff {
  // A first response of a workload's own view: its few proxies take it once, and a cached diff
  // would keep a list of every resource of the view (3000 clusters: 24 KiB) for the view's life.
  // A view many proxies share (thousands, with identical labels) is worth that list: each of its
  // proxies' first responses would walk every resource again.
  if (from.size === 0 && to instanceof LayeredMap) {
    const seen = firstDiffs.get(to);
    if (typeof seen === "object") return seen;
    const diff = fullDiff(from, to);
    const count = (seen ?? 0) + 1;
    firstDiffs.set(to, count >= KEEP_FIRST_DIFF ? diff : count);
    return diff;
  }
  let byTarget = diffs.get(from);
  const hit = byTarget?.get(to);
  if (hit) return hit;
  const diff =
    from instanceof LayeredMap && to instanceof LayeredMap && from.own === to.own ? sharedDiff(from, to) : (patchDiff(from, to) ?? fullDiff(from, to));
  if (!byTarget) {
    byTarget = new WeakMap();
    diffs.set(from, byTarget);
  }
  byTarget.set(to, diff);
  return diff;
}

/**
 * Two views over the same own resources differ where their shared maps do, except under an own
 * resource: that diff is worked out once for every view of the shared maps, and filtered here.
 */
function sharedDiff(from: LayeredMap, to: LayeredMap): MapDiff {
  const d = mapDiff(from.shared, to.shared);
  const own = to.own;
  if (own.size === 0) return d;
  const changed = d.changed.filter((r) => !own.has(r.name));
  const removed = d.removed.filter((name) => !own.has(name));
  const added = changed.filter((r) => !from.has(r.name)).length;
  return { changed, removed, added };
}

/**
 * `to` made from `from` by patchMap (the EDS fast path): it has `from`'s names, and differs in
 * the resources it replaced, so a shared part's thousands of ClusterLoadAssignments are not
 * walked for the few an endpoint change re-encoded. Resource maps iterate in name order (as
 * LayeredMap relies on too): the replaced resources sorted by name are in `to`'s order.
 */
function patchDiff(from: ResourceMap, to: ResourceMap): MapDiff | undefined {
  const patch = patchOf(to);
  if (patch === undefined || patch.base.deref() !== from) return undefined;
  const changed = patch.replaced.filter(([old, r]) => old.version !== r.version).map(([, r]) => r);
  changed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { changed, removed: [], added: 0 };
}

function fullDiff(from: ResourceMap, to: ResourceMap): MapDiff {
  const changed: Resource[] = [];
  let added = 0;
  for (const r of to.values()) {
    const old = from.get(r.name);
    if (old?.version === r.version) continue;
    changed.push(r);
    if (!old) added++;
  }
  const removed: string[] = [];
  for (const name of from.keys()) if (!to.has(name)) removed.push(name);
  return { changed, removed, added };
}
