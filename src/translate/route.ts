/**
 * Resolved HTTP routes (model/routes.ts) → Envoy routes: matches, forwarding with weights, header
 * operations, retries, timeouts, redirects, direct responses, mirrors, fault and CORS per-route
 * config, tracing decorators.
 */
import { DEFAULT_ROUTE_NAME, istioConfigPath, parseOutboundClusterName, REDIRECT_PREFIX_MARKER } from "../model/names.js";
import type { ConsistentHashModel, DefaultRouteModel, ForwardModel, HeaderOpsModel, HttpRouteModel, PercentModel, RetryModel } from "../model/routes.js";
import type { RetryPolicyJson, RouteActionJson, RouteJson } from "./envoy.js";
import { typed } from "./envoy.js";
import { durationWholeSeconds, protoDuration } from "./duration.js";
import { isCatchAll, routeMatch, stringMatcher } from "./route-match.js";
import { GRPC_STATUS_NAMES } from "../api/grpc-status.js";
import { deepFreeze } from "../api/equal.js";
import { sharedJson } from "./shared-json.js";

const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
const PREVIOUS_HOSTS = deepFreeze({
  name: "envoy.retry_host_predicates.previous_hosts",
  typedConfig: typed("envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate", {}),
});

/**
 * Istio's default retry policy, with and without the previous-hosts predicate: most routes of a
 * mesh carry one of these two objects (frozen, shared; the encoder copies their bytes).
 */
const defaultRetryPolicies: (RetryPolicyJson | undefined)[] = [];

/** Istio's retry policy: 2 retries on connection-level failures unless the VirtualService says otherwise. */
export function retryPolicy(retries: RetryModel | undefined, consistentHash: boolean): RetryPolicyJson | undefined {
  if (retries === undefined) return (defaultRetryPolicies[consistentHash ? 1 : 0] ??= deepFreeze(buildRetryPolicy(undefined, consistentHash)));
  const policy = buildRetryPolicy(retries, consistentHash);
  return policy && sharedJson(policy);
}

function buildRetryPolicy(retries: RetryModel | undefined, consistentHash: boolean): RetryPolicyJson | undefined {
  if (retries && (retries.attempts ?? 0) <= 0) return undefined;
  const { on, codes } = retryOn(retries?.retryOn ?? DEFAULT_RETRY_ON);
  const ignorePrevious = retries?.retryIgnorePreviousHosts ?? true;
  return {
    retryOn: on,
    numRetries: retries?.attempts ?? 2,
    ...(retries?.perTryTimeout ? { perTryTimeout: protoDuration(retries.perTryTimeout) } : {}),
    ...(codes.length ? { retriableStatusCodes: [...codes] } : {}),
    ...(ignorePrevious && !consistentHash ? { retryHostPredicate: [PREVIOUS_HOSTS] } : {}),
    hostSelectionRetryMaxAttempts: "5",
    ...(retries?.retryRemoteLocalities
      ? {
          retryPriority: {
            name: "envoy.retry_priorities.previous_priorities",
            typedConfig: typed("envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig", { updateFrequency: 2 }),
          },
        }
      : {}),
    ...(retries?.backoff ? { retryBackOff: { baseInterval: protoDuration(retries.backoff) } } : {}),
  };
}

/** Parsed `retryOn` strings: every route of a mesh has one of a few, most the default. */
const retryOns = new Map<string, { readonly on: string; readonly codes: readonly number[] }>();
const MAX_RETRY_ONS = 1000;

/** Istio's `retryOn`: status codes go to retriable_status_codes (and turn that policy on), the rest stays. */
function retryOn(text: string): { readonly on: string; readonly codes: readonly number[] } {
  const known = retryOns.get(text);
  if (known) return known;
  const tokens = text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const codes = tokens.filter((t) => /^\d+$/.test(t)).map(Number);
  const on = tokens.filter((t) => !/^\d+$/.test(t));
  if (codes.length && !on.includes("retriable-status-codes")) on.push("retriable-status-codes");
  const parsed = { on: on.join(","), codes };
  // Bounded: the strings come from user input.
  if (retryOns.size >= MAX_RETRY_ONS) retryOns.clear();
  retryOns.set(text, parsed);
  return parsed;
}

function hashPolicy(ch: ConsistentHashModel): RouteActionJson["hashPolicy"] {
  if (ch.httpHeaderName) return [{ header: { headerName: ch.httpHeaderName } }];
  if (ch.httpCookie)
    return [
      sharedJson({
        cookie: {
          name: ch.httpCookie.name,
          ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}),
          ...(ch.httpCookie.ttl ? { ttl: protoDuration(ch.httpCookie.ttl) } : {}),
        },
      }),
    ];
  if (ch.useSourceIp) return [{ connectionProperties: { sourceIp: true } }];
  if (ch.httpQueryParameterName) return [{ queryParameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

type ClusterWeightJson = NonNullable<NonNullable<RouteActionJson["weightedClusters"]>["clusters"]>[number];
type HeaderOps = Pick<RouteJson, "requestHeadersToAdd" | "requestHeadersToRemove" | "responseHeadersToAdd" | "responseHeadersToRemove">;
const NO_HEADER_OPS: HeaderOps = Object.freeze({});

const PSEUDO = (h: string): boolean => h.startsWith(":") || h.toLowerCase() === "host";

/** VirtualService header operations: `set` overwrites, `add` appends; pseudo-headers and host are never touched. */
export function headerOps(h: HeaderOpsModel | undefined): HeaderOps {
  if (!h) return NO_HEADER_OPS;
  const out: HeaderOps = {};
  const req = h.request && headerOpsOf(h.request);
  const res = h.response && headerOpsOf(h.response);
  if (req?.add.length) out.requestHeadersToAdd = req.add;
  if (req?.remove.length) out.requestHeadersToRemove = req.remove;
  if (res?.add.length) out.responseHeadersToAdd = res.add;
  if (res?.remove.length) out.responseHeadersToRemove = res.remove;
  return sharedJson(out);
}

type HeaderValueOptions = NonNullable<RouteJson["requestHeadersToAdd"]>;

/** One direction's operations: `set` then `add`, sorted by header name (stable: a set before an add of the same name). */
function headerOpsOf(o: NonNullable<HeaderOpsModel["request"]>): { add: HeaderValueOptions; remove: string[] } {
  const add: HeaderValueOptions = [];
  if (o.set)
    for (const [key, value] of Object.entries(o.set)) if (!PSEUDO(key)) add.push({ header: { key, value }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" });
  if (o.add) for (const [key, value] of Object.entries(o.add)) if (!PSEUDO(key)) add.push({ header: { key, value }, appendAction: "APPEND_IF_EXISTS_OR_ADD" });
  if (add.length > 1) add.sort((a, b) => (a.header!.key! < b.header!.key! ? -1 : a.header!.key! > b.header!.key! ? 1 : 0));
  return { add, remove: o.remove ? o.remove.filter((k) => !PSEUDO(k)) : [] };
}

/** Route-level operations followed by a single destination's own (Istio appends them). */
function mergeHeaderOps(a: HeaderOps, b: HeaderOps): HeaderOps {
  if (b === NO_HEADER_OPS) return a;
  const out: HeaderOps = {};
  for (const k of ["requestHeadersToAdd", "requestHeadersToRemove", "responseHeadersToAdd", "responseHeadersToRemove"] as const) {
    const merged = [...(a[k] ?? []), ...(b[k] ?? [])];
    if (merged.length) (out as Record<string, unknown>)[k] = merged;
  }
  return sharedJson(out);
}

/** `host` / `:authority` set by header operations (set wins over add), which Envoy does by host rewrite. */
function hostFromHeaders(h: HeaderOpsModel | undefined): string | undefined {
  const set = h?.request?.set ?? {};
  const add = h?.request?.add ?? {};
  return set["host"] ?? set[":authority"] ?? add["host"] ?? add[":authority"];
}

function authorityRewrite(route: HttpRouteModel, action: ForwardModel, single: HeaderOpsModel | undefined): string | undefined {
  return hostFromHeaders(single) ?? hostFromHeaders(route.headers) ?? action.rewrite?.authority;
}

function percent(value: PercentModel["value"]): { numerator: number; denominator: "MILLION" } {
  return { numerator: Math.round((value ?? 100) * 10000), denominator: "MILLION" };
}

function perFilterConfig(route: HttpRouteModel): RouteJson["typedPerFilterConfig"] {
  if (!route.fault && !route.cors) return undefined;
  const out: NonNullable<RouteJson["typedPerFilterConfig"]> = {};
  const f = route.fault;
  if (f && (f.delay || f.abort)) {
    out["envoy.filters.http.fault"] = typed("envoy.extensions.filters.http.fault.v3.HTTPFault", {
      // As in Istio, a fault without a percentage never fires: the delay falls back to the
      // deprecated integer `percent` (0 when unset), the abort leaves Envoy's default of 0%.
      ...(f.delay?.fixedDelay
        ? {
            delay: {
              fixedDelay: protoDuration(f.delay.fixedDelay),
              percentage: f.delay.percentage ? percent(f.delay.percentage.value) : { numerator: f.delay.percent ?? 0, denominator: "HUNDRED" },
            },
          }
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
  const c = route.cors;
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
  return Object.keys(out).length ? sharedJson(out) : undefined;
}

function grpcStatusCode(s: string): number {
  const i = GRPC_STATUS_NAMES.indexOf(s.toUpperCase());
  return i >= 0 ? i : Number(s) || 2;
}

function forwardAction(route: HttpRouteModel, f: ForwardModel): { action: RouteActionJson; destinationHeaders: HeaderOps } {
  const first = f.destinations[0];
  const single = f.destinations.length === 1 && first !== undefined;
  const action: RouteActionJson = {};
  if (single) {
    action.cluster = first.cluster;
  } else {
    action.weightedClusters = {
      clusters: f.destinations.map((d) => {
        const host = hostFromHeaders(d.headers);
        const c: ClusterWeightJson = { name: d.cluster, weight: d.weight };
        if (d.headers) Object.assign(c, headerOps(d.headers));
        if (host) c.hostRewriteLiteral = host;
        return c;
      }),
    };
  }
  // Gateway API: a backend that does not resolve is a cluster that does not exist, and its share
  // of the requests must get 500 (Envoy's default for a missing cluster is 503).
  if (route.gatewaySemantics) action.clusterNotFoundResponseCode = "INTERNAL_SERVER_ERROR";
  const timeout = f.timeout ? protoDuration(f.timeout) : "0s";
  action.timeout = timeout;
  // Istio uses the (deprecated) max_grpc_timeout, not max_stream_duration: a route with
  // max_stream_duration switches Envoy to its "new timeouts", where `timeout` is ignored.
  action.maxGrpcTimeout = timeout;
  const hp = f.consistentHash ? hashPolicy(f.consistentHash) : undefined;
  if (hp) action.hashPolicy = hp;
  const retry = retryPolicy(f.retries, f.consistentHash !== undefined);
  if (retry) action.retryPolicy = retry;
  const authority = authorityRewrite(route, f, single ? first.headers : undefined);
  if (authority) action.hostRewriteLiteral = authority;
  if (f.rewrite?.uri !== undefined) action.prefixRewrite = f.rewrite.uri;
  if (f.rewrite?.uriRegexRewrite?.match)
    action.regexRewrite = { pattern: { regex: f.rewrite.uriRegexRewrite.match }, substitution: f.rewrite.uriRegexRewrite.rewrite ?? "" };
  if (f.mirrors.length) {
    action.requestMirrorPolicies = f.mirrors.map((m) => ({
      cluster: m.cluster,
      runtimeFraction: { defaultValue: m.percentage ? percent(m.percentage.value) : { numerator: 100, denominator: "HUNDRED" } },
      traceSampled: false,
      disableShadowHostSuffixAppend: true,
    }));
  }
  return { action, destinationHeaders: single ? headerOps(first.headers) : NO_HEADER_OPS };
}

/** Envoy routes for one port's virtual host, in order, cut after the first that takes every request. */
export function httpRoutes(routes: readonly HttpRouteModel[], port: number): RouteJson[] {
  const out: RouteJson[] = [];
  for (const r of routes) {
    // istio.config names the VirtualService as Istio does; meshpilot.rule the rule and match in it, for `explain`.
    const metadata = {
      filterMetadata: {
        istio: { config: istioConfigPath("virtual-service", r.virtualService.namespace, r.virtualService.name) },
        meshpilot: sharedJson({ rule: r.rule }),
      },
    };
    const match = sharedJson(routeMatch(r.match, r.gatewaySemantics === true));
    const ownHeaders = headerOps(r.headers);
    // Built by assignment, in the order the JSON keeps: conditional spreads cost a temporary each.
    const route: RouteJson = {};
    if (r.name) route.name = r.name;
    route.match = match;
    if (ownHeaders !== NO_HEADER_OPS) Object.assign(route, ownHeaders);
    if (r.match?.statPrefix) route.statPrefix = r.match.statPrefix;
    const a = r.action;
    if (a.kind === "redirect") {
      const rd = a.redirect;
      route.redirect = {
        ...(rd.authority ? { hostRedirect: rd.authority } : {}),
        ...redirectPath(rd.uri, match, r.gatewaySemantics === true),
        ...(rd.scheme ? { schemeRedirect: rd.scheme } : {}),
        ...(rd.port ? { portRedirect: rd.port } : rd.derivePort === "FROM_REQUEST_PORT" ? { portRedirect: port } : {}),
        ...redirectCode(rd.redirectCode),
      };
    } else if (a.kind === "direct") {
      const b = a.response.body;
      route.directResponse = {
        status: a.response.status,
        ...(b?.string !== undefined ? { body: { inlineString: b.string } } : b?.bytes !== undefined ? { body: { inlineBytes: b.bytes } } : {}),
      };
    } else {
      const { action, destinationHeaders } = forwardAction(r, a);
      Object.assign(route, mergeHeaderOps(ownHeaders, destinationHeaders));
      route.route = action;
    }
    route.decorator = { operation: routeOperation(route, r.virtualService.name, port) };
    const pfc = perFilterConfig(r);
    if (pfc) route.typedPerFilterConfig = pfc;
    route.metadata = metadata;
    out.push(route);
    if (isCatchAll(match)) return out;
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
  const path =
    m?.prefix !== undefined
      ? `${m.prefix}*`
      : m?.pathSeparatedPrefix !== undefined
        ? `${m.pathSeparatedPrefix}*`
        : m?.path !== undefined
          ? m.path
          : m?.safeRegex
            ? m.safeRegex.regex
            : "/*";
  const cluster = route.route?.cluster ? parseOutboundClusterName(route.route.cluster) : undefined;
  if (cluster) return `${cluster.host}:${cluster.port}${path}`;
  return `${vsName}:${listenerPort}${path}`;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The path of a redirect. Istio: "the entire path will be replaced, irrespective of the request
 * URI being matched as an exact path or prefix" — except for a Gateway API ReplacePrefixMatch
 * (the marker), which replaces only the matched prefix.
 */
function redirectPath(uri: string | undefined, match: RouteJson["match"], gatewaySemantics: boolean): Partial<NonNullable<RouteJson["redirect"]>> {
  if (!uri) return {};
  if (!gatewaySemantics || !uri.startsWith(REDIRECT_PREFIX_MARKER)) return { pathRedirect: uri };
  const to = uri.slice(REDIRECT_PREFIX_MARKER.length).replace(/\/+$/, "") || "/";
  const matched = match?.pathSeparatedPrefix ?? match?.prefix;
  // Replacing a prefix by "/" must not leave "//": rewrite the prefix and the slashes after it.
  if (to === "/" && matched !== undefined && matched !== "/") return { regexRewrite: { pattern: { regex: `^${escapeRegex(matched)}/*` }, substitution: "/" } };
  return { prefixRewrite: to };
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

/** The route a service gets when no VirtualService routes it. */
export function defaultRoute(d: DefaultRouteModel): RouteJson {
  const hp = d.consistentHash ? hashPolicy(d.consistentHash) : undefined;
  const retry = retryPolicy(undefined, d.consistentHash !== undefined);
  return {
    name: DEFAULT_ROUTE_NAME,
    match: { prefix: "/" },
    route: {
      cluster: d.cluster,
      timeout: "0s",
      maxGrpcTimeout: "0s",
      ...(retry ? { retryPolicy: retry } : {}),
      ...(hp ? { hashPolicy: hp } : {}),
    },
    decorator: { operation: `${d.host}:${d.port}/*` },
  };
}
