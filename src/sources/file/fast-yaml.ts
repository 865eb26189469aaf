/**
 * A quick first reading of a YAML file: plain values and the line where each document starts,
 * without the position of every node. `yaml` (the parser that gives exact positions and messages)
 * takes about six times as long and twice the memory on a config directory, and positions are
 * only needed for objects that get a diagnostic.
 *
 * js-yaml reads the documents here, with a schema that resolves plain scalars as YAML 1.2's core
 * schema does (the `yaml` package's default), so both give the same values. Anything where the two
 * could differ is declined (`undefined`), and the caller reads the file with `yaml` as before:
 * syntax js-yaml rejects (errors, duplicate keys, unknown tags), tags, directives, `...` markers,
 * merge keys, complex or null keys, shared (aliased) collections, content on a `---` line, and
 * documents nested too deep to be read (refused with a diagnostic, which names a line).
 */
import { hash } from "node:crypto";
import { FAILSAFE_SCHEMA, load, Type } from "js-yaml";
import { MAX_NESTING } from "../../api/parse.js";

/** One document of the file: its plain value and the 1-based line its content starts on. */
export interface QuickDocument {
  readonly value: unknown;
  /** Undefined for a document without content (its value is then null). */
  readonly line: number | undefined;
  /** Equal for two readings exactly when the document's text and its first line are equal (so are then its positions). */
  readonly key: string;
  /** The value's nesting depth (at most MAX_NESTING), for parseDocument; 0 without content. */
  readonly depth: number;
  /** The document's own text (a copy, not a view of the file's) and the 0-based line of the file it starts on. */
  readonly text: string;
  readonly offset: number;
}

// YAML 1.2 core schema resolution of plain scalars (the spec's regular expressions, in the order
// the `yaml` package tries them): null, bool, int (octal, decimal, hex), float (nan/inf, exp, dot).
const scalar = (tag: string, test: RegExp, construct: (s: string) => unknown): Type =>
  new Type(`tag:yaml.org,2002:${tag}`, {
    kind: "scalar",
    resolve: (s: string | null) => test.test(s ?? ""),
    construct: (s: string | null) => construct(s ?? ""),
  });

const CORE_1_2 = FAILSAFE_SCHEMA.extend({
  implicit: [
    scalar("null", /^(?:~|[Nn]ull|NULL)?$/, () => null),
    scalar("bool", /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === "t" || s[0] === "T"),
    scalar("int", /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/, (s) =>
      s.startsWith("0o") ? parseInt(s.slice(2), 8) : s.startsWith("0x") ? parseInt(s.slice(2), 16) : parseInt(s, 10),
    ),
    scalar(
      "float",
      /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/,
      (s) => (/nan$/i.test(s) ? NaN : /inf$/i.test(s) ? (s[0] === "-" ? -Infinity : Infinity) : parseFloat(s)),
    ),
  ],
});

/** Text the quick reading does not handle the way `yaml` does (a match sends the file to `yaml`). */
const DECLINE = [
  /^\uFEFF/, // a byte order mark
  /\r(?!\n)/, // a line break that is a lone CR
  /^%/m, // directives (%YAML 1.1 changes the schema)
  /^\.\.\.(?:\s|$)/m, // document end markers
  /(?:^|[\s,[{])[!&]/, // tags and anchors
  /<</, // merge keys
  /(?:^|\s)\?(?:\s|$)/, // explicit (possibly complex) keys
  /[\]}]\s*:(?:\s|$)/, // a flow collection as a key
];

// YAML's white space is space and tab only (not every character JavaScript's \s matches).
const MARKER = /^---(?=[ \t]|$)/;
const BARE_MARKER = /^---[ \t]*(?:#.*)?$/;
const CONTENT = /^[ \t]*[^ \t#]/;

/** The documents of `text` as `yaml`'s parseAllDocuments numbers them, or undefined to read it with `yaml`. */
export function quickDocuments(text: string): QuickDocument[] | undefined {
  if (DECLINE.some((re) => re.test(text))) return undefined;
  const lines = text.split(/\r?\n/);
  // Chunks between `---` lines. The text before the first marker is a document only if it has content.
  const chunks: { start: number; end: number; marked: boolean }[] = [];
  let start = 0;
  let marked = false;
  for (let i = 0; i <= lines.length; i++) {
    if (i < lines.length && !MARKER.test(lines[i]!)) continue;
    if (i < lines.length && !BARE_MARKER.test(lines[i]!)) return undefined; // content on the marker line
    chunks.push({ start, end: i, marked });
    start = i + 1;
    marked = true;
  }
  const docs: QuickDocument[] = [];
  for (const c of chunks) {
    let first: number | undefined;
    for (let i = c.start; i < c.end; i++) {
      if (CONTENT.test(lines[i]!)) {
        first = i;
        break;
      }
    }
    if (first === undefined && !c.marked) continue;
    const chunk = lines.slice(c.start, c.end).join("\n");
    const key = `${c.start}:${hash("sha256", chunk, "base64")}`;
    if (first === undefined) {
      docs.push({ value: null, line: undefined, key, depth: 0, text: chunk, offset: c.start });
      continue;
    }
    let value: unknown;
    try {
      value = load(chunk, { schema: CORE_1_2 });
    } catch {
      return undefined;
    }
    const depth = plainTreeDepth(value, MAX_NESTING);
    // Too deep: refused with a diagnostic, which the exact reading gives with its line.
    if (depth === undefined || depth > MAX_NESTING) return undefined;
    docs.push({ value: value ?? null, line: first + 1, key, depth, text: chunk, offset: c.start });
  }
  return docs;
}

/**
 * The nesting depth of a plain tree (as parseDocument counts it), or undefined when the tree is
 * not plain: a collection reached twice (an alias; `yaml` copies those and caps their count) or a
 * key js-yaml made of a null. One walk serves both checks, so parseDocument need not walk the
 * document again for its depth; it stops once deeper than `limit`.
 */
function plainTreeDepth(root: unknown, limit: number): number | undefined {
  const seen = new Set<object>();
  // Two stacks rather than one of pairs: no allocation per node.
  const values: unknown[] = [root];
  const depths: number[] = [0];
  let deepest = 0;
  while (values.length > 0) {
    const v = values.pop();
    const d = depths.pop()! + 1;
    if (v === null || typeof v !== "object") continue;
    if (seen.has(v)) return undefined;
    seen.add(v);
    if (d > deepest && (deepest = d) > limit) return deepest;
    if (Array.isArray(v)) {
      for (const x of v) {
        values.push(x);
        depths.push(d);
      }
      continue;
    }
    for (const k of Object.keys(v)) {
      if (k === "null") return undefined;
      values.push((v as Record<string, unknown>)[k]);
      depths.push(d);
    }
  }
  return deepest;
}
