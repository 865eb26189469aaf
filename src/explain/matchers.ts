/**
 * Envoy's request matchers, evaluated as Envoy evaluates them (route match, header matcher, query
 * parameter matcher, string matcher), each answering whether it matched and saying why in words.
 * Regular expressions go through RE2 (api/re2.ts) with full-match semantics, as Envoy's safe_regex.
 */
import { compileRe2 } from "../api/re2.js";
import type { HeaderMatcherJson, QueryParameterMatcherJson, RouteMatchJson, StringMatcherJson } from "../translate/envoy.js";
import { headerValue, type ExplainRequest } from "./request.js";

export interface Verdict {
  readonly ok: boolean;
  /** What was tested and what the request had. */
  readonly why: string;
}

const q = (s: string | undefined): string => (s === undefined ? "(absent)" : JSON.stringify(s));

/** A regex that Envoy would have refused never matches here (Envoy would have NACKed the config). */
function regexMatch(pattern: string, value: string): boolean {
  const c = compileRe2(pattern);
  return c.ok && c.re.fullMatch(value);
}

/** StringMatcher; `ignoreCase` lowers both sides except for regex (RE2 has `(?i)` for that). */
export function stringMatches(m: StringMatcherJson, value: string): boolean {
  const ic = m.ignoreCase === true;
  const v = ic ? value.toLowerCase() : value;
  const t = (s: string) => (ic ? s.toLowerCase() : s);
  if (m.exact !== undefined) return v === t(m.exact);
  if (m.prefix !== undefined) return v.startsWith(t(m.prefix));
  if (m.suffix !== undefined) return v.endsWith(t(m.suffix));
  if (m.contains !== undefined) return v.includes(t(m.contains));
  if (m.safeRegex?.regex !== undefined) return regexMatch(m.safeRegex.regex, value);
  return false;
}

export function describeStringMatcher(m: StringMatcherJson): string {
  const ic = m.ignoreCase ? " (ignoring case)" : "";
  if (m.exact !== undefined) return `exact ${q(m.exact)}${ic}`;
  if (m.prefix !== undefined) return `prefix ${q(m.prefix)}${ic}`;
  if (m.suffix !== undefined) return `suffix ${q(m.suffix)}${ic}`;
  if (m.contains !== undefined) return `contains ${q(m.contains)}${ic}`;
  if (m.safeRegex?.regex !== undefined) return `regex ${q(m.safeRegex.regex)}`;
  return "an unsupported string matcher";
}

function describeHeaderMatcher(h: HeaderMatcherJson): string {
  const inv = h.invertMatch ? "not " : "";
  if (h.presentMatch !== undefined) return `${inv}${h.presentMatch ? "present" : "absent"}`;
  if (h.stringMatch) return `${inv}${describeStringMatcher(h.stringMatch)}`;
  if (h.exactMatch !== undefined) return `${inv}exact ${q(h.exactMatch)}`;
  if (h.prefixMatch !== undefined) return `${inv}prefix ${q(h.prefixMatch)}`;
  if (h.suffixMatch !== undefined) return `${inv}suffix ${q(h.suffixMatch)}`;
  if (h.containsMatch !== undefined) return `${inv}contains ${q(h.containsMatch)}`;
  if (h.safeRegexMatch?.regex !== undefined) return `${inv}regex ${q(h.safeRegexMatch.regex)}`;
  if (h.rangeMatch) return `${inv}in [${h.rangeMatch.start ?? 0}, ${h.rangeMatch.end ?? 0})`;
  return `${inv}present`;
}

/**
 * HeaderMatcher. A missing header fails every matcher except `present_match: false` (and, inverted,
 * passes only an inverted `present_match: true`), unless `treat_missing_header_as_empty` makes it "".
 * Repeated headers are joined with "," first.
 */
export function headerMatches(h: HeaderMatcherJson, req: ExplainRequest): Verdict {
  const name = h.name ?? "";
  const got = headerValue(req, name);
  const what = `header ${name} ${describeHeaderMatcher(h)}`;
  const verdict = (ok: boolean): Verdict => ({ ok, why: `${what}: ${ok ? "yes" : "no"}, the request has ${q(got)}` });
  const present = h.presentMatch !== undefined;
  if (got === undefined && !h.treatMissingHeaderAsEmpty) {
    return verdict(h.invertMatch ? present && h.presentMatch === true : present && h.presentMatch === false);
  }
  const value = got ?? "";
  let match: boolean;
  if (present) match = h.presentMatch === true;
  else if (h.stringMatch) match = stringMatches(h.stringMatch, value);
  else if (h.exactMatch !== undefined) match = h.exactMatch === "" || value === h.exactMatch;
  else if (h.prefixMatch !== undefined) match = value.startsWith(h.prefixMatch);
  else if (h.suffixMatch !== undefined) match = value.endsWith(h.suffixMatch);
  else if (h.containsMatch !== undefined) match = value.includes(h.containsMatch);
  else if (h.safeRegexMatch?.regex !== undefined) match = regexMatch(h.safeRegexMatch.regex, value);
  else if (h.rangeMatch) {
    const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
    match = Number.isFinite(n) && n >= Number(h.rangeMatch.start ?? 0) && n < Number(h.rangeMatch.end ?? 0);
  } else match = true;
  return verdict(match !== (h.invertMatch === true));
}

/** The request's query parameters, percent-decoded; a name without `=` has the value "". */
export function queryParams(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const qi = path.indexOf("?");
  if (qi < 0) return out;
  for (const part of path
    .slice(qi + 1)
    .split("#")[0]!
    .split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? "" : decode(part.slice(eq + 1));
    out.set(name, [...(out.get(name) ?? []), value]);
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** QueryParameterMatcher: the first value of the parameter is tested; a missing one never matches. */
export function queryMatches(m: QueryParameterMatcherJson, req: ExplainRequest): Verdict {
  const name = m.name ?? "";
  const first = queryParams(req.path).get(name)?.[0];
  const what = `query parameter ${name} ${m.presentMatch ? "present" : m.stringMatch ? describeStringMatcher(m.stringMatch) : "present"}`;
  const ok = first !== undefined && (m.stringMatch ? stringMatches(m.stringMatch, first) : true);
  return { ok, why: `${what}: ${ok ? "yes" : "no"}, the request has ${q(first)}` };
}

/** The path Envoy's path matchers see: without query string and fragment. */
export function pathOnly(path: string): string {
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

/** RouteMatch's path specifier; `case_sensitive: false` affects prefix, path and path_separated_prefix, never a regex. */
export function pathMatches(m: RouteMatchJson, path: string): Verdict | undefined {
  const p = pathOnly(path);
  const ci = m.caseSensitive === false;
  const t = (s: string) => (ci ? s.toLowerCase() : s);
  const ic = ci ? " (ignoring case)" : "";
  const say = (ok: boolean, what: string): Verdict => ({ ok, why: `${what}${ic}: ${ok ? "yes" : "no"}, the path is ${q(p)}` });
  if (m.prefix !== undefined) return say(t(p).startsWith(t(m.prefix)), `path prefix ${q(m.prefix)}`);
  if (m.path !== undefined) return say(t(p) === t(m.path), `path exactly ${q(m.path)}`);
  if (m.safeRegex?.regex !== undefined)
    return {
      ok: regexMatch(m.safeRegex.regex, p),
      why: `path regex ${q(m.safeRegex.regex)}: ${regexMatch(m.safeRegex.regex, p) ? "yes" : "no"}, the path is ${q(p)}`,
    };
  if (m.pathSeparatedPrefix !== undefined) {
    const pre = t(m.pathSeparatedPrefix);
    const v = t(p);
    return say(v === pre || v.startsWith(`${pre}/`), `path segment prefix ${q(m.pathSeparatedPrefix)}`);
  }
  return undefined;
}

export interface RouteMatchVerdict {
  readonly ok: boolean;
  /** Every condition of the match, in Envoy's order, with its outcome. */
  readonly checks: readonly Verdict[];
  /** Conditions this tool cannot evaluate (it then assumes they hold, and says so). */
  readonly unsupported: readonly string[];
  /** A runtime fraction: the route takes only this share of the requests it matches. */
  readonly fraction?: number;
}

/** Does `m` take the request? */
export function routeMatches(m: RouteMatchJson, req: ExplainRequest): RouteMatchVerdict {
  const checks: Verdict[] = [];
  const unsupported: string[] = [];
  const path = pathMatches(m, req.path);
  if (path) checks.push(path);
  else unsupported.push("a path specifier other than prefix, path, safe_regex or path_separated_prefix");
  for (const h of m.headers ?? []) checks.push(headerMatches(h, req));
  for (const qp of m.queryParameters ?? []) checks.push(queryMatches(qp, req));
  if (m.grpc) {
    const ct = headerValue(req, "content-type") ?? "";
    const ok = ct.startsWith("application/grpc");
    checks.push({ ok, why: `gRPC request (content-type application/grpc…): ${ok ? "yes" : "no"}, the request has ${q(ct || undefined)}` });
  }
  if (m.tlsContext) unsupported.push("tls_context");
  if (m.dynamicMetadata?.length) unsupported.push("dynamic_metadata");
  const rf = m.runtimeFraction?.defaultValue;
  const fraction = rf ? (rf.numerator ?? 0) / denominatorOf(rf.denominator) : undefined;
  return { ok: checks.every((c) => c.ok), checks, unsupported, ...(fraction !== undefined ? { fraction } : {}) };
}

/** An Envoy FractionalPercent's denominator. */
export function denominatorOf(d: string | undefined): number {
  return d === "MILLION" ? 1_000_000 : d === "TEN_THOUSAND" ? 10_000 : 100;
}
