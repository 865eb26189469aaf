/**
 * VirtualService rules resolved for one proxy and one listener port: the matches that apply here
 * (the parts Envoy never sees — port, gateways, sourceNamespace, sourceLabels — decided now),
 * destinations as cluster names and weights, the DestinationRule settings that live on the route
 * (consistent hashing, the TCP idle timeout), durations parsed. Translation only constructs Envoy
 * messages from these.
 */
import type {
  CorsPolicy,
  Destination,
  Headers,
  HTTPDirectResponse,
  HTTPFaultInjection,
  HTTPMatchRequest,
  HTTPRedirect,
  HTTPRetry,
  HTTPRewrite,
  HTTPRoute,
  L4MatchAttributes,
  Percent,
  RouteDestination,
  StringMatch,
} from "../api/istio-types.js";
import type { ServiceModel, ServicePortModel, VirtualServiceModel } from "./ir.js";
import { outboundClusterName, resolveGatewayName, resolveHost } from "./names.js";
import { parseDurations, type Duration, type Parsed } from "./parsed.js";
import type { ClusterPolicy } from "./parsed.js";
import type { ProxyView } from "./proxy.js";

export type { Duration };
export type StringMatchModel = StringMatch;
/** A match as Envoy sees it: what decides at build time is gone. */
export type HttpMatchModel = Omit<HTTPMatchRequest, "port" | "sourceLabels" | "gateways" | "sourceNamespace">;
export type HeaderOpsModel = Headers;
export type RetryModel = Parsed<HTTPRetry>;
export type FaultModel = Parsed<HTTPFaultInjection>;
export type CorsModel = Parsed<CorsPolicy>;
export type RewriteModel = HTTPRewrite;
export type RedirectModel = HTTPRedirect;
export type DirectResponseModel = HTTPDirectResponse;
export type PercentModel = Percent;
export type ConsistentHashModel = NonNullable<NonNullable<ClusterPolicy["loadBalancer"]>["consistentHash"]>;

/** What resolving a rule needs to know about the proxy and the listener. */
export interface RouteScope {
  readonly port: number;
  /** The gateway the routes are built for: `mesh` for sidecars. */
  readonly gateway: string;
  readonly proxy: ProxyView;
  readonly services: ReadonlyMap<string, ServiceModel>;
  /** The policy of the cluster for `host`, `subset` and `port`, as the proxy's DestinationRule lookup gives it. */
  policyFor(host: string, subset: string | undefined, port: number): ClusterPolicy | undefined;
  /** The registry host an ExternalName alias stands for (Istio routes to the concrete host's clusters). */
  aliasTarget?(host: string): string | undefined;
}

export interface ResolvedDestination {
  readonly cluster: string;
  readonly host: string;
  readonly subset?: string;
  readonly port: number;
}

export interface WeightedDestinationModel {
  readonly cluster: string;
  readonly weight: number;
  readonly headers?: HeaderOpsModel;
}

export interface ForwardModel {
  readonly kind: "forward";
  /** The destinations that take traffic (weight 0 dropped when there are several); one: no split. */
  readonly destinations: readonly WeightedDestinationModel[];
  readonly timeout?: Duration;
  readonly retries?: RetryModel;
  /** The first destination's DestinationRule consistent hashing, which Envoy takes from the route. */
  readonly consistentHash?: ConsistentHashModel;
  readonly rewrite?: RewriteModel;
  readonly mirrors: readonly { readonly cluster: string; readonly percentage?: PercentModel }[];
}

export type HttpActionModel =
  ForwardModel | { readonly kind: "redirect"; readonly redirect: RedirectModel } | { readonly kind: "direct"; readonly response: DirectResponseModel };

/** One Envoy route: a VirtualService rule with one of its matches (undefined: every request). */
export interface HttpRouteModel {
  readonly name?: string;
  readonly match?: HttpMatchModel;
  readonly headers?: HeaderOpsModel;
  readonly action: HttpActionModel;
  readonly fault?: FaultModel;
  readonly cors?: CorsModel;
  readonly virtualService: { readonly name: string; readonly namespace: string };
  /** The rule and match it was written as: `spec.http[1].match[0]` (see VirtualServiceModel.routedOrigins). */
  readonly rule: string;
  /** From the Kubernetes Gateway API (VirtualServiceModel.gatewaySemantics). */
  readonly gatewaySemantics?: true;
}

/** The route a service gets when no VirtualService routes it. */
export interface DefaultRouteModel {
  readonly cluster: string;
  readonly host: string;
  readonly port: number;
  readonly consistentHash?: ConsistentHashModel;
}

/** Destination → cluster: the explicit port, else the service's only port, else the listener's port. */
export function resolveDestination(d: Destination, vsNamespace: string, ctx: RouteScope): ResolvedDestination {
  const named = resolveHost(d.host, vsNamespace, ctx.proxy.dnsDomain);
  const host = ctx.aliasTarget?.(named) ?? named;
  const svc = ctx.services.get(host);
  const port = d.port?.number ?? (svc && svc.ports.length === 1 ? svc.ports[0]!.port : ctx.port);
  return { cluster: outboundClusterName(port, d.subset, host), host, ...(d.subset ? { subset: d.subset } : {}), port };
}

/** Parts of a match Envoy never sees: they decide, for this proxy and listener, whether the match exists. */
export function matchApplies(m: HTTPMatchRequest | L4MatchAttributes, ctx: RouteScope, vsNamespace: string): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (m.gateways?.length && !m.gateways.some((g) => resolveGatewayName(g, vsNamespace) === ctx.gateway)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== ctx.proxy.namespace) return false;
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => ctx.proxy.labels[k] === v)) return false;
  return true;
}

/** With several destinations, those of weight 0 take no traffic; a single one always does. */
export function weightedDestinations<T extends { readonly weight?: number }>(dests: readonly T[]): T[] {
  return dests.filter((d) => dests.length === 1 || (d.weight ?? 0) > 0);
}

function consistentHashOf(dest: ResolvedDestination, ctx: RouteScope): ConsistentHashModel | undefined {
  return ctx.policyFor(dest.host, dest.subset, dest.port)?.loadBalancer?.consistentHash;
}

function forward(rule: HTTPRoute, vs: VirtualServiceModel, ctx: RouteScope): ForwardModel {
  const dests = (rule.route ?? []).map((rd) => ({ rd, res: resolveDestination(rd.destination, vs.namespace, ctx), weight: rd.weight }));
  const weighted = weightedDestinations(dests);
  const first = weighted[0] ?? dests[0];
  const consistentHash = first ? consistentHashOf(first.res, ctx) : undefined;
  const mirrors = [...(rule.mirror ? [{ destination: rule.mirror, percentage: rule.mirrorPercentage }] : []), ...(rule.mirrors ?? [])]
    .filter((m) => m.percentage?.value !== 0)
    .map((m) => ({ cluster: resolveDestination(m.destination, vs.namespace, ctx).cluster, ...(m.percentage ? { percentage: m.percentage } : {}) }));
  const r = parseDurations(rule);
  return {
    kind: "forward",
    destinations: weighted.map(({ rd, res }) => ({ cluster: res.cluster, weight: rd.weight ?? 0, ...(rd.headers ? { headers: rd.headers } : {}) })),
    ...(r.timeout ? { timeout: r.timeout } : {}),
    ...(r.retries ? { retries: r.retries } : {}),
    ...(consistentHash ? { consistentHash } : {}),
    ...(rule.rewrite ? { rewrite: rule.rewrite } : {}),
    mirrors,
  };
}

function action(rule: HTTPRoute, vs: VirtualServiceModel, ctx: RouteScope): HttpActionModel {
  if (rule.redirect) return { kind: "redirect", redirect: rule.redirect };
  if (rule.directResponse) return { kind: "direct", response: rule.directResponse };
  return forward(rule, vs, ctx);
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Per input match (never mutated): the same object for every view and build that reads it. */
const envoyMatches = new WeakMap<HTTPMatchRequest, HttpMatchModel>();

function envoyMatch(m: HTTPMatchRequest): HttpMatchModel {
  let out = envoyMatches.get(m);
  if (out === undefined) {
    const { port: _p, sourceLabels: _l, gateways: _g, sourceNamespace: _n, ...rest } = m;
    envoyMatches.set(m, (out = rest));
  }
  return out;
}

/**
 * The routes a VirtualService gives one port's virtual host, in rule and match order. The
 * translator stops after a route that takes every request (later ones are unreachable).
 */
export function resolveHttpRoutes(vs: VirtualServiceModel, ctx: RouteScope): HttpRouteModel[] {
  const out: HttpRouteModel[] = [];
  const ref = { name: vs.name, namespace: vs.namespace };
  vs.routedHttp.forEach((rule, i) => {
    if (rule.delegate) return;
    const origin = vs.routedOrigins?.[i] ?? `spec.http[${i}]`;
    // A merged delegate rule's matches are combinations of the root's and the delegate's: no one index names them.
    const matchIndex = !origin.includes("→");
    const matches = rule.match?.length
      ? rule.match.flatMap((m, j) => (matchApplies(m, ctx, vs.namespace) ? [{ m, rule: matchIndex ? `${origin}.match[${j}]` : origin }] : []))
      : [{ m: undefined, rule: origin }];
    if (matches.length === 0) return;
    const act = action(rule, vs, ctx);
    const parsed = parseDurations(rule);
    for (const { m, rule: written } of matches) {
      // Istio: the rule's name, then "." and the match's name when the match has one.
      const name = m?.name ? `${rule.name ?? ""}.${m.name}` : rule.name;
      // Built by assignment, in the order the spreads had: conditional spreads cost a temporary each.
      const route: Writable<HttpRouteModel> = {} as Writable<HttpRouteModel>;
      if (name) route.name = name;
      if (m) route.match = envoyMatch(m);
      if (rule.headers) route.headers = rule.headers;
      route.action = act;
      if (parsed.fault) route.fault = parsed.fault;
      if (parsed.corsPolicy) route.cors = parsed.corsPolicy;
      route.virtualService = ref;
      route.rule = written;
      if (vs.gatewaySemantics) route.gatewaySemantics = true;
      out.push(route);
    }
  });
  return out;
}

export function resolveDefaultRoute(svc: ServiceModel, port: number, ctx: RouteScope): DefaultRouteModel {
  const dest = { cluster: outboundClusterName(port, undefined, svc.hostname), host: svc.hostname, port };
  const consistentHash = consistentHashOf(dest, ctx);
  return { ...dest, ...(consistentHash ? { consistentHash } : {}) };
}

/** A tcp_proxy: one destination, or a weighted split; DestinationRule settings that live on it. */
export interface TcpProxyModel {
  readonly destinations: readonly { readonly cluster: string; readonly weight: number }[];
  /** `<VirtualService name>.<namespace>` for a split (Istio's stat prefix), the cluster otherwise. */
  readonly statPrefix: string;
  readonly idleTimeout?: Duration;
  readonly hashBySourceIp?: boolean;
}

/** One filter chain of a non-HTTP listener; no CIDRs and no SNI names: every remaining connection. */
export interface L4RouteModel {
  readonly destinationSubnets: readonly string[];
  readonly sniHosts: readonly string[];
  readonly proxy: TcpProxyModel;
}

function tcpProxyModel(dests: readonly ResolvedDestination[], weights: readonly number[], statPrefix: string, ctx: RouteScope): TcpProxyModel {
  const first = dests[0]!;
  const policy = ctx.policyFor(first.host, first.subset, first.port);
  const idle = policy?.connectionPool?.tcp?.idleTimeout;
  return {
    destinations: dests.map((d, i) => ({ cluster: d.cluster, weight: weights[i] ?? 0 })),
    statPrefix: dests.length === 1 ? first.cluster : statPrefix,
    ...(idle ? { idleTimeout: idle } : {}),
    ...(policy?.loadBalancer?.consistentHash?.useSourceIp ? { hashBySourceIp: true } : {}),
  };
}

function routeProxy(route: readonly RouteDestination[], vs: VirtualServiceModel, ctx: RouteScope): TcpProxyModel | undefined {
  const weighted = weightedDestinations(route);
  if (weighted.length === 0) return undefined;
  return tcpProxyModel(
    weighted.map((rd) => resolveDestination(rd.destination, vs.namespace, ctx)),
    weighted.map((rd) => rd.weight ?? 0),
    `${vs.name}.${vs.namespace}`,
    ctx,
  );
}

/**
 * VirtualService `tcp` and `tls` routes of one non-HTTP service port, in order (undefined `vs`: no
 * VirtualService routes it). `tls` routes need a TLS or HTTPS port (SNI is read there). The first
 * route that takes every remaining connection ends the list; when none does, the service's own
 * cluster takes the rest.
 */
export function resolveL4Routes(vs: VirtualServiceModel | undefined, svc: ServiceModel, port: ServicePortModel, ctx: RouteScope): L4RouteModel[] {
  const out: L4RouteModel[] = [];
  const sniPort = port.protocol === "TLS" || port.protocol === "HTTPS";
  const rules = [
    ...(vs && sniPort ? vs.tls.map((r) => ({ route: r.route, matches: r.match.filter((m) => matchApplies(m, ctx, vs!.namespace)) })) : []),
    ...(vs ? vs.tcp.map((r) => ({ route: r.route, matches: r.match?.length ? r.match.filter((m) => matchApplies(m, ctx, vs!.namespace)) : [undefined] })) : []),
  ];
  for (const rule of rules) {
    const proxy = routeProxy(rule.route ?? [], vs!, ctx);
    if (!proxy) continue;
    for (const m of rule.matches) {
      const sniHosts = (m && "sniHosts" in m ? (m.sniHosts as readonly string[]) : []).filter((h) => h !== "*");
      const destinationSubnets = m?.destinationSubnets ?? [];
      out.push({ destinationSubnets, sniHosts, proxy });
      if (sniHosts.length === 0 && destinationSubnets.length === 0) return out;
    }
  }
  const own = resolveDefaultRoute(svc, port.port, ctx);
  out.push({ destinationSubnets: [], sniHosts: [], proxy: tcpProxyModel([own], [0], own.cluster, ctx) });
  return out;
}

/**
 * A gateway server's L4 routes from the VirtualServices bound to it, in their order: `tls` routes
 * (PASSTHROUGH: by SNI, each name narrowed to the server's hosts it meets) or `tcp` routes (TCP
 * and terminated TLS). Unlike a sidecar's service port there is no fallback: a connection no
 * route takes is closed, as at an Istio gateway. A route without SNI (or, for `tcp`, without
 * subnets) ends the list.
 */
export function resolveGatewayL4Routes(
  bound: readonly { readonly virtualService: VirtualServiceModel }[],
  kind: "tls" | "tcp",
  narrowSni: (sniHost: string) => readonly string[],
  ctx: RouteScope,
): L4RouteModel[] {
  const out: L4RouteModel[] = [];
  for (const { virtualService: vs } of bound) {
    const rules =
      kind === "tls"
        ? vs.tls.map((r) => ({ route: r.route, matches: r.match.filter((m) => matchApplies(m, ctx, vs.namespace)) as L4MatchAttributes[] }))
        : vs.tcp.map((r) => ({ route: r.route, matches: r.match?.length ? r.match.filter((m) => matchApplies(m, ctx, vs.namespace)) : [undefined] }));
    for (const rule of rules) {
      const proxy = routeProxy(rule.route ?? [], vs, ctx);
      if (!proxy) continue;
      for (const m of rule.matches) {
        const sni = m && "sniHosts" in m ? (m.sniHosts as readonly string[]) : [];
        const sniHosts = [...new Set(sni.flatMap(narrowSni))];
        if (kind === "tls" && sni.length && sniHosts.length === 0) continue;
        const destinationSubnets = m?.destinationSubnets ?? [];
        out.push({ destinationSubnets, sniHosts, proxy });
        if (sniHosts.length === 0 && destinationSubnets.length === 0) return out;
      }
    }
  }
  return out;
}
