/**
 * What an HTTP connection manager does with a request: the route configuration, the virtual host
 * by Envoy's domain rules, the first route whose match takes the request, and that route's action
 * (forward to a cluster or weighted clusters, redirect, direct response) with the fault, retry,
 * timeout and rewrites that apply on the way.
 */
import { compileRe2 } from "../api/re2.js";
import type { HttpConnectionManagerJson, RouteConfigurationJson, RouteJson, RouteMatchJson, VirtualHostJson } from "../translate/envoy.js";
import { denominatorOf, pathOnly, routeMatches, type Verdict } from "./matchers.js";
import { headerValue, type ExplainRequest } from "./request.js";

export interface VirtualHostChoice {
  readonly name: string;
  readonly domains: readonly string[];
  /** Which domain took the host, and by which rule. */
  readonly matchedBy: string;
}

export interface RouteTrial {
  readonly index: number;
  readonly name?: string;
  readonly match: RouteMatchJson;
  readonly matched: boolean;
  readonly checks: readonly Verdict[];
  readonly unsupported: readonly string[];
  /** A runtime fraction on the match: share of matching requests the route takes. */
  readonly fraction?: number;
}

/** The Istio object a route came from (route metadata `istio.config`). */
export interface RouteOrigin {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The rule inside it (`spec.http[1].match[0]`), when the translator recorded it. */
  readonly rule?: string;
}

export interface WeightedTarget {
  readonly cluster: string;
  readonly weight: number;
  /** Share of the requests, in percent. */
  readonly percent: number;
}

export interface Fault {
  readonly delay?: { readonly fixedDelay: string; readonly percent: number };
  readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: number; readonly percent: number };
  /** Set when the fault is configured but cannot act. */
  readonly inactive?: string;
}

export interface Forward {
  readonly kind: "forward";
  readonly clusters: readonly WeightedTarget[];
  readonly timeout?: string;
  readonly retries?: {
    readonly retryOn: string;
    readonly numRetries: number;
    readonly perTryTimeout?: string;
    readonly retriableStatusCodes?: readonly number[];
  };
  /** The path the upstream sees, when a rewrite changes it. */
  readonly rewrittenPath?: string;
  readonly hostRewrite?: string;
  readonly mirrors: readonly { readonly cluster: string; readonly percent: number }[];
  readonly hashPolicy?: readonly string[];
  readonly requestHeadersToAdd: readonly string[];
  readonly requestHeadersToRemove: readonly string[];
  readonly responseHeadersToAdd: readonly string[];
}

export type HttpAction =
  | Forward
  | { readonly kind: "redirect"; readonly status: number; readonly location: string }
  | { readonly kind: "direct"; readonly status: number; readonly body?: string }
  | { readonly kind: "no-route"; readonly status: 404; readonly why: string }
  | { readonly kind: "unsupported"; readonly why: string };

export interface HttpOutcome {
  readonly routeConfig?: string;
  /** The path after the connection manager's normalization, when it differs from the request's. */
  readonly normalizedPath?: string;
  readonly virtualHost?: VirtualHostChoice;
  /** Routes tried, in order, up to the one that took the request. */
  readonly trials: readonly RouteTrial[];
  readonly route?: { readonly index: number; readonly name?: string; readonly origin?: RouteOrigin; readonly match: RouteMatchJson };
  readonly fault?: Fault;
  readonly action: HttpAction;
}

/** RFC 3986 dot-segment removal, which `normalize_path` applies before routing. */
export function normalizePath(path: string): string {
  const p = pathOnly(path);
  const rest = path.slice(p.length);
  const out: string[] = [];
  const segs = p.split("/");
  segs.forEach((s, i) => {
    if (s === ".") {
      if (i === segs.length - 1) out.push("");
    } else if (s === "..") {
      if (out.length > 1) out.pop();
      if (i === segs.length - 1) out.push("");
    } else out.push(s);
  });
  const joined = out.join("/");
  return (joined.startsWith("/") ? joined : `/${joined}`) + rest;
}

/** The host as Envoy matches it: lower case, and without its port where the configuration says so. */
function hostForMatching(authority: string, rc: RouteConfigurationJson, hcm: HttpConnectionManagerJson): string {
  const lower = authority.toLowerCase();
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(lower);
  if (!m) return lower;
  const stripPort = rc.ignorePortInHostMatching === true || hcm.stripAnyHostPort === true;
  return stripPort ? m[1]! : lower;
}

/**
 * Envoy's virtual host search: an exact domain, then the longest suffix wildcard (`*.example.com`,
 * `*-bar.example.com`), then the longest prefix wildcard (`example.*`), then `*`. A wildcard's `*`
 * stands for at least one character.
 */
export function chooseVirtualHost(rc: RouteConfigurationJson, host: string): { vh: VirtualHostJson; matchedBy: string } | undefined {
  const vhs = rc.virtualHosts ?? [];
  for (const vh of vhs) {
    const d = (vh.domains ?? []).find((x) => x.toLowerCase() === host);
    if (d !== undefined) return { vh, matchedBy: `domain ${d} (exact)` };
  }
  let best: { vh: VirtualHostJson; d: string; len: number } | undefined;
  for (const vh of vhs)
    for (const d of vh.domains ?? []) {
      if (d.length > 1 && d.startsWith("*")) {
        const suffix = d.slice(1).toLowerCase();
        if (host.length > suffix.length && host.endsWith(suffix) && (!best || suffix.length > best.len)) best = { vh, d, len: suffix.length };
      }
    }
  if (best) return { vh: best.vh, matchedBy: `domain ${best.d} (longest suffix wildcard)` };
  for (const vh of vhs)
    for (const d of vh.domains ?? []) {
      if (d.length > 1 && d.endsWith("*")) {
        const prefix = d.slice(0, -1).toLowerCase();
        if (host.length > prefix.length && host.startsWith(prefix) && (!best || prefix.length > best.len)) best = { vh, d, len: prefix.length };
      }
    }
  if (best) return { vh: best.vh, matchedBy: `domain ${best.d} (longest prefix wildcard)` };
  const star = vhs.find((vh) => (vh.domains ?? []).includes("*"));
  return star ? { vh: star, matchedBy: "domain * (no other domain matches)" } : undefined;
}

/** Follow a request through an HTTP connection manager whose routes are `rc` (undefined: not found). */
export function routeRequest(
  req: ExplainRequest,
  hcm: HttpConnectionManagerJson,
  rc: RouteConfigurationJson | undefined,
  rcName: string | undefined,
): HttpOutcome {
  if (!rc) {
    return {
      ...(rcName ? { routeConfig: rcName } : {}),
      trials: [],
      action: { kind: "no-route", status: 404, why: `route configuration ${rcName ?? "(none)"} does not exist: Envoy waits for it, then answers 404 (NR)` },
    };
  }
  const normalized = hcm.normalizePath === true ? normalizePath(req.path) : req.path;
  const r: ExplainRequest =
    normalized === req.path ? req : { ...req, path: normalized, headers: req.headers.map(([k, v]) => [k, k === ":path" ? normalized : v] as const) };
  const base = { routeConfig: rc.name ?? rcName ?? "", ...(normalized !== req.path ? { normalizedPath: normalized } : {}) };
  const authority = headerValue(r, ":authority") ?? "";
  const host = hostForMatching(authority, rc, hcm);
  const chosen = chooseVirtualHost(rc, host);
  if (!chosen) {
    return {
      ...base,
      trials: [],
      action: { kind: "no-route", status: 404, why: `no virtual host has a domain matching ${JSON.stringify(host)}: Envoy answers 404 (NR)` },
    };
  }
  const { vh, matchedBy } = chosen;
  const virtualHost = { name: vh.name ?? "", domains: vh.domains ?? [], matchedBy };
  const trials: RouteTrial[] = [];
  const routes = vh.routes ?? [];
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    const m = route.match ?? {};
    const v = routeMatches(m, r);
    trials.push({
      index: i,
      ...(route.name ? { name: route.name } : {}),
      match: m,
      matched: v.ok,
      checks: v.checks,
      unsupported: v.unsupported,
      ...(v.fraction !== undefined ? { fraction: v.fraction } : {}),
    });
    if (!v.ok) continue;
    const origin = originOf(route);
    const fault = faultOf(route, vh, hcm);
    return {
      ...base,
      virtualHost,
      trials,
      route: { index: i, ...(route.name ? { name: route.name } : {}), ...(origin ? { origin } : {}), match: m },
      ...(fault ? { fault } : {}),
      action: actionOf(route, vh, r),
    };
  }
  return {
    ...base,
    virtualHost,
    trials,
    action: { kind: "no-route", status: 404, why: `no route of virtual host ${vh.name} matches the request: Envoy answers 404 (NR, no route)` },
  };
}

type Metadata = { filterMetadata?: Record<string, Record<string, unknown>> };

const KIND_NAMES: Record<string, string> = { "virtual-service": "VirtualService", "destination-rule": "DestinationRule" };
const ISTIO_CONFIG = /^\/apis\/[^/]+\/[^/]+\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/;

/** The object behind a route or cluster, from Istio's `metadata.filter_metadata.istio.config`. */
export function originOf(o: { metadata?: unknown }): RouteOrigin | undefined {
  const fm = (o.metadata as Metadata | undefined)?.filterMetadata;
  const config = fm?.["istio"]?.["config"];
  if (typeof config !== "string") return undefined;
  const m = ISTIO_CONFIG.exec(config);
  if (!m) return undefined;
  const rule = fm?.["meshpilot"]?.["rule"];
  return { kind: KIND_NAMES[m[2]!] ?? m[2]!, namespace: m[1]!, name: m[3]!, ...(typeof rule === "string" ? { rule } : {}) };
}

const FAULT_FILTER = "envoy.filters.http.fault";

function percentOf(p: { numerator?: number; denominator?: string } | undefined, fallback: number): number {
  if (!p) return fallback;
  return ((p.numerator ?? 0) / denominatorOf(p.denominator)) * 100;
}

interface FaultConfig {
  delay?: { fixedDelay?: string; percentage?: { numerator?: number; denominator?: string } };
  abort?: { httpStatus?: number; grpcStatus?: number; percentage?: { numerator?: number; denominator?: string } };
}

/**
 * The fault filter's per-route config (route first, then virtual host), and, given the connection
 * manager, whether the filter is there to act on it.
 */
export function faultOf(route: RouteJson, vh: VirtualHostJson, hcm?: HttpConnectionManagerJson): Fault | undefined {
  const cfg = (route.typedPerFilterConfig?.[FAULT_FILTER] ?? vh.typedPerFilterConfig?.[FAULT_FILTER]) as FaultConfig | undefined;
  if (!cfg || (!cfg.delay && !cfg.abort)) return undefined;
  const inFilters = !hcm || (hcm.httpFilters ?? []).some((f) => f.name === FAULT_FILTER);
  return {
    ...(cfg.delay?.fixedDelay ? { delay: { fixedDelay: cfg.delay.fixedDelay, percent: percentOf(cfg.delay.percentage, 0) } } : {}),
    ...(cfg.abort
      ? {
          abort: {
            ...(cfg.abort.grpcStatus !== undefined ? { grpcStatus: cfg.abort.grpcStatus } : { httpStatus: cfg.abort.httpStatus ?? 0 }),
            percent: percentOf(cfg.abort.percentage, 100),
          },
        }
      : {}),
    ...(inFilters ? {} : { inactive: `the HTTP connection manager has no ${FAULT_FILTER} filter` }),
  };
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

function headerList(h: readonly { header?: { key?: string; value?: string }; appendAction?: string }[] | undefined): string[] {
  return (h ?? []).map((x) => `${x.header?.key ?? ""}: ${x.header?.value ?? ""}${x.appendAction === "OVERWRITE_IF_EXISTS_OR_ADD" ? " (set)" : ""}`);
}

/** A cluster, or weighted clusters with their shares; undefined when neither is given. */
export function weightedTargets(
  cluster: string | undefined,
  weighted: readonly { readonly name?: string; readonly weight?: number }[] | undefined,
): WeightedTarget[] | undefined {
  if (cluster) return [{ cluster, weight: 1, percent: 100 }];
  if (!weighted?.length) return undefined;
  const total = weighted.reduce((s, c) => s + Number(c.weight ?? 0), 0);
  return weighted.map((c) => ({
    cluster: c.name ?? "",
    weight: Number(c.weight ?? 0),
    percent: total > 0 ? (Number(c.weight ?? 0) / total) * 100 : 0,
  }));
}

/** Where a forwarding route sends requests (undefined: it picks its cluster otherwise). */
export function forwardTargets(a: NonNullable<RouteJson["route"]>): WeightedTarget[] | undefined {
  return weightedTargets(a.cluster, a.weightedClusters?.clusters);
}

function actionOf(route: RouteJson, vh: VirtualHostJson, req: ExplainRequest): HttpAction {
  if (route.directResponse) {
    const b = route.directResponse.body;
    const body = b?.inlineString ?? (b?.inlineBytes !== undefined ? Buffer.from(b.inlineBytes, "base64").toString("utf8") : undefined);
    return { kind: "direct", status: Number(route.directResponse.status ?? 0), ...(body !== undefined ? { body } : {}) };
  }
  if (route.redirect) return { kind: "redirect", ...redirectOf(route.redirect, req, route.match?.prefix ?? route.match?.pathSeparatedPrefix) };
  const a = route.route;
  if (!a) return { kind: "unsupported", why: "the route has an action this tool does not follow (non-forwarding or filter action)" };
  const clusters = forwardTargets(a);
  if (!clusters) return { kind: "unsupported", why: "the route picks its cluster by header or plugin, which this tool does not follow" };
  const path = pathOnly(req.path);
  let rewrittenPath: string | undefined;
  const matchedPrefix = route.match?.prefix ?? route.match?.pathSeparatedPrefix;
  if (a.prefixRewrite !== undefined && matchedPrefix !== undefined) {
    rewrittenPath = a.prefixRewrite + req.path.slice(matchedPrefix.length);
  } else if (a.prefixRewrite !== undefined && route.match?.path !== undefined) {
    rewrittenPath = a.prefixRewrite + req.path.slice(path.length);
  } else if (a.regexRewrite?.pattern?.regex !== undefined) {
    const c = compileRe2(a.regexRewrite.pattern.regex);
    if (c.ok) rewrittenPath = c.re.replaceAll(path, a.regexRewrite.substitution ?? "") + req.path.slice(path.length);
  }
  const rp = a.retryPolicy;
  return {
    kind: "forward",
    clusters,
    ...(a.timeout !== undefined ? { timeout: a.timeout } : {}),
    ...(rp
      ? {
          retries: {
            retryOn: rp.retryOn ?? "",
            numRetries: rp.numRetries ?? 1,
            ...(rp.perTryTimeout ? { perTryTimeout: rp.perTryTimeout } : {}),
            ...(rp.retriableStatusCodes?.length ? { retriableStatusCodes: rp.retriableStatusCodes } : {}),
          },
        }
      : {}),
    ...(rewrittenPath !== undefined && rewrittenPath !== req.path ? { rewrittenPath } : {}),
    ...(a.hostRewriteLiteral ? { hostRewrite: a.hostRewriteLiteral } : {}),
    mirrors: (a.requestMirrorPolicies ?? []).map((m) => ({ cluster: m.cluster ?? "", percent: percentOf(m.runtimeFraction?.defaultValue, 100) })),
    ...(a.hashPolicy?.length ? { hashPolicy: a.hashPolicy.map(describeHashPolicy) } : {}),
    requestHeadersToAdd: [...headerList(route.requestHeadersToAdd), ...headerList(vh.requestHeadersToAdd)],
    requestHeadersToRemove: [...(route.requestHeadersToRemove ?? []), ...(vh.requestHeadersToRemove ?? [])],
    responseHeadersToAdd: [...headerList(route.responseHeadersToAdd), ...headerList(vh.responseHeadersToAdd)],
  };
}

function describeHashPolicy(h: NonNullable<NonNullable<RouteJson["route"]>["hashPolicy"]>[number]): string {
  if (h.header) return `consistent hash on header ${h.header.headerName}`;
  if (h.cookie) return `consistent hash on cookie ${h.cookie.name}`;
  if (h.connectionProperties?.sourceIp) return "consistent hash on the source IP";
  if (h.queryParameter) return `consistent hash on query parameter ${h.queryParameter.name}`;
  return "consistent hash";
}

/** The Location Envoy builds: scheme, host, port and path each from the redirect where it gives one, else from the request. */
function redirectOf(rd: NonNullable<RouteJson["redirect"]>, req: ExplainRequest, matchedPrefix: string | undefined): { status: number; location: string } {
  const scheme = rd.httpsRedirect ? "https" : (rd.schemeRedirect ?? req.scheme);
  const authority = headerValue(req, ":authority") ?? req.host;
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  let host = rd.hostRedirect ?? m?.[1] ?? authority;
  const origPort = rd.hostRedirect ? undefined : m?.[2];
  const port = rd.portRedirect ? String(rd.portRedirect) : origPort;
  const defaultPort = (scheme === "https" && port === "443") || (scheme === "http" && port === "80");
  if (port && !defaultPort && !/:\d+$/.test(host)) host = `${host}:${port}`;
  const path = pathOnly(req.path);
  const query = req.path.slice(path.length);
  let newPath: string;
  if (rd.pathRedirect !== undefined) newPath = rd.pathRedirect.includes("?") ? rd.pathRedirect : rd.pathRedirect + (rd.stripQuery ? "" : query);
  else if (rd.regexRewrite?.pattern?.regex !== undefined) {
    const c = compileRe2(rd.regexRewrite.pattern.regex);
    newPath = (c.ok ? c.re.replaceAll(path, rd.regexRewrite.substitution ?? "") : path) + (rd.stripQuery ? "" : query);
  } else newPath = (rd.prefixRewrite !== undefined ? rd.prefixRewrite + path.slice(matchedPrefix?.length ?? 0) : path) + (rd.stripQuery ? "" : query);
  return { status: REDIRECT_CODES[rd.responseCode ?? "MOVED_PERMANENTLY"] ?? 301, location: `${scheme}://${host}${newPath}` };
}
