// An immutable map kept across builds and changed a few entries at a time (the endpoint indexes:
// pods by key, slices by service). Each version lays its changes over a shared base instead of
// copying it; the changes are folded into a new base once they outgrow about the square root of
// its size, so a change costs in proportion to itself (amortized), not to the mesh.

const GONE: unique symbol = Symbol("gone");

export class OverlayMap<K, V> {
  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly over: ReadonlyMap<K, V | typeof GONE>,
  ) {}

  static of<K, V>(base: ReadonlyMap<K, V>): OverlayMap<K, V> {
    return new OverlayMap(base, new Map());
  }

  get(key: K): V | undefined {
    const v = this.over.get(key);
    if (v !== undefined) return v === GONE ? undefined : v;
    return this.base.get(key);
  }

  /** This map with each key set to its value (undefined: deleted); this one is left as it is. */
  with(changes: Iterable<readonly [K, V | undefined]>): OverlayMap<K, V> {
    const over = new Map(this.over);
    for (const [k, v] of changes) over.set(k, v === undefined ? GONE : v);
    if (over.size <= foldAt(this.base.size)) return new OverlayMap(this.base, over);
    const base = new Map(this.base);
    for (const [k, v] of over) {
      if (v === GONE) base.delete(k);
      else base.set(k, v);
    }
    return new OverlayMap(base, new Map());
  }
}

/** Copying `over` costs its size per change and folding the base's size per fold: both about √n. */
function foldAt(size: number): number {
  return Math.max(64, 2 * Math.ceil(Math.sqrt(size)));
}
