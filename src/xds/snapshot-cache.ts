// The current Snapshot per view key. One Snapshot is shared by every proxy of its view; the
// pipeline replaces it with `set`, and the streams of that view are told which types changed so
// that they can push just those (in make-before-break order).
import type { Snapshot } from "./snapshot.js";
import { TypeTable } from "./type-table.js";
import { PUSH_ORDER, type TypeUrl } from "./type-urls.js";

const PUSH_ORDER_SET: ReadonlySet<TypeUrl> = new Set(PUSH_ORDER);

/**
 * Called after a snapshot of a watched key was replaced. `setAt` is `performance.now()` at the
 * `set` call: push latency is measured from there to the response being written.
 */
export type SnapshotListener = (snapshot: Snapshot, changed: ReadonlySet<TypeUrl>, setAt: number) => void;

export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly listeners = new Map<string, Set<SnapshotListener>>();

  /**
   * Replace the snapshot of `key` and notify its streams of the types whose version changed
   * (every type, for the first snapshot of a key). Returns those types.
   */
  set(key: string, snapshot: Snapshot): ReadonlySet<TypeUrl> {
    const setAt = performance.now();
    const previous = this.snapshots.get(key);
    this.snapshots.set(key, snapshot);
    const changed = changedTypes(previous, snapshot);
    const listeners = this.listeners.get(key);
    if (changed.size > 0 && listeners) {
      // A view per workload has one stream: no copy of one listener per view per change.
      if (listeners.size === 1) for (const l of listeners) l(snapshot, changed, setAt);
      // Copy: a listener may unwatch (its stream closing) or watch while we iterate.
      else for (const l of [...listeners]) l(snapshot, changed, setAt);
    }
    return changed;
  }

  get(key: string): Snapshot | undefined {
    return this.snapshots.get(key);
  }

  keys(): string[] {
    return [...this.snapshots.keys()];
  }

  /** Forget a view (e.g. after ViewProvider.deactivate). Watchers stay registered. */
  delete(key: string): boolean {
    return this.snapshots.delete(key);
  }

  /** Be told about every later `set` of `key`. Returns the function that stops it. */
  watch(key: string, listener: SnapshotListener): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      const s = this.listeners.get(key);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) this.listeners.delete(key);
    };
  }
}

/**
 * The sets of changed types two views' snapshots can differ by, one per combination of PUSH_ORDER
 * types, made when first met and shared: every view a change reaches is set anew, and a Set per
 * view per change outlived the young generation (the streams' flushes run across scavenges).
 */
const changedSets: ReadonlySet<TypeUrl>[] = [];

/** The shared set of the PUSH_ORDER types whose bits `mask` has (type-table.ts differingMask). */
export function changedSetOf(mask: number): ReadonlySet<TypeUrl> {
  let set = changedSets[mask];
  if (!set) {
    const types = new Set<TypeUrl>();
    for (let i = 0; i < PUSH_ORDER.length; i++) if (mask & (1 << i)) types.add(PUSH_ORDER[i]!);
    changedSets[mask] = set = types;
  }
  return set;
}

function changedTypes(previous: Snapshot | undefined, next: Snapshot): ReadonlySet<TypeUrl> {
  // Views' snapshots: both tables, compared slot by slot.
  if (previous?.versions instanceof TypeTable && next.versions instanceof TypeTable)
    return changedSetOf((next.versions as TypeTable<string>).differingMask(previous.versions as TypeTable<string>));
  const changed = new Set<TypeUrl>();
  for (const t of PUSH_ORDER) if (!previous || previous.versions.get(t) !== next.versions.get(t)) changed.add(t);
  // A TypeTable holds PUSH_ORDER's types only; other maps may hold more, compared all the same.
  if (!(next.versions instanceof TypeTable) || (previous && !(previous.versions instanceof TypeTable))) addOthers(previous, next, changed);
  return changed;
}

function addOthers(previous: Snapshot | undefined, next: Snapshot, changed: Set<TypeUrl>): void {
  for (const t of next.versions.keys()) if (!changed.has(t) && !PUSH_ORDER_SET.has(t) && previous?.versions.get(t) !== next.versions.get(t)) changed.add(t);
  if (previous) for (const t of previous.versions.keys()) if (!PUSH_ORDER_SET.has(t) && !next.versions.has(t)) changed.add(t);
}
