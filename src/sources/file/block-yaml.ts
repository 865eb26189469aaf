/**
 * The plainest YAML a config directory holds, read without a general parser: block mappings and
 * sequences, one entry a line, keys of letters, digits and `_./-`, plain or simply quoted scalars,
 * `{}` and `[]`. That is what kubectl, the `yaml` package and js-yaml write for Kubernetes objects,
 * and js-yaml took about 85 ms of CPU for the 700 objects of 50 services at start-up (issue 12
 * item 3); this reading takes a fraction of that.
 *
 * Everything else is declined (`DECLINED`), and the caller reads the document with js-yaml as
 * before: flow collections with content, block scalars (`|`, `>`), scalars over several lines,
 * escapes, comments after content, tabs, keys that resolve to something other than a string, a
 * key twice, and any line it cannot place. Plain scalars resolve as YAML 1.2's core schema does
 * (`scalars`, shared with js-yaml's schema in fast-yaml.ts), so both readings give the same value.
 */

/** The reading of a plain scalar: the first of the core schema's types whose test matches. */
export interface ScalarType {
  readonly test: RegExp;
  readonly construct: (s: string) => unknown;
}

export const DECLINED: unique symbol = Symbol("declined");

/** A mapping key read as is: a plain scalar of these characters that resolves to a string. */
const KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
/** Entry of a mapping: `key:` alone or followed by a space and its value. */
const ENTRY = /^([A-Za-z_][A-Za-z0-9_./-]*):(?: +(.*))?$/;
/** Characters that start something other than a plain scalar (a `-` followed by a space is a sequence). */
const INDICATOR = /^[?:,[\]{}#&*!|>'"%@`]|^-(?: |$)/;
/** Tabs, and what js-yaml refuses or YAML reads as a line break: control characters, unpaired surrogates, NEL, LS, PS. */
// eslint-disable-next-line no-control-regex
const UNREAD = /[\t\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\uFFFE\uFFFF\u2028\u2029]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/;

interface Lines {
  readonly indent: number[];
  readonly text: string[];
}

/**
 * The value of the document in `lines[start, end)`, or DECLINED. `scalars` resolve plain scalars;
 * `maxDepth` bounds the nesting it follows (deeper documents are declined).
 */
export function blockValue(lines: readonly string[], start: number, end: number, scalars: readonly ScalarType[], maxDepth: number): unknown {
  const l: Lines = { indent: [], text: [] };
  for (let i = start; i < end; i++) {
    const line = lines[i]!;
    if (UNREAD.test(line)) return DECLINED;
    let n = 0;
    while (line.charCodeAt(n) === 32) n++;
    if (n === line.length || line.charCodeAt(n) === 35 /* # */) continue; // blank or a comment line
    l.indent.push(n);
    // YAML's white space is space and tab only: String.trimEnd would also take a no-break space.
    let e = line.length;
    while (line.charCodeAt(e - 1) === 32) e--;
    l.text.push(line.slice(n, e));
  }
  if (l.text.length === 0 || l.indent[0] !== 0) return DECLINED;
  const r = new Reader(l, scalars, maxDepth);
  const value = r.node(0, 0);
  return r.at === l.text.length ? value : DECLINED;
}

class Reader {
  /** The next line to read. */
  at = 0;

  constructor(
    private readonly l: Lines,
    private readonly scalars: readonly ScalarType[],
    private readonly maxDepth: number,
  ) {}

  /** The mapping or sequence whose lines start at `at` with indentation `indent`. */
  node(indent: number, depth: number): unknown {
    if (depth > this.maxDepth) return DECLINED;
    const text = this.l.text[this.at]!;
    return text === "-" || text.startsWith("- ") ? this.sequence(indent, depth) : this.mapping(indent, undefined, depth);
  }

  /** Entries at `indent`; `first` is the text of the first entry when it follows a sequence's `- `. */
  mapping(indent: number, first: string | undefined, depth: number): unknown {
    const out: Record<string, unknown> = {};
    let text = first;
    if (text === undefined) {
      text = this.l.text[this.at]!;
      if (this.l.indent[this.at] !== indent) return DECLINED;
    }
    for (;;) {
      const m = ENTRY.exec(text);
      const key = m?.[1];
      if (key === undefined || key === "__proto__" || this.resolve(key) !== key || Object.hasOwn(out, key)) return DECLINED;
      this.at++;
      const rest = m![2];
      let value: unknown;
      if (rest !== undefined && rest !== "") value = this.scalar(rest);
      else if (this.at < this.l.text.length && this.l.indent[this.at]! > indent) value = this.node(this.l.indent[this.at]!, depth + 1);
      else if (this.at < this.l.text.length && this.l.indent[this.at] === indent && this.isItem(this.at)) value = this.sequence(indent, depth + 1);
      else value = null;
      if (value === DECLINED) return DECLINED;
      out[key] = value;
      if (this.at >= this.l.text.length || this.l.indent[this.at]! < indent) return out;
      if (this.l.indent[this.at]! > indent) return DECLINED; // a line that continues nothing (a scalar over several lines)
      text = this.l.text[this.at]!;
      if (this.isItem(this.at)) return out; // the parent's sequence goes on at this indentation
    }
  }

  /** Items `- ` at `indent`. */
  sequence(indent: number, depth: number): unknown {
    if (depth > this.maxDepth) return DECLINED;
    const out: unknown[] = [];
    while (this.at < this.l.text.length && this.l.indent[this.at] === indent && this.isItem(this.at)) {
      const text = this.l.text[this.at]!;
      let skip = 1;
      while (text.charCodeAt(skip) === 32) skip++;
      const rest = text.slice(skip);
      if (rest === "" || rest === "-" || rest.startsWith("- ")) return DECLINED; // an empty item, or a sequence in a sequence
      let value: unknown;
      if (ENTRY.test(rest)) value = this.mapping(indent + skip, rest, depth + 1);
      else {
        value = this.scalar(rest);
        this.at++;
      }
      if (value === DECLINED) return DECLINED;
      out.push(value);
    }
    if (this.at < this.l.text.length && this.l.indent[this.at]! > indent) return DECLINED;
    return out;
  }

  private isItem(i: number): boolean {
    const t = this.l.text[i]!;
    return t === "-" || t.startsWith("- ");
  }

  /** A scalar on the rest of a line (already trimmed at its end). */
  private scalar(s: string): unknown {
    if (s === "{}") return {};
    if (s === "[]") return [];
    const q = s.charCodeAt(0);
    if (q === 34 /* " */) {
      const inner = s.slice(1, -1);
      return s.length >= 2 && s.endsWith('"') && !inner.includes('"') && !inner.includes("\\") ? inner : DECLINED;
    }
    if (q === 39 /* ' */) {
      const inner = s.slice(1, -1);
      return s.length >= 2 && s.endsWith("'") && !inner.replaceAll("''", "").includes("'") ? inner.replaceAll("''", "'") : DECLINED;
    }
    if (INDICATOR.test(s) || s.includes(": ") || s.endsWith(":") || s.includes(" #")) return DECLINED;
    return this.resolve(s);
  }

  private resolve(s: string): unknown {
    for (const t of this.scalars) if (t.test.test(s)) return t.construct(s);
    return s;
  }
}

/** Whether `key` would be read as a key of this reading (for tests). */
export const isPlainKey = (key: string): boolean => KEY.test(key);
