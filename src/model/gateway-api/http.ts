/**
 * HTTPRoute and GRPCRoute rules → Istio VirtualService `http` routes, as istiod converts them:
 * one Istio route per match, ordered by the Gateway API's precedence (exact path, then longer
 * prefixes, then method, headers and query parameters), filters as header operations, redirect,
 * rewrite and mirrors, weighted backends as weighted destinations.
 */
import type { GRPCRouteRule, HTTPBackendRef, HTTPRouteFilter, HTTPRouteMatch, HTTPRouteRule, ValueMatch } from "../../api/gateway-api/types.js";
import type { Headers, HTTPMatchRequest, HTTPRoute, HTTPRouteDestination, StringMatch } from "../../api/istio-types.js";
import { GatewayApiCodes } from "./codes.js";
import { REDIRECT_PREFIX_MARKER } from "../names.js";
import { resolveBackend, weightedBackends, type RefIndex } from "./refs.js";

export interface RuleContext {
  readonly idx: RefIndex;
  readonly routeKind: "HTTPRoute" | "GRPCRoute";
  readonly namespace: string;
  /** For a Service parent (GAMMA): only requests to this port. */
  readonly port?: number;
  readonly problem: (code: string, path: string, message: string, reason?: string, severity?: "error" | "warning") => void;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function valueMatches(list: readonly ValueMatch[] | undefined, lower: boolean): Record<string, StringMatch> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, StringMatch> = {};
  // The spec: the first entry of a name wins (names are case-insensitive for headers).
  for (const m of list) {
    const name = lower ? m.name.toLowerCase() : m.name;
    if (name in out) continue;
    out[name] = m.type === "RegularExpression" ? { regex: m.value } : { exact: m.value };
  }
  return out;
}

function httpMatch(m: HTTPRouteMatch, port: number | undefined): HTTPMatchRequest {
  const p = m.path ?? { type: "PathPrefix", value: "/" };
  const value = p.value ?? "/";
  const uri: StringMatch =
    p.type === "Exact"
      ? { exact: value }
      : p.type === "RegularExpression"
        ? { regex: value }
        : { prefix: value.length > 1 ? value.replace(/\/+$/, "") : value };
  const headers = valueMatches(m.headers, true);
  const queryParams = valueMatches(m.queryParams, false);
  return {
    uri,
    ...(headers ? { headers } : {}),
    ...(queryParams ? { queryParams } : {}),
    ...(m.method ? { method: { exact: m.method } } : {}),
    ...(port ? { port } : {}),
  };
}

function grpcMatch(m: NonNullable<GRPCRouteRule["matches"]>[number], port: number | undefined): HTTPMatchRequest {
  const headers = valueMatches(m.headers, true);
  const mm = m.method;
  let uri: StringMatch | undefined;
  if (mm) {
    const service = mm.service;
    const method = mm.method;
    if ((mm.type ?? "Exact") === "Exact") {
      if (service && method) uri = { exact: `/${service}/${method}` };
      else if (service) uri = { prefix: `/${service}/` };
      else if (method) uri = { regex: `/[^/]+/${escapeRe(method)}` };
    } else uri = { regex: `/${service ?? "[^/]+"}/${method ?? "[^/]+"}` };
  }
  return { ...(uri ? { uri } : {}), ...(headers ? { headers } : {}), ...(port ? { port } : {}) };
}

/** Sort key of one match by the Gateway API's precedence (smaller first). */
function precedence(m: HTTPMatchRequest): [number, number, number, number, number] {
  const u = m.uri as Record<string, string> | undefined;
  const kind = u?.["exact"] !== undefined ? 0 : u?.["regex"] !== undefined ? 1 : 2;
  const len = u?.["exact"]?.length ?? u?.["regex"]?.length ?? u?.["prefix"]?.length ?? 0;
  return [kind, -len, m.method ? 0 : 1, -Object.keys(m.headers ?? {}).length, -Object.keys(m.queryParams ?? {}).length];
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function headerOps(f: HTTPRouteFilter["requestHeaderModifier"]): NonNullable<Headers["request"]> {
  const set = Object.fromEntries((f?.set ?? []).map((h) => [h.name.toLowerCase(), h.value]));
  const add = Object.fromEntries((f?.add ?? []).map((h) => [h.name.toLowerCase(), h.value]));
  return {
    ...(Object.keys(set).length ? { set } : {}),
    ...(Object.keys(add).length ? { add } : {}),
    ...(f?.remove?.length ? { remove: f.remove.map((r) => r.toLowerCase()) } : {}),
  };
}

function headersOf(filters: readonly HTTPRouteFilter[]): Headers | undefined {
  const req = filters.find((f) => f.type === "RequestHeaderModifier")?.requestHeaderModifier;
  const res = filters.find((f) => f.type === "ResponseHeaderModifier")?.responseHeaderModifier;
  if (!req && !res) return undefined;
  return { ...(req ? { request: headerOps(req) } : {}), ...(res ? { response: headerOps(res) } : {}) };
}

/** The rules of one route as Istio http routes (one per match), in precedence order within the route. */
export function convertHttpRules(rules: readonly (HTTPRouteRule | GRPCRouteRule)[], routeName: string, ctx: RuleContext): HTTPRoute[] {
  const out: { key: [number, number, number, number, number]; order: number; route: HTTPRoute }[] = [];
  rules.forEach((rule, ri) => {
    const path = `spec.rules[${ri}]`;
    const filters = rule.filters ?? [];
    const base = ruleAction(rule, filters, path, ctx);
    if (!base) return;
    const matches: HTTPMatchRequest[] =
      ctx.routeKind === "GRPCRoute"
        ? ((rule as GRPCRouteRule).matches ?? [{}]).map((m) => grpcMatch(m, ctx.port))
        : ((rule as HTTPRouteRule).matches ?? [{}]).map((m) => httpMatch(m, ctx.port));
    matches.forEach((m, mi) => {
      const name = `${routeName}.${rule.name ?? ri}${matches.length > 1 ? `.${mi}` : ""}`;
      const rewrite = prefixRewrite(filters, m, `${path}.filters`, ctx);
      const match = Object.keys(m).length ? [m] : undefined;
      out.push({ key: precedence(m), order: out.length, route: { name, ...(match ? { match } : {}), ...base, ...(rewrite ? { rewrite } : {}) } });
    });
  });
  return out.sort((a, b) => compareKeys(a.key, b.key) || a.order - b.order).map((r) => r.route);
}

/** URLRewrite of the path needs the match (a prefix rewrite replaces the matched prefix). */
function prefixRewrite(filters: readonly HTTPRouteFilter[], m: HTTPMatchRequest, path: string, ctx: RuleContext): HTTPRoute["rewrite"] | undefined {
  const rw = filters.find((f) => f.type === "URLRewrite")?.urlRewrite;
  if (!rw) return undefined;
  const authority = rw.hostname ? { authority: rw.hostname } : {};
  const p = rw.path;
  if (!p) return authority;
  if (p.type === "ReplaceFullPath") return { ...authority, uriRegexRewrite: { match: "/.*", rewrite: p.replaceFullPath ?? "/" } };
  const prefix = (m.uri as { prefix?: string } | undefined)?.prefix;
  if (prefix === undefined) {
    ctx.problem(
      GatewayApiCodes.RouteFeatureNotSupported,
      path,
      "URLRewrite ReplacePrefixMatch needs a PathPrefix match; the path is not rewritten",
      undefined,
      "warning",
    );
    return authority;
  }
  // As Istio: a trailing "/" of the replacement would double the request's own slash.
  const to = (p.replacePrefixMatch ?? "/").replace(/\/+$/, "") || "/";
  // Replacing a prefix by "/" must not leave "//": rewrite the prefix and its trailing slashes.
  if (to === "/" && prefix !== "/") return { ...authority, uriRegexRewrite: { match: `^${escapeRe(prefix)}/*`, rewrite: "/" } };
  return { ...authority, uri: to };
}

/** What a rule does with a matched request (everything but the match and the rewrite). */
function ruleAction(
  rule: HTTPRouteRule | GRPCRouteRule,
  filters: readonly HTTPRouteFilter[],
  path: string,
  ctx: RuleContext,
): Omit<HTTPRoute, "name" | "match"> | undefined {
  const headers = headersOf(filters);
  const redirect = filters.find((f) => f.type === "RequestRedirect")?.requestRedirect;
  filters.forEach((f, i) => {
    if (f.type === "ExtensionRef" || f.type === "CORS")
      ctx.problem(
        GatewayApiCodes.RouteFeatureNotSupported,
        `${path}.filters[${i}]`,
        `the ${f.type} filter is not implemented; the rule is served without it`,
        undefined,
        "warning",
      );
  });
  if (redirect) {
    let uri: string | undefined;
    if (redirect.path?.type === "ReplaceFullPath") uri = redirect.path.replaceFullPath;
    // Istio's marker: the translator replaces only the matched prefix.
    else if (redirect.path?.type === "ReplacePrefixMatch") uri = `${REDIRECT_PREFIX_MARKER}${redirect.path.replacePrefixMatch ?? "/"}`;
    // Without a port, the Gateway API redirects to the scheme's well-known port when a scheme is
    // given, else to the listener's port (which Envoy leaves out of Location when it is the
    // scheme's default); Istio converts it the same way.
    const derive = redirect.port === undefined ? { derivePort: redirect.scheme ? ("FROM_PROTOCOL_DEFAULT" as const) : ("FROM_REQUEST_PORT" as const) } : {};
    return {
      redirect: {
        ...(uri ? { uri } : {}),
        ...(redirect.hostname ? { authority: redirect.hostname } : {}),
        ...(redirect.port ? { port: redirect.port } : derive),
        ...(redirect.scheme ? { scheme: redirect.scheme } : {}),
        redirectCode: redirect.statusCode ?? 302,
      },
      ...(headers ? { headers } : {}),
    };
  }
  const timeouts = (rule as HTTPRouteRule).timeouts;
  const timeout = timeouts?.request ?? timeouts?.backendRequest;
  if (timeouts?.request && timeouts.backendRequest && timeouts.backendRequest !== timeouts.request)
    ctx.problem(
      GatewayApiCodes.RouteFeatureNotSupported,
      `${path}.timeouts.backendRequest`,
      "backendRequest is not applied separately when request is set; the request timeout bounds the whole request",
      undefined,
      "warning",
    );
  const mirrors = filters
    .map((f, i) => ({ f, i }))
    .filter(({ f }) => f.type === "RequestMirror" && f.requestMirror)
    .flatMap(({ f, i }) => {
      const m = f.requestMirror!;
      const r = resolveBackend(ctx.idx, ctx.routeKind, ctx.namespace, m.backendRef);
      if (!r.ok) {
        ctx.problem(
          GatewayApiCodes.BackendNotResolved,
          `${path}.filters[${i}].requestMirror.backendRef`,
          `${r.message}; requests are not mirrored to it`,
          r.reason,
        );
        return [];
      }
      const pct = m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : m.percent;
      return [{ destination: { host: r.host, port: { number: r.port } }, ...(pct !== undefined ? { percentage: { value: pct } } : {}) }];
    });
  const route = destinations(rule.backendRefs ?? [], `${path}.backendRefs`, ctx);
  return {
    ...(route.length > 0 ? { route } : { directResponse: { status: 500 } }),
    ...(headers ? { headers } : {}),
    ...(timeout ? { timeout } : {}),
    ...(mirrors.length ? { mirrors } : {}),
  };
}

/** Weighted destinations (weightedBackends); with no usable backend at all the rule answers 500 directly. */
function destinations(refs: readonly HTTPBackendRef[], path: string, ctx: RuleContext): HTTPRouteDestination[] {
  return weightedBackends(
    refs.map((ref, i) => ({ ref, path: `${path}[${i}]` })),
    (ref) => resolveBackend(ctx.idx, ctx.routeKind, ctx.namespace, ref),
    (at, message, reason) => ctx.problem(GatewayApiCodes.BackendNotResolved, at, message, reason),
    (ref) => {
      const headers = headersOf(ref.filters ?? []);
      return headers ? { headers } : undefined;
    },
  );
}

export { resolveBackend };
