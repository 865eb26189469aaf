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
    if (changed.size > 0) {
      // Copy: a listener may unwatch (its stream closing) while we iterate.
      for (const l of [...(this.listeners.get(key) ?? [])]) l(snapshot, changed, setAt);
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

function changedTypes(previous: Snapshot | undefined, next: Snapshot): Set<TypeUrl> {
  // Views' snapshots: both tables, compared slot by slot.
  if (previous?.versions instanceof TypeTable && next.versions instanceof TypeTable)
    return new Set((next.versions as TypeTable<string>).differing(previous.versions as TypeTable<string>));
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
