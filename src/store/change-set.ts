import type { InputKind, ObjectKey } from "../api/objects.js";

/** What one store update changed, so later stages can do less work. */
export interface ChangeSet {
  /** The revision of the snapshot that contains the change. */
  readonly revision: number;
  /** The sources whose events made the change. */
  readonly sources: ReadonlySet<string>;
  /** Kinds with at least one added, changed or removed object. */
  readonly kinds: ReadonlySet<InputKind>;
  /** Keys (`kind/namespace/name`) of the added, changed or removed objects. */
  readonly keys: ReadonlySet<ObjectKey>;
}

/** One change set covering both, e.g. for a consumer that debounces several updates. */
export function mergeChangeSets(a: ChangeSet, b: ChangeSet): ChangeSet {
  return {
    revision: Math.max(a.revision, b.revision),
    sources: new Set([...a.sources, ...b.sources]),
    kinds: new Set([...a.kinds, ...b.kinds]),
    keys: new Set([...a.keys, ...b.keys]),
  };
}

/** Whether a change touches any of `kinds` (a stage that only reads those can skip the update otherwise). */
export function touchesKinds(cs: ChangeSet, kinds: readonly InputKind[]): boolean {
  return kinds.some((k) => cs.kinds.has(k));
}
