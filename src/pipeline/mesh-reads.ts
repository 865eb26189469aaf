// Which fields of the mesh model a translation read, to tell whether a later build's model gives it
// anything new. The model keeps a field's object when its inputs did not change (model/keep.ts),
// so a translation whose every field read is the same object as then would give the same
// resources: a VirtualService edit leaves a workload's inbound side (Services, pods' ports,
// policies) untranslated, and an AuthorizationPolicy edit every outbound side.
import type { MeshModel } from "../model/ir.js";

/** The fields read and the objects they held; every field when the model was enumerated as a whole (`all`). */
export interface MeshReads {
  readonly fields: ReadonlyMap<PropertyKey, unknown>;
  readonly all: boolean;
}

/** `f(mesh)`, and what it read of `mesh` (through a Proxy: every read of a field is seen). */
export function readingMesh<T>(mesh: MeshModel, f: (mesh: MeshModel) => T): { readonly value: T; readonly reads: MeshReads } {
  const fields = new Map<PropertyKey, unknown>();
  let all = false;
  const seen = new Proxy(mesh, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      fields.set(prop, value);
      return value;
    },
    has(target, prop) {
      fields.set(prop, Reflect.get(target, prop));
      return Reflect.has(target, prop);
    },
    ownKeys(target) {
      all = true;
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, prop) {
      fields.set(prop, Reflect.get(target, prop));
      return Reflect.getOwnPropertyDescriptor(target, prop);
    },
  });
  const value = f(seen);
  if (all) for (const k of Reflect.ownKeys(mesh)) fields.set(k, Reflect.get(mesh, k));
  return { value, reads: { fields, all } };
}

/** Does `mesh` hold the same objects in every field `reads` saw (in every field, if it saw them all)? */
export function sameReads(reads: MeshReads, mesh: MeshModel): boolean {
  if (reads.all && Reflect.ownKeys(mesh).some((k) => !reads.fields.has(k))) return false;
  for (const [k, v] of reads.fields) if (Reflect.get(mesh, k) !== v) return false;
  return true;
}

/** `reads` with field `key` seen holding `value`, if it was read at all (then `reads` itself). */
export function withRead(reads: MeshReads, key: keyof MeshModel, value: unknown): MeshReads {
  if (!reads.fields.has(key) || reads.fields.get(key) === value) return reads;
  return { fields: new Map(reads.fields).set(key, value), all: reads.all };
}

/**
 * Reads equal to one another (the same fields holding the same objects) as one object, and
 * sameReads of it once per model: a thousand workload views whose inbound sides read the same
 * six fields then hold one record of them, checked once per build instead of once per view.
 */
export class SharedReads {
  /** Held weakly: a record no view holds any more goes. */
  private known: WeakRef<MeshReads>[] = [];
  private readonly checked = new WeakMap<MeshReads, { readonly mesh: MeshModel; readonly same: boolean }>();

  /** `reads`, or a held record equal to it. */
  intern(reads: MeshReads): MeshReads {
    const live: WeakRef<MeshReads>[] = [];
    let found: MeshReads | undefined;
    for (const ref of this.known) {
      const held = ref.deref();
      if (held === undefined) continue;
      live.push(ref);
      if (found === undefined && equalReads(held, reads)) found = held;
    }
    if (found === undefined) live.push(new WeakRef((found = reads)));
    this.known = live;
    return found;
  }

  /** sameReads(reads, mesh), worked out once per (reads, mesh). */
  same(reads: MeshReads, mesh: MeshModel): boolean {
    const memo = this.checked.get(reads);
    if (memo?.mesh === mesh) return memo.same;
    const same = sameReads(reads, mesh);
    this.checked.set(reads, { mesh, same });
    return same;
  }
}

function equalReads(a: MeshReads, b: MeshReads): boolean {
  if (a.all !== b.all || a.fields.size !== b.fields.size) return false;
  for (const [k, v] of a.fields) if (b.fields.get(k) !== v || !b.fields.has(k)) return false;
  return true;
}
