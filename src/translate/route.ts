import type { Destination, Headers, HTTPRetry, HTTPRoute, LoadBalancerSettings } from "../api/istio-types.js";
import type { DestinationRuleModel, ServiceModel, VirtualServiceModel } from "../model/ir.js";
import { DEFAULT_ROUTE_NAME, istioConfigPath, outboundClusterName, parseOutboundClusterName, resolveHost } from "../model/names.js";
import { destinationRuleFor, subsetPolicy } from "../model/policies.js";
import type { ProxyView } from "../model/proxy.js";
import type { RetryPolicyJson, RouteActionJson, RouteJson } from "./envoy.js";
import { typed } from "./envoy.js";
import { durationWholeSeconds, protoDuration } from "./duration.js";
import { isCatchAll, routeMatch, stringMatcher } from "./route-match.js";

export interface RouteContext {
  readonly port: number;
  /** The gateway the routes are built for: `mesh` for sidecars, `<namespace>/<name>` for a gateway's. */
  readonly gateway: string;
  readonly proxy: ProxyView;
  readonly services: ReadonlyMap<string, ServiceModel>;
  readonly destinationRules: readonly DestinationRuleModel[];
}

const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
const PREVIOUS_HOSTS = { name: "envoy.retry_host_predicates.previous_hosts", typedConfig: typed("envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate", {}) };

/** Istio's retry policy: 2 retries on connection-level failures unless the VirtualService says otherwise. */
export function retryPolicy(retries: HTTPRetry | undefined, consistentHash: boolean): RetryPolicyJson | undefined {
  if (retries && (retries.attempts ?? 0) <= 0) return undefined;
  const tokens = (retries?.retryOn ?? DEFAULT_RETRY_ON).split(",").map((t) => t.trim()).filter(Boolean);
  const codes = tokens.filter((t) => /^\d+$/.test(t)).map(Number);
  const on = tokens.filter((t) => !/^\d+$/.test(t));
  if (codes.length && !on.includes("retriable-status-codes")) on.push("retriable-status-codes");
  const ignorePrevious = retries?.retryIgnorePreviousHosts ?? true;
  return {
    retryOn: on.join(","),
    numRetries: retries?.attempts ?? 2,
    ...(retries?.perTryTimeout ? { perTryTimeout: protoDuration(retries.perTryTimeout) } : {}),
    ...(codes.length ? { retriableStatusCodes: codes } : {}),
    ...(ignorePrevious && !consistentHash ? { retryHostPredicate: [PREVIOUS_HOSTS] } : {}),
    hostSelectionRetryMaxAttempts: "5",
    ...(retries?.retryRemoteLocalities
      ? { retryPriority: { name: "envoy.retry_priorities.previous_priorities", typedConfig: typed("envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig", { updateFrequency: 2 }) } }
      : {}),
    ...(retries?.backoff ? { retryBackOff: { baseInterval: protoDuration(retries.backoff) } } : {}),
  };
}

interface ResolvedDestination {
  readonly cluster: string;
  readonly host: string;
  readonly subset?: string;
  readonly port: number;
}

/** Destination → cluster name: the explicit port, else the service's only port, else the listener's port. */
export function resolveDestination(d: Destination, vsNamespace: string, ctx: RouteContext): ResolvedDestination {
  const host = resolveHost(d.host, vsNamespace, ctx.proxy.dnsDomain);
  const svc = ctx.services.get(host);
  const port = d.port?.number ?? (svc && svc.ports.length === 1 ? svc.ports[0]!.port : ctx.port);
  return { cluster: outboundClusterName(port, d.subset, host), host, ...(d.subset ? { subset: d.subset } : {}), port };
}

function consistentHashOf(dest: ResolvedDestination, ctx: RouteContext): LoadBalancerSettings["consistentHash"] | undefined {
  const svc = ctx.services.get(dest.host);
  if (!svc) return undefined;
  const rule = destinationRuleFor(ctx.destinationRules, dest.host, svc.namespace, ctx.proxy.namespace, ctx.proxy.labels);
  if (!rule) return undefined;
  const subset = rule.subsets.find((s) => s.name === dest.subset);
  return subsetPolicy(rule, subset, dest.port)?.loadBalancer?.consistentHash;
}

function hashPolicy(ch: NonNullable<LoadBalancerSettings["consistentHash"]>): RouteActionJson["hashPolicy"] {
  if (ch.httpHeaderName) return [{ header: { headerName: ch.httpHeaderName } }];
  if (ch.httpCookie) return [{ cookie: { name: ch.httpCookie.name, ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}), ...(ch.httpCookie.ttl ? { ttl: protoDuration(ch.httpCookie.ttl) } : {}) } }];
  if (ch.useSourceIp) return [{ connectionProperties: { sourceIp: true } }];
  if (ch.httpQueryParameterName) return [{ queryParameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

type HeaderOps = Pick<RouteJson, "requestHeadersToAdd" | "requestHeadersToRemove" | "responseHeadersToAdd" | "responseHeadersToRemove">;

const PSEUDO = (h: string): boolean => h.startsWith(":") || h.toLowerCase() === "host";

/** VirtualService header operations: `set` overwrites, `add` appends; pseudo-headers and host are never touched. */
export function headerOps(h: Headers | undefined): HeaderOps {
  const ops = (o: NonNullable<Headers["request"]> | undefined) => {
    const add = [
      ...Object.entries(o?.set ?? {}).filter(([k]) => !PSEUDO(k)).map(([key, value]) => ({ header: { key, value }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" as const })),
      ...Object.entries(o?.add ?? {}).filter(([k]) => !PSEUDO(k)).map(([key, value]) => ({ header: { key, value }, appendAction: "APPEND_IF_EXISTS_OR_ADD" as const })),
    ].sort((a, b) => (a.header.key < b.header.key ? -1 : a.header.key > b.header.key ? 1 : 0));
    return { add, remove: (o?.remove ?? []).filter((k) => !PSEUDO(k)) };
  };
  const req = ops(h?.request);
  const res = ops(h?.response);
  return {
    ...(req.add.length ? { requestHeadersToAdd: req.add } : {}),
    ...(req.remove.length ? { requestHeadersToRemove: req.remove } : {}),
    ...(res.add.length ? { responseHeadersToAdd: res.add } : {}),
    ...(res.remove.length ? { responseHeadersToRemove: res.remove } : {}),
  };
}

/** Route-level operations followed by a single destination's own (Istio appends them). */
function mergeHeaderOps(a: HeaderOps, b: HeaderOps): HeaderOps {
  const out: HeaderOps = {};
  for (const k of ["requestHeadersToAdd", "requestHeadersToRemove", "responseHeadersToAdd", "responseHeadersToRemove"] as const) {
    const merged = [...(a[k] ?? []), ...(b[k] ?? [])];
    if (merged.length) (out as Record<string, unknown>)[k] = merged;
  }
  return out;
}

/** `host` / `:authority` set by header operations (set wins over add), which Envoy does by host rewrite. */
function hostFromHeaders(h: Headers | undefined): string | undefined {
  const set = h?.request?.set ?? {};
  const add = h?.request?.add ?? {};
  return set["host"] ?? set[":authority"] ?? add["host"] ?? add[":authority"];
}

function authorityRewrite(rule: HTTPRoute, single: Headers | undefined): string | undefined {
  return hostFromHeaders(single) ?? hostFromHeaders(rule.headers) ?? rule.rewrite?.authority;
}

function percent(value: number | undefined): { numerator: number; denominator: "MILLION" } {
  return { numerator: Math.round((value ?? 100) * 10000), denominator: "MILLION" };
}

function perFilterConfig(rule: HTTPRoute): RouteJson["typedPerFilterConfig"] {
  const out: NonNullable<RouteJson["typedPerFilterConfig"]> = {};
  const f = rule.fault;
  if (f && (f.delay || f.abort)) {
    out["envoy.filters.http.fault"] = typed("envoy.extensions.filters.http.fault.v3.HTTPFault", {
      // As in Istio, a fault without a percentage never fires: the delay falls back to the
      // deprecated integer `percent` (0 when unset), the abort leaves Envoy's default of 0%.
      ...(f.delay?.fixedDelay
        ? { delay: { fixedDelay: protoDuration(f.delay.fixedDelay), percentage: f.delay.percentage ? percent(f.delay.percentage.value) : { numerator: f.delay.percent ?? 0, denominator: "HUNDRED" } } }
        : {}),
      ...(f.abort
        ? {
            abort: {
              ...(f.abort.grpcStatus ? { grpcStatus: grpcStatusCode(f.abort.grpcStatus) } : { httpStatus: f.abort.httpStatus ?? 503 }),
              ...(f.abort.percentage ? { percentage: percent(f.abort.percentage.value) } : {}),
            },
          }
        : {}),
    });
  }
  const c = rule.corsPolicy;
  if (c) {
    out["envoy.filters.http.cors"] = typed("envoy.extensions.filters.http.cors.v3.CorsPolicy", {
      allowOriginStringMatch: (c.allowOrigins ?? []).map(stringMatcher).filter((m) => m !== undefined),
      ...(c.allowMethods?.length ? { allowMethods: c.allowMethods.join(",") } : {}),
      ...(c.allowHeaders?.length ? { allowHeaders: c.allowHeaders.join(",") } : {}),
      ...(c.exposeHeaders?.length ? { exposeHeaders: c.exposeHeaders.join(",") } : {}),
      ...(c.maxAge ? { maxAge: String(durationWholeSeconds(c.maxAge)) } : {}),
      ...(c.allowCredentials !== undefined ? { allowCredentials: c.allowCredentials } : {}),
      filterEnabled: { defaultValue: { numerator: 100, denominator: "HUNDRED" } },
      forwardNotMatchingPreflights: c.unmatchedPreflights !== "IGNORE",
    });
  }
  return Object.keys(out).length ? out : undefined;
}

const GRPC_CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];
function grpcStatusCode(s: string): number {
  const i = GRPC_CODES.indexOf(s.toUpperCase());
  return i >= 0 ? i : Number(s) || 2;
}

function forwardAction(rule: HTTPRoute, vs: VirtualServiceModel, ctx: RouteContext): { action: RouteActionJson; destinationHeaders: HeaderOps } {
  const dests = (rule.route ?? []).map((rd) => ({ rd, res: resolveDestination(rd.destination, vs.namespace, ctx) }));
  const weighted = dests.filter(({ rd }) => dests.length === 1 || (rd.weight ?? 0) > 0);
  const first = weighted[0] ?? dests[0];
  const single = weighted.length === 1 && first !== undefined;
  const action: RouteActionJson = {};
  if (single) {
    action.cluster = first.res.cluster;
  } else {
    action.weightedClusters = {
      clusters: weighted.map(({ rd, res }) => {
        const host = hostFromHeaders(rd.headers);
        return { name: res.cluster, weight: rd.weight ?? 0, ...headerOps(rd.headers), ...(host ? { hostRewriteLiteral: host } : {}) };
      }),
    };
  }
  const timeout = rule.timeout ? protoDuration(rule.timeout) : "0s";
  action.timeout = timeout;
  // Istio uses the (deprecated) max_grpc_timeout, not max_stream_duration: a route with
  // max_stream_duration switches Envoy to its "new timeouts", where `timeout` is ignored.
  action.maxGrpcTimeout = timeout;
  const ch = first ? consistentHashOf(first.res, ctx) : undefined;
  const hp = ch ? hashPolicy(ch) : undefined;
  if (hp) action.hashPolicy = hp;
  const retry = retryPolicy(rule.retries, ch !== undefined);
  if (retry) action.retryPolicy = retry;
  const authority = authorityRewrite(rule, single ? first.rd.headers : undefined);
  if (authority) action.hostRewriteLiteral = authority;
  if (rule.rewrite?.uri !== undefined) action.prefixRewrite = rule.rewrite.uri;
  if (rule.rewrite?.uriRegexRewrite?.match) action.regexRewrite = { pattern: { regex: rule.rewrite.uriRegexRewrite.match }, substitution: rule.rewrite.uriRegexRewrite.rewrite ?? "" };
  const mirrors = [
    ...(rule.mirror ? [{ destination: rule.mirror, percentage: rule.mirrorPercentage }] : []),
    ...(rule.mirrors ?? []),
  ].filter((m) => m.percentage?.value !== 0);
  if (mirrors.length) {
    action.requestMirrorPolicies = mirrors.map((m) => ({
      cluster: resolveDestination(m.destination, vs.namespace, ctx).cluster,
      runtimeFraction: { defaultValue: m.percentage ? percent(m.percentage.value) : { numerator: 100, denominator: "HUNDRED" } },
      traceSampled: false,
      disableShadowHostSuffixAppend: true,
    }));
  }
  return { action, destinationHeaders: single ? headerOps(first.rd.headers) : {} };
}

/** The routes a VirtualService contributes to one port's virtual host, in order, cut after a catch-all. */
export function virtualServiceRoutes(vs: VirtualServiceModel, ctx: RouteContext): RouteJson[] {
  const out: RouteJson[] = [];
  const metadata = { filterMetadata: { istio: { config: istioConfigPath("virtual-service", vs.namespace, vs.name) } } };
  for (const rule of vs.routedHttp) {
    if (rule.delegate) continue;
    const matches = rule.match?.length ? rule.match.filter((m) => matchApplies(m, ctx)) : [undefined];
    if (matches.length === 0) continue;
    for (const m of matches) {
      const match = routeMatch(m);
      // Istio: the rule's name, then "." and the match's name when the match has one.
      const name = m?.name ? `${rule.name ?? ""}.${m.name}` : rule.name;
      const route: RouteJson = { ...(name ? { name } : {}), match, ...headerOps(rule.headers), ...(m?.statPrefix ? { statPrefix: m.statPrefix } : {}) };
      if (rule.redirect) {
        const r = rule.redirect;
        route.redirect = {
          ...(r.authority ? { hostRedirect: r.authority } : {}),
          // Istio: "the entire path will be replaced, irrespective of the request URI being matched
          // as an exact path or prefix".
          ...(r.uri ? { pathRedirect: r.uri } : {}),
          ...(r.scheme ? { schemeRedirect: r.scheme } : {}),
          ...(r.port ? { portRedirect: r.port } : r.derivePort === "FROM_REQUEST_PORT" ? { portRedirect: ctx.port } : {}),
          ...redirectCode(r.redirectCode),
        };
      } else if (rule.directResponse) {
        const b = rule.directResponse.body;
        route.directResponse = { status: rule.directResponse.status, ...(b?.string !== undefined ? { body: { inlineString: b.string } } : b?.bytes !== undefined ? { body: { inlineBytes: b.bytes } } : {}) };
      } else {
        const { action, destinationHeaders } = forwardAction(rule, vs, ctx);
        Object.assign(route, mergeHeaderOps(headerOps(rule.headers), destinationHeaders));
        route.route = action;
      }
      route.decorator = { operation: routeOperation(route, vs.name, ctx.port) };
      const pfc = perFilterConfig(rule);
      if (pfc) route.typedPerFilterConfig = pfc;
      route.metadata = metadata;
      out.push(route);
      if (isCatchAll(match)) return out;
    }
  }
  return out;
}

/**
 * The tracing operation Istio gives a route: `<host>:<port><path>` from the single cluster it
 * routes to, else `<VirtualService name>:<listener port><path>`; the path is the match's
 * (`prefix*`, the exact path, or the regex).
 */
function routeOperation(route: RouteJson, vsName: string, listenerPort: number): string {
  const m = route.match;
  const path = m?.prefix !== undefined ? `${m.prefix}*` : m?.path !== undefined ? m.path : m?.safeRegex ? m.safeRegex.regex : "/*";
  const cluster = route.route?.cluster ? parseOutboundClusterName(route.route.cluster) : undefined;
  if (cluster) return `${cluster.host}:${cluster.port}${path}`;
  return `${vsName}:${listenerPort}${path}`;
}

function redirectCode(code: number | undefined): Pick<NonNullable<RouteJson["redirect"]>, "responseCode"> {
  switch (code) {
    case 302:
      return { responseCode: "FOUND" };
    case 303:
      return { responseCode: "SEE_OTHER" };
    case 307:
      return { responseCode: "TEMPORARY_REDIRECT" };
    case 308:
      return { responseCode: "PERMANENT_REDIRECT" };
    default:
      return {};
  }
}

/** Parts of a match Envoy never sees: Istio decides them when it builds this proxy's config. */
function matchApplies(m: NonNullable<HTTPRoute["match"]>[number], ctx: RouteContext): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (m.gateways?.length && !m.gateways.includes(ctx.gateway)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== ctx.proxy.namespace) return false;
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => ctx.proxy.labels[k] === v)) return false;
  return true;
}

/** The route a service gets when no VirtualService routes it. */
export function defaultRoute(svc: ServiceModel, port: number, ctx: RouteContext): RouteJson {
  const dest = { cluster: outboundClusterName(port, undefined, svc.hostname), host: svc.hostname, port };
  const ch = consistentHashOf(dest, ctx);
  const hp = ch ? hashPolicy(ch) : undefined;
  const retry = retryPolicy(undefined, ch !== undefined);
  return {
    name: DEFAULT_ROUTE_NAME,
    match: { prefix: "/" },
    route: {
      cluster: dest.cluster,
      timeout: "0s",
      maxGrpcTimeout: "0s",
      ...(retry ? { retryPolicy: retry } : {}),
      ...(hp ? { hashPolicy: hp } : {}),
    },
    decorator: { operation: `${svc.hostname}:${port}/*` },
  };
}
