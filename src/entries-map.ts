// What a read-only map built over other maps (a version laid over a base, layers, a patch, a
// table per type) derives from its entries: keys, values, iteration and forEach. Each such map
// says only how it finds a key and in what order it walks its entries; one that can do better
// (a base's own iterators) overrides the rest.
export abstract class EntriesMap<K, V> implements ReadonlyMap<K, V> {
  abstract readonly size: number;
  abstract get(key: K): V | undefined;
  abstract entries(): MapIterator<[K, V]>;

  /** Values are never undefined in these maps: a key is there when it has one. */
  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}
