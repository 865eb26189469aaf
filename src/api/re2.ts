/**
 * Envoy's regex dialect is Google RE2: a route whose `safe_regex` RE2 cannot compile is NACKed, and a
 * pattern matches the whole value (RE2::FullMatch). Both the validation (where the error can name the
 * field) and `meshpilot explain`'s matching go through re2js, a maintained pure-JavaScript port of RE2,
 * so that what passes, what fails and what matches is RE2's own answer rather than a hand-written
 * approximation through JavaScript's backtracking engine (which has lookaround, backreferences and
 * different escapes).
 */
import type * as Re2js from "re2js";
import type { RE2JSSyntaxException } from "re2js";
import { lazyModule } from "../lazy-module.js";

/** Loaded with the first pattern: a configuration without regexes never needs it. */
const re2js = lazyModule<typeof Re2js>("re2js");

/** A compiled pattern, or why RE2 refuses it. */
export type Re2Compiled = { readonly ok: true; readonly re: Re2 } | { readonly ok: false; readonly reason: string };

/** The operations callers need, with Envoy's semantics. */
export interface Re2 {
  /** RE2::FullMatch: the pattern must match all of `input`. */
  fullMatch(input: string): boolean;
  /** Every match replaced by `substitution`, where `\1`…`\9` are capture groups (Envoy's regex_rewrite). */
  replaceAll(input: string, substitution: string): string;
}

const cache = new Map<string, Re2Compiled>();
const CACHE_LIMIT = 1000;

/** `pattern` compiled once (patterns repeat across routes and requests). */
export function compileRe2(pattern: string): Re2Compiled {
  const known = cache.get(pattern);
  if (known) return known;
  const compiled = compileUncached(pattern);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

function compileUncached(pattern: string): Re2Compiled {
  try {
    const { RE2JS } = re2js();
    const re = RE2JS.compile(pattern);
    return {
      ok: true,
      re: {
        fullMatch: (input) => re.matches(input),
        replaceAll: (input, substitution) => re.matcher(input).replaceAll(toJavaReplacement(substitution), true),
      },
    };
  } catch (e) {
    if (e instanceof re2js().RE2JSSyntaxException) return { ok: false, reason: reasonOf(e) };
    return { ok: false, reason: `invalid regular expression: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Constructs of other regex dialects that users bring along, named so the reason says what to drop. */
const FOREIGN: readonly [RegExp, string][] = [
  [/`\(\?[=!]/, "lookahead is not supported by RE2"],
  [/`\(\?<[=!]/, "lookbehind is not supported by RE2"],
  [/`\(\?>/, "atomic groups are not supported by RE2"],
  [/`\(\?#/, "comments are not supported by RE2"],
  [/`\(\?P/, "named backreferences and recursion are not supported by RE2"],
  [/escape sequence: `\\[1-9]`/, "backreferences are not supported by RE2"],
  [/nested repetition operator: `.*\+`/, "possessive quantifiers are not supported by RE2"],
];

/** "error parsing regexp: missing closing ): `(abc`" → the reason as RE2 states it, and what a foreign construct is. */
function reasonOf(e: RE2JSSyntaxException): string {
  const text = e.message.replace(/^error parsing regexp: /, "");
  const hint = FOREIGN.find(([re]) => re.test(text))?.[1];
  return hint ? `${text} (${hint})` : text;
}

/** Envoy's `\N` group references → re2js's Java-mode `$N` (a literal `$` escaped). */
function toJavaReplacement(s: string): string {
  return s.replace(/\\(\d)|\$|\\\\/g, (m: string, d?: string) => (d !== undefined ? `$${d}` : m === "$" ? "\\$" : "\\\\"));
}

/** The reason RE2 would reject `pattern`, or undefined when it is acceptable. */
export function validateRe2(pattern: string): string | undefined {
  const c = compileRe2(pattern);
  return c.ok ? undefined : c.reason;
}
