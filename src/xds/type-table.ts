// One value per xDS type, iterated in PUSH_ORDER: the shape of a view's snapshot (its resource
// maps, its type versions) and of the maps a view is composed from. Every view gets new ones on
// every change that reaches it and keeps them until the next: with a view per workload (2000
// views) they outlive the young generation and are the largest part of what a change leaves to the
// old one. A Map of six entries takes about 300 bytes; this takes one small array.
import { EntriesMap } from "../entries-map.js";
import { PUSH_ORDER, type TypeUrl } from "./type-urls.js";

const SLOT = new Map<string, number>(PUSH_ORDER.map((t, i) => [t, i]));

export class TypeTable<V> extends EntriesMap<TypeUrl, V> {
  readonly size: number;

  /** `slots[i]`: the value of PUSH_ORDER[i], if any. */
  private constructor(private readonly slots: readonly (V | undefined)[]) {
    super();
    let n = 0;
    for (const v of slots) if (v !== undefined) n++;
    this.size = n;
  }

  /** A table of each type's `valueOf` (a type whose value is undefined is left out). */
  static of<V>(valueOf: (t: TypeUrl) => V | undefined): TypeTable<V> {
    return new TypeTable(PUSH_ORDER.map(valueOf));
  }

  /** `map` as a table (itself when it is one). */
  static from<V>(map: ReadonlyMap<TypeUrl, V>): TypeTable<V> {
    return map instanceof TypeTable ? (map as TypeTable<V>) : TypeTable.of((t) => map.get(t));
  }

  /** A copy with `type`'s value replaced. */
  with(type: TypeUrl, value: V): TypeTable<V> {
    const i = SLOT.get(type)!;
    const slots = this.slots.slice();
    slots[i] = value;
    return new TypeTable(slots);
  }

  /** The types whose value differs from `other`'s (by identity), in PUSH_ORDER. */
  differing(other: TypeTable<V>): TypeUrl[] {
    const out: TypeUrl[] = [];
    for (let i = 0; i < PUSH_ORDER.length; i++) if (this.slots[i] !== other.slots[i]) out.push(PUSH_ORDER[i]!);
    return out;
  }

  /** The same as `differing`, as a bit per PUSH_ORDER place (bit i: PUSH_ORDER[i] differs). */
  differingMask(other: TypeTable<V>): number {
    let mask = 0;
    for (let i = 0; i < PUSH_ORDER.length; i++) if (this.slots[i] !== other.slots[i]) mask |= 1 << i;
    return mask;
  }

  get(type: TypeUrl): V | undefined {
    const i = SLOT.get(type);
    return i === undefined ? undefined : this.slots[i];
  }

  *entries(): MapIterator<[TypeUrl, V]> {
    for (let i = 0; i < PUSH_ORDER.length; i++) {
      const v = this.slots[i];
      if (v !== undefined) yield [PUSH_ORDER[i]!, v];
    }
  }
}
