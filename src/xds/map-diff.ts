// Every proxy of a view moves between the same snapshots, so what changed from one resource map
// to the next is worked out once per pair and shared: after an endpoint change each delta stream
// then costs the changed resources, not a walk over every resource it holds.
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

export function mapDiff(from: ResourceMap, to: ResourceMap): MapDiff {
  let byTarget = diffs.get(from);
  const hit = byTarget?.get(to);
  if (hit) return hit;
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
  const diff = { changed, removed, added };
  if (!byTarget) {
    byTarget = new WeakMap();
    diffs.set(from, byTarget);
  }
  byTarget.set(to, diff);
  return diff;
}
