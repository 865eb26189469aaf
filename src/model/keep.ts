/**
 * Results kept from one model build to the next, so that a change rebuilds only what it touches.
 *
 * The store hands the same StoredObject for an object that did not change, so a build step whose
 * inputs are the same objects as last time gives last time's result, and everything derived from
 * that result downstream (scopes, clusters, virtual hosts, encoded bytes) is found again by
 * identity. A step that does run keeps, of its new results, last time's object wherever the two
 * are equal in content: the one edited VirtualService is a new object, its 999 siblings are not.
 * Only the last build's results are held: what the inputs no longer have goes with them.
 */
import { deepEqual } from "../api/equal.js";

/** One build's step results, by step name, with the inputs each was computed from. */
export type KeptSteps = ReadonlyMap<string, { readonly inputs: readonly unknown[]; readonly value: unknown }>;

/** Inputs are the same when each is the same object, or a list of the same objects in the same order. */
function sameInput(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs a build's steps, taking the previous build's result of a step whose inputs are the same. */
export class Steps {
  readonly kept = new Map<string, { readonly inputs: readonly unknown[]; readonly value: unknown }>();
  /** Steps computed (not reused) by this build, for tests. */
  readonly computed: string[] = [];

  constructor(private readonly previous?: KeptSteps) {}

  /**
   * `compute()`'s result, or the previous build's when `inputs` are the same; with `keepEqual`,
   * a computed result is passed with the previous one to keep what is equal in content.
   */
  run<T>(name: string, inputs: readonly unknown[], compute: () => T, keepEqual?: (previous: T, next: T) => T): T {
    const before = this.previous?.get(name);
    let value: T;
    if (before && before.inputs.length === inputs.length && before.inputs.every((x, i) => sameInput(x, inputs[i]))) value = before.value as T;
    else {
      this.computed.push(name);
      value = compute();
      if (before && keepEqual) value = keepEqual(before.value as T, value);
    }
    this.kept.set(name, { inputs, value });
    return value;
  }
}

/** `steps` without those named. */
export function withoutSteps(steps: KeptSteps, names: readonly string[]): KeptSteps {
  return new Map([...steps].filter(([name]) => !names.includes(name)));
}

/**
 * `next` with each item replaced by the previous build's item of the same key where the two are
 * equal in content; `previous` itself when every item is kept, in the same order.
 */
export function keepEqualItems<T>(previous: readonly T[], next: readonly T[], key: (item: T) => string): readonly T[] {
  const byKey = new Map<string, T>();
  for (const p of previous) if (!byKey.has(key(p))) byKey.set(key(p), p);
  let all = previous.length === next.length;
  const out = next.map((n, i) => {
    const p = byKey.get(key(n));
    const kept = p !== undefined && deepEqual(p, n) ? p : n;
    if (all && kept !== previous[i]) all = false;
    return kept;
  });
  return all ? previous : out;
}

/** As keepEqualItems, for a Map's values (the keys and their order are `next`'s). */
export function keepEqualValues<M extends ReadonlyMap<unknown, unknown>>(previous: M, next: M): M {
  let all = previous.size === next.size;
  const pk = previous.keys();
  const out = new Map<unknown, unknown>();
  for (const [k, n] of next) {
    const p = previous.get(k);
    const kept = p !== undefined && deepEqual(p, n) ? p : n;
    if (all && (kept !== p || pk.next().value !== k)) all = false;
    out.set(k, kept);
  }
  return all ? previous : (out as unknown as M);
}
