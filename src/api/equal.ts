/** Structural helpers for plain decoded data (objects, arrays, strings, numbers, booleans, null). */

/**
 * Structural equality of plain data; key order does not matter, array order does. Maps and Sets
 * (in model data) are equal when they hold equal entries in the same order.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") {
    return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b);
  }
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) return sameCollection(a as object, b as object);
  const aArr = Array.isArray(a);
  if (aArr !== Array.isArray(b)) return false;
  if (aArr) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], y[i])) return false;
    return true;
  }
  // Own enumerable keys with a defined value, as Object.keys would list them, without the four
  // arrays per object pair: the model's keeps and interning compare thousands of objects a build.
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let nx = 0;
  for (const k in x) {
    if (!hasOwn.call(x, k)) continue;
    const v = x[k];
    if (v === undefined) continue;
    nx++;
    if (!hasOwn.call(y, k) || !deepEqual(v, y[k])) return false;
  }
  let ny = 0;
  for (const k in y) if (hasOwn.call(y, k) && y[k] !== undefined) ny++;
  return nx === ny;
}

const hasOwn = Object.prototype.hasOwnProperty;

function sameCollection(a: object, b: object): boolean {
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    const keys = b.keys();
    for (const [k, v] of a) if (keys.next().value !== k || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    const values = b.values();
    for (const v of a) if (!deepEqual(v, values.next().value)) return false;
    return true;
  }
  return false;
}

/** Freeze plain data recursively; returns the same value, typed readonly by the caller's type. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    // Primitives need no call: most values of an object are.
    for (const v of Object.values(value as object)) if (v !== null && typeof v === "object") deepFreeze(v);
  }
  return value;
}

/** A copy of plain data with null values and undefined entries removed from maps (null = unset). */
export function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      out[k] = stripNulls(v);
    }
    return out;
  }
  return value;
}
