// The names a proxy subscribed to on one type. An Envoy subscribes to the EDS name of every
// cluster it has, which in a big mesh is thousands of names per proxy, almost always exactly the
// names of the view's resource map: a Set of them per proxy was most of a proxy's heap (80 KiB
// for 3000 names). So the set is kept as a shared ResourceMap whose names it contains (`base`)
// plus the proxy's own additions and removals.
import { mapDiff } from "./map-diff.js";
import type { ResourceMap } from "./snapshot.js";

const EMPTY: ResourceMap = new Map();

export class NameSet implements Iterable<string> {
  private base: ResourceMap = EMPTY;
  private readonly added = new Set<string>();
  private readonly removed = new Set<string>();

  get size(): number {
    return this.base.size - this.removed.size + this.added.size;
  }

  has(name: string): boolean {
    return this.added.has(name) || (this.base.has(name) && !this.removed.has(name));
  }

  add(name: string): void {
    if (this.base.has(name)) this.removed.delete(name);
    else this.added.add(name);
  }

  /** Returns whether the name was in the set. */
  delete(name: string): boolean {
    if (this.added.delete(name)) return true;
    if (!this.base.has(name) || this.removed.has(name)) return false;
    this.removed.add(name);
    return true;
  }

  /** Make the set exactly `map`'s names. */
  cover(map: ResourceMap): void {
    this.base = map;
    if (this.added.size > 0) this.added.clear();
    if (this.removed.size > 0) this.removed.clear();
  }

  clear(): void {
    this.base = EMPTY;
    this.added.clear();
    this.removed.clear();
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const name of this.base.keys()) if (!this.removed.has(name)) yield name;
    yield* this.added;
  }

  /**
   * Share `current`'s names where they are this set's: when the set is exactly `current`'s
   * names, or the base map was replaced by one with the same names (an update that changed
   * resources but not which exist). Cheap when nothing changed.
   */
  adopt(current: ResourceMap): void {
    if (this.base === current) return;
    if (this.base !== EMPTY) {
      const d = mapDiff(this.base, current);
      if (d.removed.length === 0 && d.added === 0) {
        this.base = current;
        return;
      }
    }
    if (this.size !== current.size) return;
    for (const name of current.keys()) if (!this.has(name)) return;
    this.base = current;
    this.added.clear();
    this.removed.clear();
  }
}
