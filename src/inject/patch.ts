/** RFC 6902 JSON Patch operations, built against the object as it was admitted. */
export interface PatchOp {
  readonly op: "add" | "replace";
  readonly path: string;
  readonly value: unknown;
}

/** A JSON Pointer token: `~` → `~0`, `/` → `~1` (label keys like `security.istio.io/tlsMode`). */
export function pointerToken(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Adds entries to a string map (labels, annotations) that may not exist yet. */
export function addToMap(path: string, current: Readonly<Record<string, string>> | undefined, entries: Readonly<Record<string, string>>): PatchOp[] {
  if (current === undefined) return [{ op: "add", path, value: { ...entries } }];
  return Object.entries(entries).map(([k, v]) => ({
    op: k in current ? ("replace" as const) : ("add" as const),
    path: `${path}/${pointerToken(k)}`,
    value: v,
  }));
}

/** Puts `items` at the front of an array that may not exist yet, in their order. */
export function prependToArray(path: string, current: readonly unknown[] | undefined, items: readonly unknown[]): PatchOp[] {
  if (current === undefined || current.length === 0) return [{ op: "add", path, value: [...items] }];
  return items.map((value, i) => ({ op: "add" as const, path: `${path}/${i}`, value }));
}

/** Adds `items` at the end of an array that may not exist yet, in their order. */
export function appendToArray(path: string, current: readonly unknown[] | undefined, items: readonly unknown[]): PatchOp[] {
  if (current === undefined || current.length === 0) return [{ op: "add", path, value: [...items] }];
  return items.map((value) => ({ op: "add" as const, path: `${path}/-`, value }));
}
