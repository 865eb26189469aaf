/**
 * From one decoded YAML/JSON document to a typed, validated input object, or diagnostics.
 *
 * Entry points: `parseDocument` (one document; expands a `v1 List`) and `parseObject` (one object).
 * Both are pure: the caller supplies where the document came from and how to find the line of a field.
 */
import { Codes } from "./codes.js";
import { DeferredFieldLines, type Diagnostic, type FieldLineTable, type ObjectRef, type Severity, type SourceLocation } from "./diagnostics.js";
import { deepFreeze } from "./equal.js";
import { isPlainObject } from "./istio-schema.js";
import { Issues, type Issue } from "./issues.js";
import { apiVersions, kindOfObject } from "./kinds.js";
import { objectKey, type ObjectKey, type StoredObject } from "./objects.js";
import { formatPath, type FieldPath, type PathSegment } from "./path.js";
import { normalizeMetadata } from "./validate-common.js";
import { describe } from "./validate-names.js";

/** Finds the 1-based line of a field path inside the document (undefined when unknown). */
export type LineLookup = (path: FieldPath) => number | undefined;

export interface ParseInput {
  /** The decoded document (plain objects, arrays, strings, numbers, booleans, null). */
  readonly value: unknown;
  /** File and document index; the line is filled in per diagnostic. */
  readonly source?: SourceLocation;
  readonly lineOf?: LineLookup;
  /** Without `lineOf`: the lines of the object's fields, worked out when first asked for (not for a `v1 List`). */
  readonly fieldLines?: DeferredFieldLines;
  /** The value's nesting depth (nestingDepth's), when the reader already walked it: not walked again. Not for a `v1 List`. */
  readonly depth?: number;
}

export type ParseResult =
  | { readonly status: "valid"; readonly key: ObjectKey; readonly stored: StoredObject; readonly diagnostics: readonly Diagnostic[] }
  /** Refused; `key` is set when kind/namespace/name could be read, so a source can keep the last valid version. */
  | { readonly status: "invalid"; readonly key?: ObjectKey; readonly ref?: ObjectRef; readonly diagnostics: readonly Diagnostic[] }
  /** Nothing to load: an empty document, or a kind meshpilot does not read. */
  | { readonly status: "skipped"; readonly diagnostics: readonly Diagnostic[] };

/** The namespace kubectl would use for a namespaced object that names none. */
export const DEFAULT_NAMESPACE = "default";

/** Deeper than any real object (a Pod's managedFields reach about 20); validators and copies recurse. */
export const MAX_NESTING = 100;

/** The nesting depth of plain data, counted without recursion and no further than `limit + 1`. */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d + 1 > deepest) deepest = d + 1;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

/** Parse one document; a `v1 List` yields one result per item (paths then start with `items[i]`). */
export function parseDocument(input: ParseInput): ParseResult[] {
  const v = input.value;
  if (isPlainObject(v) && v["kind"] === "List" && v["apiVersion"] === "v1" && Array.isArray(v["items"])) {
    return v["items"].map((item, i) => parseAt(item, input.source, input.lineOf, ["items", i]));
  }
  return [parseObject(input)];
}

/** Parse one object. */
export function parseObject(input: ParseInput): ParseResult {
  return parseAt(input.value, input.source, input.lineOf, [], input.fieldLines, input.depth);
}

function parseAt(
  value: unknown,
  source: SourceLocation | undefined,
  lineOf: LineLookup | undefined,
  prefix: FieldPath,
  deferred?: DeferredFieldLines,
  knownDepth?: number,
): ParseResult {
  const diag = (severity: Severity, code: string, path: FieldPath, message: string, object?: ObjectRef): Diagnostic => {
    const full = [...prefix, ...path];
    const line = lineAt(lineOf, full) ?? source?.line;
    return {
      severity,
      code,
      message,
      ...(object ? { object } : {}),
      ...(full.length > 0 ? { path: formatPath(full) } : {}),
      ...(source || line !== undefined ? { source: { ...source, ...(line !== undefined ? { line } : {}) } } : {}),
    };
  };

  if (value === null || value === undefined) return { status: "skipped", diagnostics: [] };
  if (!isPlainObject(value)) {
    return {
      status: "invalid",
      diagnostics: [diag("error", Codes.NotAnObject, [], `not a Kubernetes object: expected a map with apiVersion and kind, got ${describe(value)}`)],
    };
  }
  const apiVersion = value["apiVersion"];
  const kind = value["kind"];
  const meta = isPlainObject(value["metadata"]) ? value["metadata"] : {};
  const rawName = typeof meta["name"] === "string" && meta["name"] !== "" ? meta["name"] : undefined;
  const rawNs = typeof meta["namespace"] === "string" && meta["namespace"] !== "" ? meta["namespace"] : undefined;
  if (typeof kind !== "string" || kind === "" || typeof apiVersion !== "string" || apiVersion === "") {
    const ds: Diagnostic[] = [];
    const ref: ObjectRef = {
      kind: typeof kind === "string" && kind ? kind : "<no kind>",
      ...(rawNs ? { namespace: rawNs } : {}),
      ...(rawName ? { name: rawName } : {}),
    };
    if (typeof apiVersion !== "string" || apiVersion === "")
      ds.push(diag("error", Codes.NotAnObject, ["apiVersion"], `not a Kubernetes object: apiVersion is required (a string), got ${describe(apiVersion)}`, ref));
    if (typeof kind !== "string" || kind === "")
      ds.push(diag("error", Codes.NotAnObject, ["kind"], `not a Kubernetes object: kind is required (a string), got ${describe(kind)}`, ref));
    return { status: "invalid", ref, diagnostics: ds };
  }

  const spec = kindOfObject(apiVersion, kind);
  if (!spec) {
    const ref: ObjectRef = { kind, ...(rawNs ? { namespace: rawNs } : {}), ...(rawName ? { name: rawName } : {}) };
    const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
    const mesh = group.endsWith(".istio.io");
    return {
      status: "skipped",
      diagnostics: [
        diag(
          mesh ? "warning" : "info",
          Codes.UnknownKind,
          ["kind"],
          mesh
            ? `${apiVersion} ${kind} is not supported by meshpilot yet; skipped (it has no effect)`
            : `${apiVersion} ${kind} is not read by meshpilot; skipped`,
          ref,
        ),
      ],
    };
  }

  const namespace = spec.namespaced ? (rawNs ?? DEFAULT_NAMESPACE) : undefined;
  const ref: ObjectRef = { kind: spec.kind, ...(namespace ? { namespace } : {}), ...(rawName ? { name: rawName } : {}) };
  const key = rawName ? objectKey(spec.kind, namespace, rawName) : undefined;

  const depth = knownDepth ?? nestingDepth(value, MAX_NESTING);
  if (depth > MAX_NESTING) {
    return {
      status: "invalid",
      ...(key ? { key } : {}),
      ref,
      diagnostics: [diag("error", Codes.TooDeep, [], `nested more than ${MAX_NESTING} levels deep; no ${kind} is, so it is refused unread`, ref)],
    };
  }

  const accepted = apiVersions(spec);
  if (!accepted.includes(apiVersion)) {
    return {
      status: "invalid",
      ...(key ? { key } : {}),
      ref,
      diagnostics: [
        diag("error", Codes.UnsupportedApiVersion, ["apiVersion"], `apiVersion "${apiVersion}" is not supported for ${kind}; use ${accepted.join(", ")}`, ref),
      ],
    };
  }

  const issues = Issues.root();
  if (!spec.namespaced && rawNs) issues.at("metadata", "namespace").warning(`${kind} is cluster-scoped; metadata.namespace is ignored`);
  const metadata = normalizeMetadata(value["metadata"], issues.at("metadata"), spec.nameRule, namespace);
  if (value["metadata"] === undefined || value["metadata"] === null) issues.at("metadata").error("metadata is required (at least metadata.name)");
  const object = spec.validate(value, metadata, issues);

  const diagnostics = issues.all.map((i: Issue) => diag(i.severity, i.code ?? spec.schemaCode, i.path, i.message, ref));
  if (issues.hasErrors || !key) {
    return { status: "invalid", ...(key ? { key } : {}), ref, diagnostics };
  }
  const objLine = lineAt(lineOf, prefix) ?? source?.line;
  const fieldLines = lineOf ? specLines(value["spec"], lineOf, prefix) : value["spec"] !== undefined ? deferred : undefined;
  const stored: StoredObject = deepFreeze({
    object,
    source: storedSource(source, objLine, fieldLines && (fieldLines instanceof DeferredFieldLines || Object.keys(fieldLines).length) ? fieldLines : undefined),
  });
  return { status: "valid", key, stored, diagnostics };
}

/**
 * A stored object's source location, its fields set in one order: one hidden class for all (a
 * spread gives each frozen copy its own, see shaped-copy.ts).
 */
function storedSource(
  source: SourceLocation | undefined,
  line: number | undefined,
  fieldLines: FieldLineTable | DeferredFieldLines | undefined,
): SourceLocation {
  const out: { file?: string; document?: number; line?: number; fieldLines?: FieldLineTable | DeferredFieldLines } = {};
  if (source?.file !== undefined) out.file = source.file;
  if (source?.document !== undefined) out.document = source.document;
  if (line !== undefined) out.line = line;
  else if (source?.line !== undefined) out.line = source.line;
  if (fieldLines !== undefined) out.fieldLines = fieldLines;
  else if (source?.fieldLines !== undefined) out.fieldLines = source.fieldLines;
  return out;
}

/**
 * Lines of the fields under `spec`, so findings made after parsing (analyzers) can point at the
 * field rather than the document. Only lines that differ from the parent's are kept.
 */
export function specLines(spec: unknown, lineOf: LineLookup, prefix: FieldPath): FieldLineTable {
  const out: Record<string, number> = {};
  const walk = (v: unknown, path: PathSegment[], parentLine: number | undefined): void => {
    const line = lineAt(lineOf, [...prefix, ...path]);
    if (line !== undefined && line !== parentLine) out[formatPath(path)] = line;
    if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...path, i], line));
    else if (isPlainObject(v)) for (const [k, item] of Object.entries(v)) walk(item, [...path, k], line);
  };
  if (spec !== undefined) walk(spec, ["spec"], undefined);
  return out;
}

function lineAt(lineOf: LineLookup | undefined, path: FieldPath): number | undefined {
  if (!lineOf) return undefined;
  try {
    return lineOf(path);
  } catch {
    return undefined;
  }
}
