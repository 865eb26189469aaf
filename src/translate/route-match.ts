import type { HttpMatchModel, StringMatchModel as StringMatch } from "../model/routes.js";
import type { HeaderMatcherJson, QueryParameterMatcherJson, RouteMatchJson, StringMatcherJson } from "./envoy.js";

/** Istio StringMatch → Envoy StringMatcher; an empty match means "present". */
export function stringMatcher(m: StringMatch): StringMatcherJson | undefined {
  if ("exact" in m) return { exact: m.exact };
  if ("prefix" in m) return { prefix: m.prefix };
  if ("regex" in m) return { safeRegex: { regex: m.regex } };
  return undefined;
}

function headerMatcher(name: string, m: StringMatch, invert: boolean): HeaderMatcherJson {
  const sm = stringMatcher(m);
  if (!sm || ("regex" in m && m.regex === "*")) return { name, presentMatch: true, ...(invert ? { invertMatch: true } : {}) };
  return { name, stringMatch: sm, ...(invert ? { invertMatch: true, treatMissingHeaderAsEmpty: true } : {}) };
}

const NO_ENTRIES: readonly never[] = [];
const sortedEntries = <T>(r: Readonly<Record<string, T>> | undefined): readonly [string, T][] =>
  r === undefined ? NO_ENTRIES : Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * One VirtualService match block → Envoy RouteMatch (Istio's TranslateRouteMatch). With the
 * Gateway API's semantics a path prefix matches whole segments (`/foo` takes `/foo` and
 * `/foo/bar`, not `/foobar`), as Istio emits it for converted routes.
 */
export function routeMatch(m: HttpMatchModel | undefined, gatewaySemantics = false): RouteMatchJson {
  if (!m) return { prefix: "/" };
  const out: RouteMatchJson = {};
  const uri = m.uri;
  if (uri && "exact" in uri) out.path = uri.exact;
  else if (uri && "prefix" in uri && gatewaySemantics && uri.prefix.replace(/\/+$/, "") !== "") out.pathSeparatedPrefix = uri.prefix.replace(/\/+$/, "");
  else if (uri && "prefix" in uri) out.prefix = uri.prefix;
  else if (uri && "regex" in uri) out.safeRegex = { regex: uri.regex };
  else out.prefix = "/";
  out.caseSensitive = !m.ignoreUriCase;
  // Istio sorts the header and withoutHeaders matchers together by name (stable: a header
  // before a withoutHeaders of the same name), then appends :method, :authority and :scheme.
  const headers: HeaderMatcherJson[] = [
    ...sortedEntries(m.headers).map(([k, v]) => headerMatcher(k, v, false)),
    ...sortedEntries(m.withoutHeaders).map(([k, v]) => headerMatcher(k, v, true)),
  ].sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0));
  if (m.method) headers.push(headerMatcher(":method", m.method, false));
  if (m.authority) headers.push(headerMatcher(":authority", m.authority, false));
  if (m.scheme) headers.push(headerMatcher(":scheme", m.scheme, false));
  if (headers.length) out.headers = headers;
  const query: QueryParameterMatcherJson[] = sortedEntries(m.queryParams).map(([name, v]) => {
    const sm = stringMatcher(v);
    return sm ? { name, stringMatch: sm } : { name, presentMatch: true };
  });
  if (query.length) out.queryParameters = query;
  return out;
}

/** A match that takes every request: Istio stops emitting routes after one (later rules are unreachable). */
export function isCatchAll(m: RouteMatchJson): boolean {
  const everyPath = m.prefix === "/" || (m.safeRegex?.regex === ".*" && m.path === undefined);
  return everyPath && !m.headers?.length && !m.queryParameters?.length;
}
