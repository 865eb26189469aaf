/**
 * The current set of valid input objects, as immutable snapshots.
 *
 * Sources (kube informers, the file watcher) apply batches of events under their own name. Rules:
 * - Ownership: an object belongs to the source that wrote it last. A key written by two sources
 *   holds the last write ("last write wins"); a delete is honoured only from the current owner,
 *   so a delete from source A never removes an object B wrote, and a delete from the owner removes
 *   the object outright (an older write by another source is not restored).
 * - No-ops: an upsert of a structurally identical StoredObject (object and source location), a
 *   delete of something absent or owned by another source, and a batch whose net effect is nothing
 *   return `undefined` and leave the revision unchanged. A moved object (same content, new line) is
 *   a change: analyzers point at its location.
 * - Snapshots are immutable and cheap: one map per kind, shared with the previous snapshot for every
 *   kind the update did not touch, and laid over the previous one for a kind it did (kind-map.ts).
 *   The revision increases by one per applied change.
 */
import { deepEqual } from "../api/equal.js";
import { INPUT_KINDS } from "../api/kinds.js";
import { keyOf, type InputKind, type ObjectKey, type ObjectOfKind, type StoredObject } from "../api/objects.js";
import type { ChangeSet } from "./change-set.js";
import { KindMap, type KindMapEdit } from "./kind-map.js";

export type StoreEvent = { readonly type: "upsert"; readonly object: StoredObject } | { readonly type: "delete"; readonly key: ObjectKey };

type KindMaps = { readonly [K in InputKind]: ReadonlyMap<ObjectKey, StoredObject<ObjectOfKind<K>>> };

/** An immutable view of the store at one revision. */
export class Snapshot {
  /** @internal use Store */
  constructor(
    readonly revision: number,
    private readonly maps: KindMaps,
  ) {
    Object.freeze(this);
  }

  static empty(): Snapshot {
    const maps = Object.fromEntries(INPUT_KINDS.map((k) => [k, new Map()])) as unknown as KindMaps;
    return new Snapshot(0, Object.freeze(maps));
  }

  /** All objects of one kind, by key. */
  of<K extends InputKind>(kind: K): ReadonlyMap<ObjectKey, StoredObject<ObjectOfKind<K>>> {
    return this.maps[kind];
  }

  get(key: ObjectKey): StoredObject | undefined {
    const kind = kindOfKey(key);
    return kind ? this.maps[kind].get(key) : undefined;
  }

  get size(): number {
    let n = 0;
    for (const k of INPUT_KINDS) n += this.maps[k].size;
    return n;
  }

  /** Every object, kinds in INPUT_KINDS order. */
  *objects(): IterableIterator<StoredObject> {
    for (const k of INPUT_KINDS) yield* this.maps[k].values();
  }
}

/** The kind part of a `kind/namespace/name` key, when it names an input kind. */
export function kindOfKey(key: ObjectKey): InputKind | undefined {
  const slash = key.indexOf("/");
  const kind = slash < 0 ? key : key.slice(0, slash);
  return (INPUT_KINDS as readonly string[]).includes(kind) ? (kind as InputKind) : undefined;
}

export class Store {
  private current = Snapshot.empty();
  private readonly owners = new Map<ObjectKey, string>();

  snapshot(): Snapshot {
    return this.current;
  }

  get revision(): number {
    return this.current.revision;
  }

  /** The source that owns `key` (its last writer), if the object exists. */
  ownerOf(key: ObjectKey): string | undefined {
    return this.owners.get(key);
  }

  /** Keys owned by `source`. */
  keysOf(source: string): ObjectKey[] {
    const out: ObjectKey[] = [];
    for (const [k, s] of this.owners) if (s === source) out.push(k);
    return out;
  }

  /** Apply a batch of events from `source`; the change set, or undefined when nothing changed. */
  apply(source: string, events: readonly StoreEvent[]): ChangeSet | undefined {
    const base = this.current;
    const copies = new Map<InputKind, KindMapEdit<ObjectKey, StoredObject>>();
    const writable = (kind: InputKind): KindMapEdit<ObjectKey, StoredObject> => {
      let m = copies.get(kind);
      if (!m) {
        m = KindMap.edit(base.of(kind) as ReadonlyMap<ObjectKey, StoredObject>);
        copies.set(kind, m);
      }
      return m;
    };
    const read = (kind: InputKind, key: ObjectKey): StoredObject | undefined =>
      (copies.get(kind) ?? (base.of(kind) as ReadonlyMap<ObjectKey, StoredObject>)).get(key);
    const touched = new Set<ObjectKey>();

    for (const ev of events) {
      if (ev.type === "upsert") {
        const kind = ev.object.object.kind;
        const key = keyOf(ev.object.object);
        this.owners.set(key, source);
        const existing = read(kind, key);
        if (existing === ev.object || (existing && deepEqual(existing, ev.object))) continue;
        writable(kind).set(key, ev.object);
        touched.add(key);
      } else {
        const kind = kindOfKey(ev.key);
        if (!kind || this.owners.get(ev.key) !== source) continue;
        this.owners.delete(ev.key);
        if (read(kind, ev.key) === undefined) continue;
        writable(kind).delete(ev.key);
        touched.add(ev.key);
      }
    }

    // net effect only: an upsert and a delete of the same key in one batch cancel out
    const keys = new Set<ObjectKey>();
    const kinds = new Set<InputKind>();
    for (const key of touched) {
      const kind = kindOfKey(key) as InputKind;
      const before = base.get(key);
      const after = read(kind, key);
      if (before === after || (before && after && deepEqual(before, after))) continue;
      keys.add(key);
      kinds.add(kind);
    }
    if (keys.size === 0) return undefined;

    const maps = {} as Record<InputKind, ReadonlyMap<ObjectKey, StoredObject>>;
    for (const k of INPUT_KINDS) maps[k] = kinds.has(k) ? copies.get(k)!.done() : base.of(k);
    this.current = new Snapshot(base.revision + 1, Object.freeze(maps) as unknown as KindMaps);
    return { revision: this.current.revision, sources: new Set([source]), kinds, keys };
  }

  /**
   * Make `objects` the complete set owned by `source` (a relist, or a full reload): upserts all of
   * them and deletes what the source owned and no longer has.
   */
  replace(source: string, objects: readonly StoredObject[]): ChangeSet | undefined {
    const keep = new Set(objects.map((o) => keyOf(o.object)));
    const deletes: StoreEvent[] = this.keysOf(source)
      .filter((k) => !keep.has(k))
      .map((key) => ({ type: "delete", key }));
    return this.apply(source, [...objects.map((object): StoreEvent => ({ type: "upsert", object })), ...deletes]);
  }
}
