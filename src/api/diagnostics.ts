import { Codes } from "./codes.js";
/** Where an input object came from, so an error can point at it. */
export interface SourceLocation {
  readonly file?: string;
  /** 1-based index of the YAML document inside the file. */
  readonly document?: number;
  /** 1-based line of the field (or of the document when the field has no position). */
  readonly line?: number;
  /** Lines of fields under `spec` by path (`spec.http[0].route`), where they differ from their parent's. */
  readonly fieldLines?: FieldLineTable | DeferredFieldLines;
}

export type FieldLineTable = Readonly<Record<string, number>>;

/**
 * A field-line table worked out when a finding first asks for it: reading YAML with the position of
 * every node costs several times a plain reading, and most objects never have a finding.
 * Structural equality (deepEqual) sees only `key`: equal keys give equal tables.
 */
export class DeferredFieldLines {
  readonly key: string;
  readonly #compute: () => FieldLineTable;
  #table: FieldLineTable | undefined;

  constructor(key: string, compute: () => FieldLineTable) {
    this.key = key;
    this.#compute = compute;
  }

  get table(): FieldLineTable {
    return (this.#table ??= this.#compute());
  }
}

/**
 * Where a finding about `path` of an object stands: the line of that field, else of its nearest
 * ancestor, else the object's own line. The field-line table itself is not repeated.
 */
export function locateField(source: SourceLocation, path: string | undefined): SourceLocation {
  const { fieldLines: lines, ...rest } = source;
  const fieldLines = !path ? undefined : lines instanceof DeferredFieldLines ? lines.table : lines;
  let p = path;
  while (p && fieldLines) {
    const line = fieldLines[p];
    if (line !== undefined) return { ...rest, line };
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    p = cut > 0 ? p.slice(0, cut) : undefined;
  }
  return rest;
}

export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
}

export type Severity = "error" | "warning" | "info";

/**
 * A finding about user input. Pure layers return these instead of throwing; `code` uses Istio's
 * analyzer codes where one exists (IST0101, …) and `MP…` for meshpilot's own.
 */
export interface Diagnostic {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
  readonly object?: ObjectRef;
  /** Field path inside the object, e.g. `spec.http[0].route[1].weight`. */
  readonly path?: string;
  readonly source?: SourceLocation;
}

export function formatObjectRef(ref: ObjectRef): string {
  const ns = ref.namespace ? `${ref.namespace}/` : "";
  return `${ref.kind} ${ns}${ref.name ?? "<unnamed>"}`;
}

/** One line a person can read: where, what, why. */
export function formatDiagnostic(d: Diagnostic): string {
  const where: string[] = [];
  if (d.source?.file) {
    let loc = d.source.file;
    if (d.source.document !== undefined) loc += ` (document ${d.source.document}`;
    if (d.source.line !== undefined) loc += d.source.document !== undefined ? `, line ${d.source.line}` : `:${d.source.line}`;
    if (d.source.document !== undefined) loc += ")";
    where.push(loc);
  }
  if (d.object) where.push(formatObjectRef(d.object));
  if (d.path) where.push(d.path);
  return `${d.severity} ${d.code} ${where.join(" ")}: ${d.message}`;
}

/** Each finding once (the same line twice is one finding), in first-seen order. */
export function uniqueDiagnostics(all: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return all.filter((d) => {
    const k = formatDiagnostic(d);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A field meshpilot reads but does not translate yet (MP0010), with what that means for traffic. */
export function notTranslatedYet(object: ObjectRef, path: string, effect: string): Diagnostic {
  return { severity: "warning", code: Codes.NotTranslated, message: `not translated yet: ${effect}`, object, path };
}
