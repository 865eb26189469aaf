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
