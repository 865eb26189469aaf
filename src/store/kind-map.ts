// An immutable map changed a few keys at a time: one kind's objects in a store snapshot, and the
// endpoint indexes kept across builds (pods by key, slices by service). Each
// version lays its changes over a shared base instead of copying it (a Pod change copied the map
// of every Pod of the mesh, ten thousand entries at 1000 services, once per change, and the copy
// lived until the next change: old-generation garbage at every change). The changes are folded
// into a new base once they outgrow about the square root of its size, so a change costs in
// proportion to itself (amortized). Iteration order is a Map's: a replaced key keeps its place, a
// new key (or one deleted and set again) comes last.

import { EntriesMap } from "../entries-map.js";

const GONE: unique symbol = Symbol("gone");

/** Counts for tests: entries copied (a version's changes, or a fold into a new base). */
export const kindMapWork = { copied: 0 };

const EMPTY: ReadonlyMap<unknown, unknown> = new Map();
const none = <K, V>(): ReadonlyMap<K, V> => EMPTY as ReadonlyMap<K, V>;

export class KindMap<K, V> extends EntriesMap<K, V> {
  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    /** Base keys replaced (a value) or deleted (GONE). */
    private readonly over: ReadonlyMap<K, V | typeof GONE>,
    /** Keys set that the base lacks, or that were deleted from it before: after the base, in order. */
    private readonly added: ReadonlyMap<K, V>,
    readonly size: number,
  ) {
    super();
  }

  /** `map` as the base of versions to come (the map itself is kept, not copied). */
  static of<K, V>(map: ReadonlyMap<K, V>): KindMap<K, V> {
    return KindMap.made(map, none(), none(), map.size);
  }

  /** Changes to `map` (a plain map, or a KindMap) that make the next version. */
  static edit<K, V>(map: ReadonlyMap<K, V>): KindMapEdit<K, V> {
    if (map instanceof KindMap) {
      const m = map as KindMap<K, V>;
      kindMapWork.copied += m.over.size + m.added.size;
      return new KindMapEdit(m.base, new Map(m.over), new Map(m.added), m.size);
    }
    return new KindMapEdit(map, new Map(), new Map(), map.size);
  }

  /** @internal KindMapEdit.done */
  static made<K, V>(base: ReadonlyMap<K, V>, over: ReadonlyMap<K, V | typeof GONE>, added: ReadonlyMap<K, V>, size: number): KindMap<K, V> {
    return new KindMap(base, over.size ? over : none(), added.size ? added : none(), size);
  }

  get(key: K): V | undefined {
    return valueOf(this.base, this.over, this.added, key);
  }

  /** This map with each key set to its value (undefined: deleted); this one is left as it is. */
  with(changes: Iterable<readonly [K, V | undefined]>): KindMap<K, V> {
    const edit = KindMap.edit<K, V>(this);
    for (const [k, v] of changes) {
      if (v === undefined) edit.delete(k);
      else edit.set(k, v);
    }
    return edit.done();
  }

  entries(): MapIterator<[K, V]> {
    return this.plain() ? this.base.entries() : entriesOf(this.base, this.over, this.added);
  }

  override keys(): MapIterator<K> {
    return this.plain() ? this.base.keys() : super.keys();
  }

  override values(): MapIterator<V> {
    return this.plain() ? this.base.values() : super.values();
  }

  /**
   * The values in iteration order, as one array: an endpoint change lists ten thousand Pods
   * (pipeline/mesh-input.ts), and walking them through the nested iterators took ten times as
   * long as this loop.
   */
  valueList(): V[] {
    if (this.plain()) return [...this.base.values()];
    let out: V[];
    if (this.over.size === 0) out = [...this.base.values()];
    else {
      // The base's list with the replaced values put in their places: no lookup per entry.
      const { values, at } = positions(this.base);
      const list: (V | typeof GONE)[] = values.slice();
      let gone = false;
      for (const [k, v] of this.over) {
        list[at.get(k)!] = v;
        gone ||= v === GONE;
      }
      if (gone) {
        let n = 0;
        for (let i = 0; i < list.length; i++) if (list[i] !== GONE) list[n++] = list[i]!;
        list.length = n;
      }
      out = list as V[];
    }
    for (const v of this.added.values()) out.push(v);
    return out;
  }

  /** No changes over the base (a new or folded version): the base's own iterators serve. */
  private plain(): boolean {
    return this.over.size === 0 && this.added.size === 0;
  }
}

/** A version being made: set and delete as on a Map, then `done`. Values are never undefined. */
export class KindMapEdit<K, V> {
  /** @internal KindMap.edit */
  constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly over: Map<K, V | typeof GONE>,
    private readonly added: Map<K, V>,
    private size: number,
  ) {}

  get(key: K): V | undefined {
    return valueOf(this.base, this.over, this.added, key);
  }

  set(key: K, value: V): void {
    if (this.added.has(key)) this.added.set(key, value);
    else if (this.base.has(key) && this.over.get(key) !== GONE) this.over.set(key, value);
    else {
      this.added.set(key, value);
      this.size++;
    }
  }

  delete(key: K): void {
    if (this.added.delete(key)) this.size--;
    else if (this.base.has(key) && this.over.get(key) !== GONE) {
      this.over.set(key, GONE);
      this.size--;
    }
  }

  /** The new version; its changes folded into a new base once they outgrow about √(base size). */
  done(): KindMap<K, V> {
    if (this.over.size + this.added.size <= foldAt(this.base.size)) return KindMap.made(this.base, this.over, this.added, this.size);
    kindMapWork.copied += this.size;
    return KindMap.made(new Map(entriesOf(this.base, this.over, this.added)), none(), none(), this.size);
  }
}

/**
 * Per base, its values in order and each key's place among them, made when a version over it is
 * first listed: kept while the base is (until a fold makes a new one, about √n changes later).
 */
const basePositions = new WeakMap<ReadonlyMap<unknown, unknown>, { readonly values: readonly unknown[]; readonly at: ReadonlyMap<unknown, number> }>();

function positions<K, V>(base: ReadonlyMap<K, V>): { readonly values: readonly V[]; readonly at: ReadonlyMap<K, number> } {
  let p = basePositions.get(base);
  if (p === undefined) {
    const values: V[] = [];
    const at = new Map<K, number>();
    for (const [k, v] of base) {
      at.set(k, values.length);
      values.push(v);
    }
    basePositions.set(base, (p = { values, at }));
  }
  return p as { readonly values: readonly V[]; readonly at: ReadonlyMap<K, number> };
}

function valueOf<K, V>(base: ReadonlyMap<K, V>, over: ReadonlyMap<K, V | typeof GONE>, added: ReadonlyMap<K, V>, key: K): V | undefined {
  const a = added.get(key);
  if (a !== undefined) return a;
  const o = over.get(key);
  if (o !== undefined) return o === GONE ? undefined : o;
  return base.get(key);
}

function* entriesOf<K, V>(base: ReadonlyMap<K, V>, over: ReadonlyMap<K, V | typeof GONE>, added: ReadonlyMap<K, V>): MapIterator<[K, V]> {
  if (over.size === 0) yield* base;
  else
    for (const [k, v] of base) {
      const o = over.get(k);
      if (o === GONE) continue;
      yield [k, o ?? v];
    }
  yield* added;
}

/** Copying the changes costs their number per version and folding the base's size per fold: both about √n. */
function foldAt(size: number): number {
  return Math.max(64, 2 * Math.ceil(Math.sqrt(size)));
}
