// Copies of small objects that are kept (and frozen) for as long as their input object lives.
//
// V8 gives an object made by spreading another (`{ ...v }`, `{ ...v, line }`) a hidden class of
// its own once it is frozen or extended: every stored object's labels and source location then
// had its own class (~200 bytes each, two per object), and the first walk over an old object's
// keys (a rewrite comparing it with its new reading) added an enum cache to that class: memory
// that grew with every object an edit touched for the first time. Properties set one by one, in
// the same order, share one class per key sequence.

/** A copy of a map of strings (labels, annotations) whose hidden class is shared by maps with the same keys. */
export function copyRecord(v: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    // A key named __proto__ must stay an own property (as the spread kept it), not set the prototype.
    if (k === "__proto__") Object.defineProperty(out, k, { value: v[k], enumerable: true, writable: true, configurable: true });
    else out[k] = v[k];
  }
  return out;
}
