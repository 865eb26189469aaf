// A parser's strings are, in V8, views (slices) of the text they were read from whenever they are
// 13 characters or longer. A value read from a file then keeps that file's whole text alive for as
// long as any of its strings lives: an object a rewrite left equal keeps its first reading (in the
// store and the file state), so under churn each rewrite of a file could keep one more copy of it.

/** Shorter strings are always copied by V8 (SlicedString::kMinLength). */
const SLICE_MIN = 13;

/**
 * Make every string of `value` (a freshly parsed YAML or JSON value: plain objects, arrays and
 * scalars; shared subtrees are fine) a copy of its own, in place. Returns `value`.
 */
export function ownStrings<T>(value: T): T {
  own(value, 0);
  return value;
}

function copy(s: string): string {
  // JSON.parse makes a new flat string, and keeps any character (a lone surrogate too).
  return s.length < SLICE_MIN ? s : (JSON.parse(JSON.stringify(s)) as string);
}

function own(value: unknown, depth: number): void {
  // Parsed values are bounded in depth by the reader; this only guards against a cycle.
  if (depth > 1000 || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === "string") value[i] = copy(v);
      else own(v, depth + 1);
    }
    return;
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (typeof v === "string") o[k] = copy(v);
    else own(v, depth + 1);
  }
}
