/**
 * What one proxy view sees, resolved once per view: for each visible service the DestinationRule
 * that applies (Istio's lookup and merge) and the policy of each of its clusters; the
 * VirtualServices in the proxy's import order and the one that routes each host; per listener
 * port, the services on it with their resolved routes. `translate/` builds Envoy messages from
 * this and looks nothing up itself.
 *
 * Sharing: a `ServiceScope` is a pure function of (service, applicable rule, credentials) and is
 * memoised on those objects, so every view that resolves the same rule for a service holds the
 * same `ServiceScope` object; per-service output (clusters) can be memoised on it.
 */
import type { ObjectRef } from "../api/diagnostics.js";
import { hostMatches } from "./hosts.js";
import { entryPolicy } from "./service-entry-scope.js";
import { serviceVisible } from "./visibility.js";
import {
  credentialKey,
  endpointKey,
  type ServiceAliasModel,
  type CredentialModel,
  type DestinationRuleModel,
  type MeshModel,
  type ServiceModel,
  type ServicePortModel,
  type VirtualServiceModel,
} from "./ir.js";
import { CREDENTIAL_CA_SUFFIX, MESH_GATEWAY, outboundClusterName, serviceDomains } from "./names.js";
import { inboundScope, type InboundScope } from "./inbound.js";
import { keptDefaultRoute, keptHttpRoutes, keptVirtualHost, type Resolution } from "./kept-routes.js";
import { inboundSecurityScope, type InboundSecurityScope } from "./authz/scope.js";
import { namespaceMtlsMode, type PeerAuthentications } from "./peer-authentication.js";
import { DEFAULT_MESH_CONFIG, type OutboundTrafficPolicyMode } from "./mesh-config.js";
import type { ClusterPolicy } from "./parsed.js";
import { clusterPolicy, destinationRuleFor } from "./policies.js";
import { isHttpProtocol } from "./protocol.js";
import type { ProxyView } from "./proxy.js";
import { sidecarVirtualServices, virtualServiceForHost } from "./routing.js";
import {
  DEFAULT_ROOT_NAMESPACE,
  egressListenerFor,
  importsService,
  importsVirtualService,
  sidecarFor,
  type EgressListenerModel,
  type SidecarModel,
} from "./sidecar-scope.js";
import {
  resolveDefaultRoute,
  resolveHttpRoutes,
  resolveL4Routes,
  type DefaultRouteModel,
  type HttpRouteModel,
  type L4RouteModel,
  type RouteScope,
} from "./routes.js";

/**
 * The Secret a `credentialName` names, looked up where Istio looks (the proxy's namespace, which
 * is the rule's: only a workload-selected rule honours it, and such a rule applies in its own
 * namespace only).
 */
export interface CredentialRef {
  /** Istio honours credentialName for sidecars only in a DestinationRule with a workloadSelector. */
  readonly honoured: boolean;
  readonly namespace: string;
  readonly secret?: CredentialModel;
  /** The `<name>-cacert` Secret, when there is one. */
  readonly caSecret?: CredentialModel;
}

/** One outbound cluster: a service port, or one of its DestinationRule subsets. */
export interface ClusterScope {
  readonly name: string;
  readonly port: ServicePortModel;
  readonly subset?: string;
  /** The subset's labels (none: every endpoint of the port). */
  readonly labels: Readonly<Record<string, string>>;
  readonly policy?: ClusterPolicy;
  /** The `mesh.endpoints` key the cluster's endpoints come from. */
  readonly endpoints: string;
  readonly credential?: CredentialRef;
}

/** What a client of the service needs for mesh mTLS (see identity.ts). */
export interface ServiceMtls {
  /** SPIFFE identities of its workloads: ISTIO_MUTUAL pins the server to them when the rule names no SANs. */
  readonly identities: readonly string[];
  /**
   * Auto mTLS applies to clusters without TLS settings: on in the mesh config, proxies hold
   * certificates, the service is not MESH_EXTERNAL, its namespace (or the mesh) does not DISABLE
   * mTLS (Istio's inference from PeerAuthentication), and some endpoint is a mesh member. Istio
   * adds the matches without that last condition; every endpoint would match plaintext then, so
   * leaving them out changes no connection and keeps SDS references away from proxies of a mesh
   * without members.
   */
  readonly auto: boolean;
}

export interface ServiceScope {
  readonly service: ServiceModel;
  readonly mtls?: ServiceMtls;
  /** The DestinationRule that applies (several of one namespace merged), for metadata and findings. */
  readonly rule?: { readonly namespace: string; readonly name: string; readonly ref: ObjectRef };
  /** Per port: the port's cluster, then one per subset in the rule's order. */
  readonly clusters: readonly ClusterScope[];
}

export interface VirtualHostScope {
  readonly host: string;
  readonly domains: readonly string[];
  /** The VirtualService's routes; none: the default route. */
  readonly routes: readonly HttpRouteModel[];
  readonly defaultRoute?: DefaultRouteModel;
}

export interface TcpServiceScope {
  readonly service: ServiceModel;
  readonly port: ServicePortModel;
  readonly routes: readonly L4RouteModel[];
  /** A headless Service's endpoint addresses (sorted, once each): Istio gives each its own listener, there being no VIP. */
  readonly headlessAddresses?: readonly string[];
}

/**
 * A service port that names no protocol, on a proxy that captures: as Istio, a `<VIP>_<port>`
 * listener of its own that sniffs HTTP (routed by the service's virtual host, matching any
 * domain) and sends everything else to its TCP routes.
 */
export interface AutoServiceScope extends TcpServiceScope {
  readonly virtualHost: VirtualHostScope;
}

/** One port number: the services with an HTTP port and those with another protocol on it. */
export interface PortScope {
  readonly port: number;
  readonly http: readonly ServiceModel[];
  readonly tcp: readonly TcpServiceScope[];
  /** Services whose port names no protocol, each sniffed on its own VIP listener. */
  readonly auto: readonly AutoServiceScope[];
  /** For HTTP ports: the route configuration's virtual hosts, in service order, then the non-registry hosts. */
  readonly virtualHosts: readonly VirtualHostScope[];
  /** A Sidecar egress listener binds this port to a real socket at this address (whatever the proxy's capture). */
  readonly bound?: string;
}

/** What a sidecar's outbound side is built from: it reads the proxy's labels through outboundLabels only. */
export interface OutboundScope {
  readonly proxy: ProxyView;
  readonly gateway: string;
  /** By FQDN order, as `mesh.services`. */
  readonly services: readonly ServiceScope[];
  /** Sorted by port number. */
  readonly ports: readonly PortScope[];
  /**
   * Where traffic to hosts outside the registry goes: the mesh config's mode, which a Sidecar
   * resource's `outboundTrafficPolicy` for this workload overrides.
   */
  readonly outboundTrafficPolicy: OutboundTrafficPolicyMode;
  /** With ALLOW_ANY from a Sidecar's egressProxy: the cluster that takes that traffic instead of PassthroughCluster. */
  readonly egressProxyCluster?: string;
  /** The Sidecar resource that scopes this view, if any. */
  readonly sidecar?: ObjectRef;
  /** The mesh's PeerAuthentications (destination endpoints' mTLS is decided by theirs). */
  readonly peerAuthentications?: PeerAuthentications;
}

/** What a sidecar's inbound side is built from: the workload's own ports and policies. */
export interface InboundSideScope {
  readonly proxy: ProxyView;
  /** The workload ports the proxy receives traffic for (empty without capture). */
  readonly inbound: InboundScope;
  /** Authorization and JWT rules enforced on the inbound side (none apply: absent). */
  readonly security?: InboundSecurityScope;
}

export interface ProxyScope extends OutboundScope, InboundSideScope {}

/**
 * Istio puts the VirtualService hosts that name no registry service (external names, wildcards that
 * match no service) in the sidecar's route configuration for port 80 only, with the host itself as
 * the single domain.
 */
const NON_REGISTRY_HOST_PORT = 80;

const NO_CREDENTIALS: ReadonlyMap<string, CredentialModel> = new Map();
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

export function buildProxyScope(mesh: MeshModel, proxy: ProxyView): ProxyScope {
  return { ...buildOutboundScope(mesh, proxy), ...buildInboundSideScope(mesh, proxy) };
}

/** The Sidecar resource that scopes `proxy`, if any. */
function sidecarOf(mesh: MeshModel, proxy: ProxyView): SidecarModel | undefined {
  const config = mesh.meshConfig ?? DEFAULT_MESH_CONFIG;
  return mesh.sidecars?.length ? sidecarFor(mesh.sidecars, proxy.namespace, proxy.labels, config.rootNamespace ?? DEFAULT_ROOT_NAMESPACE) : undefined;
}

export function buildInboundSideScope(mesh: MeshModel, proxy: ProxyView): InboundSideScope {
  const security = inboundSecurityScope(mesh, proxy);
  return { proxy, inbound: inboundScope(mesh, proxy, sidecarOf(mesh, proxy)), ...(security ? { security } : {}) };
}

export function buildOutboundScope(mesh: MeshModel, proxy: ProxyView): OutboundScope {
  const gateway = MESH_GATEWAY;
  const config = mesh.meshConfig ?? DEFAULT_MESH_CONFIG;
  const sidecar = sidecarOf(mesh, proxy);
  const { services, policyFor } = outboundServices(mesh, proxy, sidecar, config);
  const vssOf = routingLists(mesh.virtualServices, proxy.namespace, sidecar);
  const aliasTarget = aliasTargets(mesh);
  const aliases = mesh.aliases ?? NO_ALIASES;
  const ports: PortScope[] = [];
  for (const [number, all] of portsByNumber(mesh.services)) {
    const listener = sidecar ? egressListenerFor(sidecar, number) : undefined;
    if (sidecar && !listener) continue;
    // Everything the port's scope reads but the VirtualServices: while these are the same, an edit
    // of VirtualServices redoes only the hosts they name (patchPort).
    const inputs = [all, listener, config, mesh.services, policyFor, aliasTarget, aliases, hasHeadless(all) ? mesh.endpoints : undefined];
    const at: PortAt = { number, all, listener, gateway, proxy, mesh, config, policyFor };
    let byNumber = portMemos.get(proxy);
    if (!byNumber) portMemos.set(proxy, (byNumber = new Map()));
    const known = byNumber.get(number);
    const port = known && sameList(known.inputs, inputs) ? patchPort(known, at, vssOf(listener)) : buildPort(at, vssOf(listener));
    if (!port) {
      byNumber.delete(number);
      continue;
    }
    byNumber.set(number, { ...port, inputs });
    ports.push(port.scope);
  }
  const outboundTrafficPolicy = sidecar?.outboundTrafficPolicy ?? config.outboundTrafficPolicy.mode;
  const egressProxyCluster = outboundTrafficPolicy === "ALLOW_ANY" ? sidecar?.egressProxyCluster : undefined;
  return {
    proxy,
    gateway,
    services,
    ports,
    outboundTrafficPolicy,
    ...(egressProxyCluster ? { egressProxyCluster } : {}),
    ...(sidecar ? { sidecar: sidecar.ref } : {}),
    ...(mesh.peerAuthentications ? { peerAuthentications: mesh.peerAuthentications } : {}),
  };
}

/**
 * Counts for tests: ports whose scope was built whole, hosts redone by a VirtualService edit's
 * patch, namespaces' VirtualService import orders worked out, and edits' changed hosts worked out.
 */
export const portScopeStats = { built: 0, patchedHosts: 0, importOrders: 0, touched: 0 };

interface ServicesPart {
  readonly services: readonly ServiceScope[];
  readonly policyFor: RouteScope["policyFor"];
}

/** Per proxy view: the visible services' scopes, and what they were resolved from. */
const servicesMemos = new WeakMap<ProxyView, { readonly inputs: readonly unknown[]; readonly value: ServicesPart }>();

/**
 * Each visible service with the DestinationRule the proxy applies to it. The same objects as last
 * time while the services, rules, credentials and mTLS facts are: a route edit looks up no rule.
 */
function outboundServices(mesh: MeshModel, proxy: ProxyView, sidecar: SidecarModel | undefined, config: MeshConfigLike): ServicesPart {
  const credentials = mesh.credentials ?? NO_CREDENTIALS;
  const inputs = [mesh.services, mesh.destinationRules, credentials, mesh.identities, mesh.peerAuthentications, config, sidecar];
  const known = servicesMemos.get(proxy);
  if (known && sameList(known.inputs, inputs)) return known.value;
  const byHost = new Map<string, DestinationRuleModel>();
  const services: ServiceScope[] = [];
  for (const svc of mesh.services.values()) {
    if (!serviceVisible(svc, proxy.namespace, config)) continue;
    if (sidecar && !sidecar.egress.some((l) => importsService(l, svc.hostname, svc.namespace, proxy.namespace))) continue;
    const rule = destinationRuleFor(mesh.destinationRules, svc.hostname, svc.namespace, proxy.namespace, proxy.labels);
    services.push(serviceScope(svc, rule, credentials, serviceMtls(mesh, svc)));
    if (rule) byHost.set(svc.hostname, rule);
  }
  const policyFor = (host: string, subset: string | undefined, port: number): ClusterPolicy | undefined => {
    const rule = byHost.get(host);
    return rule ? clusterPolicy(rule, subset, port) : undefined;
  };
  const value = { services, policyFor };
  servicesMemos.set(proxy, { inputs, value });
  return value;
}

type MeshConfigLike = NonNullable<MeshModel["meshConfig"]>;

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The VirtualServices that route for a listener (all the proxy imports, without a Sidecar), in import order. */
type Routing = { readonly vss: readonly VirtualServiceModel[]; readonly routing: (host: string) => VirtualServiceModel | undefined };

const sidecarLists = new WeakMap<readonly VirtualServiceModel[], Map<string, readonly VirtualServiceModel[]>>();

const exportsUniform = new WeakMap<readonly VirtualServiceModel[], boolean>();

/** Does no VirtualService of the list name a namespace in its exportTo (so every namespace imports the list alike)? */
function namesNoNamespace(all: readonly VirtualServiceModel[]): boolean {
  let known = exportsUniform.get(all);
  if (known === undefined) exportsUniform.set(all, (known = all.every((vs) => vs.exportTo.every((e) => e === "*"))));
  return known;
}

/** Per listener (undefined: no Sidecar), its routing; a namespace's import order is worked out once per VirtualService list. */
function routingLists(
  all: readonly VirtualServiceModel[],
  namespace: string,
  sidecar: SidecarModel | undefined,
): (l: EgressListenerModel | undefined) => Routing {
  let byNamespace = sidecarLists.get(all);
  if (!byNamespace) sidecarLists.set(all, (byNamespace = new Map()));
  let allVss = byNamespace.get(namespace);
  if (!allVss) {
    // Namespaces that import the same VirtualServices in the same order share one list, and so
    // what is worked out per list: its host index, an edit's changes. Without an exportTo that
    // names a namespace ("." included) that is every namespace, and the list is made once.
    const first = byNamespace.values().next().value;
    if (first !== undefined && namesNoNamespace(all)) allVss = first;
    else {
      portScopeStats.importOrders++;
      const made = sidecarVirtualServices(all, namespace);
      for (const other of byNamespace.values()) if (sameList(other, made)) allVss = other;
      allVss ??= made;
    }
    byNamespace.set(namespace, allVss);
  }
  const ordered = allVss;
  const routingBy = new Map<EgressListenerModel | undefined, Routing>();
  return (listener) => {
    let r = routingBy.get(listener);
    if (r) return r;
    const vss = listener && sidecar ? ordered.filter((vs) => importsVirtualService(listener, vs, namespace)) : ordered;
    const vsFor = new Map<string, VirtualServiceModel | undefined>();
    const routing = (host: string): VirtualServiceModel | undefined => {
      if (!vsFor.has(host)) vsFor.set(host, virtualServiceForHost(vss, host));
      return vsFor.get(host);
    };
    routingBy.set(listener, (r = { vss, routing }));
    return r;
  };
}

/** What a port's scope is built from, but its VirtualServices. */
interface PortAt {
  readonly number: number;
  readonly all: readonly PortEntry[];
  readonly listener: EgressListenerModel | undefined;
  readonly gateway: string;
  readonly proxy: ProxyView;
  readonly mesh: MeshModel;
  readonly config: MeshConfigLike;
  readonly policyFor: RouteScope["policyFor"];
}

/** A port's scope, the VirtualServices it was resolved with, and where each host's pieces are in it. */
interface PortBuild {
  readonly scope: PortScope;
  readonly vss: readonly VirtualServiceModel[];
  readonly ctx: RouteScope;
  /** Per HTTP virtual host (in `scope.virtualHosts`' order, registry hosts only): how it was made. */
  readonly hosts: readonly HostBuild[];
}

/**
 * A registry service's virtual host on a port, its domains, and the route resolutions it was made
 * of: holding them here is what keeps them findable by the next build and by other views (kept-routes.ts).
 */
interface HostBuild {
  readonly svc: ServiceModel;
  readonly domains: readonly string[];
  readonly vh: VirtualHostScope;
  readonly routes?: Resolution<readonly HttpRouteModel[]>;
  readonly defaultRoute?: Resolution<DefaultRouteModel>;
}

/**
 * A VirtualService that yields no route on this port (every rule pruned by port, source or a
 * missing delegate) leaves the service its default route, as in Istio. Resolutions are kept across
 * builds and views (kept-routes.ts): an edit resolves again only what it touches, once.
 */
function registryHost(svc: ServiceModel, port: number, domains: readonly string[], vs: VirtualServiceModel | undefined, ctx: RouteScope): HostBuild {
  const routes = vs ? keptHttpRoutes(vs, ctx) : undefined;
  const defaultRoute = routes?.value.length ? undefined : keptDefaultRoute(svc, port, ctx);
  const vh = keptVirtualHost(svc, port, domains, routes?.value ?? NO_ROUTES, defaultRoute?.value);
  return { svc, domains, vh, ...(routes ? { routes } : {}), ...(defaultRoute ? { defaultRoute } : {}) };
}

/** Per proxy view and port number: the last scope and everything but the VirtualServices it read. */
const portMemos = new WeakMap<ProxyView, Map<number, PortBuild & { readonly inputs: readonly unknown[] }>>();

function buildPort(at: PortAt, { vss, routing }: Routing): PortBuild | undefined {
  const { number, all, listener, gateway, proxy, mesh, config, policyFor } = at;
  const entries = (listener ? all.filter((e) => importsService(listener, e.svc.hostname, e.svc.namespace, proxy.namespace)) : all).filter((e) =>
    serviceVisible(e.svc, proxy.namespace, config),
  );
  if (entries.length === 0) return undefined;
  portScopeStats.built++;
  const aliasTarget = aliasTargets(mesh);
  const ctx: RouteScope = { port: number, gateway, proxy, services: mesh.services, policyFor, ...(aliasTarget ? { aliasTarget } : {}) };
  const bound = listener ? boundAddress(listener, proxy) : undefined;
  // Sniffing needs a captured connection and a VIP to key the listener on; otherwise the port is served as HTTP.
  const sniffs = !bound && proxy.interceptionMode !== "NONE";
  const isAuto = (e: PortEntry): boolean => isAutoEntry(e, sniffs);
  const http = entries.filter((e) => isHttpProtocol(e.port.protocol) && !isAuto(e)).map((e) => e.svc);
  const tcp = entries
    .filter((e) => !isHttpProtocol(e.port.protocol))
    .map(({ svc, port }) => ({ service: svc, port, routes: resolveL4Routes(routing(svc.hostname), svc, port, ctx), ...headless(mesh, svc, port) }));
  const auto = entries.filter(isAuto).map(({ svc, port }) => autoEntry(svc, port, routing(svc.hostname), ctx));
  const hosts: HostBuild[] = [];
  const virtualHosts = http.length ? buildVirtualHosts(http, number, ctx, routing, vss, mesh.aliases ?? NO_ALIASES, hosts) : [];
  const scope: PortScope = { port: number, http, tcp, auto, virtualHosts, ...(bound ? { bound } : {}) };
  return { scope, vss, ctx, hosts };
}

function isAutoEntry(e: PortEntry, sniffs: boolean): boolean {
  return sniffs && e.port.detected === true && e.svc.clusterIP !== undefined && e.svc.clusterIP !== "None";
}

function autoEntry(svc: ServiceModel, port: ServicePortModel, vs: VirtualServiceModel | undefined, ctx: RouteScope): AutoServiceScope {
  const routes = vs ? resolveHttpRoutes(vs, ctx) : [];
  return {
    service: svc,
    port,
    routes: resolveL4Routes(vs, svc, port, ctx),
    virtualHost: { host: svc.hostname, domains: ["*"], routes, ...(routes.length ? {} : { defaultRoute: resolveDefaultRoute(svc, ctx.port, ctx) }) },
  };
}

/**
 * `known`'s port under other VirtualServices (everything else it read the same): only the hosts
 * that a VirtualService added, removed or changed names are resolved again; every other host keeps
 * its pieces, and the lists their identity where nothing in them changed. A changed VirtualService
 * with a wildcard host, and the port that also serves hosts outside the registry, are built whole.
 */
function patchPort(known: PortBuild, at: PortAt, now: Routing): PortBuild | undefined {
  const { vss, routing } = now;
  if (vss === known.vss) return known;
  const rebuild = (): PortBuild | undefined => buildPort(at, now);
  if (at.number === NON_REGISTRY_HOST_PORT) return rebuild();
  const touched = touchedHosts(known.vss, vss);
  if (touched === undefined) return rebuild();
  const { scope, ctx } = known;
  let virtualHosts = scope.virtualHosts;
  let hosts = known.hosts;
  for (let i = 0; i < known.hosts.length; i++) {
    const { svc, domains } = known.hosts[i]!;
    if (!touched.has(svc.hostname)) continue;
    portScopeStats.patchedHosts++;
    const host = registryHost(svc, scope.port, domains, routing(svc.hostname), ctx);
    if (hosts === known.hosts) hosts = [...hosts];
    (hosts as HostBuild[])[i] = host;
    if (host.vh === virtualHosts[i]) continue;
    if (virtualHosts === scope.virtualHosts) virtualHosts = [...virtualHosts];
    (virtualHosts as VirtualHostScope[])[i] = host.vh;
  }
  const tcp = patchList(scope.tcp, touched, (e) => ({ ...e, routes: resolveL4Routes(routing(e.service.hostname), e.service, e.port, ctx) }));
  const auto = patchList(scope.auto, touched, (e) => autoEntry(e.service, e.port, routing(e.service.hostname), ctx));
  const same = virtualHosts === scope.virtualHosts && tcp === scope.tcp && auto === scope.auto;
  return { ...known, vss, hosts, scope: same ? scope : { ...scope, virtualHosts, tcp, auto } };
}

/** Per list before and after an edit: the hosts VirtualServices added, removed or changed name (undefined: a wildcard). */
const touchedMemo = new WeakMap<readonly VirtualServiceModel[], WeakMap<readonly VirtualServiceModel[], ReadonlySet<string> | undefined>>();

/** The hosts that VirtualServices in one list and not the other name; worked out once per pair of lists, whichever parts and ports hold them. */
function touchedHosts(before: readonly VirtualServiceModel[], after: readonly VirtualServiceModel[]): ReadonlySet<string> | undefined {
  let byAfter = touchedMemo.get(before);
  if (!byAfter) touchedMemo.set(before, (byAfter = new WeakMap()));
  if (byAfter.has(after)) return byAfter.get(after);
  portScopeStats.touched++;
  const was = new Set(before);
  const is = new Set(after);
  let touched: Set<string> | undefined = new Set<string>();
  outer: for (const [list, other] of [
    [before, is],
    [after, was],
  ] as const)
    for (const vs of list) {
      if (other.has(vs)) continue;
      for (const h of vs.hosts) {
        if (h.startsWith("*")) {
          touched = undefined;
          break outer;
        }
        touched.add(h);
      }
    }
  byAfter.set(after, touched);
  return touched;
}

/** `list` with the entries of touched hosts made again; `list` itself when there are none. */
function patchList<T extends TcpServiceScope>(list: readonly T[], touched: ReadonlySet<string>, again: (e: T) => T): readonly T[] {
  if (!list.some((e) => touched.has(e.service.hostname))) return list;
  return list.map((e) => (touched.has(e.service.hostname) ? again(e) : e));
}

const headlessIn = new WeakMap<readonly PortEntry[], boolean>();

/** Does a headless Service have this port (its scope then reads the endpoints: a listener per address)? */
function hasHeadless(all: readonly PortEntry[]): boolean {
  let known = headlessIn.get(all);
  if (known === undefined) headlessIn.set(all, (known = all.some((e) => e.svc.clusterIP === "None")));
  return known;
}

/**
 * A port-specific egress listener with `captureMode: NONE` listens on a real socket (its `bind`,
 * else 127.0.0.1), as does a `bind` on a proxy without capture.
 */
function boundAddress(l: EgressListenerModel, proxy: ProxyView): string | undefined {
  if (!l.port || l.bind?.startsWith("unix://")) return undefined;
  if (l.captureMode === "NONE") return l.bind ?? "127.0.0.1";
  return proxy.interceptionMode === "NONE" ? l.bind : undefined;
}

function buildVirtualHosts(
  http: readonly ServiceModel[],
  port: number,
  ctx: RouteScope,
  routing: (host: string) => VirtualServiceModel | undefined,
  vss: readonly VirtualServiceModel[],
  aliases: ReadonlyMap<string, readonly ServiceAliasModel[]>,
  hosts: HostBuild[],
): VirtualHostScope[] {
  const used = new Set<string>();
  const out: VirtualHostScope[] = [];
  for (const svc of http) {
    // Envoy rejects a domain that two virtual hosts share; as in Istio the first keeps it.
    const all = hostDomains(svc, ctx.proxy, aliases.get(svc.hostname));
    const domains = all.some((d) => used.has(d)) ? all.filter((d) => !used.has(d)) : all;
    for (const d of domains) used.add(d);
    if (domains.length === 0) continue;
    const host = registryHost(svc, port, domains, routing(svc.hostname), ctx);
    hosts.push(host);
    out.push(host.vh);
  }
  if (port === NON_REGISTRY_HOST_PORT) out.push(...nonRegistryVirtualHosts(vss, ctx, used));
  return out;
}

function headless(mesh: MeshModel, svc: ServiceModel, port: ServicePortModel): { headlessAddresses?: readonly string[] } {
  if (svc.clusterIP !== "None") return {};
  const addresses = new Set((mesh.endpoints.get(endpointKey(svc.hostname, port.port)) ?? []).map((e) => e.address));
  return { headlessAddresses: [...addresses].sort() };
}

const aliasIndexes = new WeakMap<ReadonlyMap<string, readonly ServiceAliasModel[]>, (host: string) => string | undefined>();

/** Alias FQDN → the registry host it names; undefined without ExternalName aliases. */
export function aliasTargets(mesh: MeshModel): ((host: string) => string | undefined) | undefined {
  const aliases = mesh.aliases;
  if (!aliases?.size) return undefined;
  let lookup = aliasIndexes.get(aliases);
  if (!lookup) {
    const byAlias = new Map<string, string>();
    for (const [target, list] of aliases) for (const a of list) byAlias.set(a.hostname, target);
    lookup = (host) => byAlias.get(host);
    aliasIndexes.set(aliases, lookup);
  }
  return lookup;
}

const NO_ROUTES: readonly HttpRouteModel[] = Object.freeze([]);

const NO_ALIASES: ReadonlyMap<string, readonly ServiceAliasModel[]> = new Map();

/** Per service, per proxy namespace and DNS domain: its domains when no alias names it (never mutate them). */
const plainDomains = new WeakMap<ServiceModel, Map<string, readonly string[]>>();

/** A service's domains, then those of the ExternalName Services that alias it (Istio 1.21+), then its cluster IP. */
function hostDomains(svc: ServiceModel, proxy: ProxyView, aliases: readonly ServiceAliasModel[] | undefined): readonly string[] {
  if (aliases?.length) return aliasedDomains(svc, proxy, aliases);
  let byProxy = plainDomains.get(svc);
  if (!byProxy) plainDomains.set(svc, (byProxy = new Map()));
  const key = `${proxy.namespace}\0${proxy.dnsDomain ?? ""}`;
  let domains = byProxy.get(key);
  if (!domains) {
    const made = aliasedDomains(svc, proxy, undefined);
    // Every namespace but the service's own sees the same domains: one array for them all.
    for (const other of byProxy.values()) if (sameStrings(other, made)) domains = other;
    byProxy.set(key, (domains ??= made));
  }
  return domains;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function aliasedDomains(svc: ServiceModel, proxy: ProxyView, aliases: readonly ServiceAliasModel[] | undefined): string[] {
  // A headless Service's pods have names of their own under it (`web-0.web.ns.svc…`), which Istio matches with a wildcard per domain.
  if (svc.clusterIP === "None") {
    const names = serviceDomains(svc.hostname, proxy.namespace, undefined, proxy.dnsDomain);
    for (const a of aliases ?? []) names.push(...serviceDomains(a.hostname, proxy.namespace, undefined, proxy.dnsDomain));
    return [...names, ...names.map((d) => `*.${d}`)];
  }
  if (!aliases?.length) return serviceDomains(svc.hostname, proxy.namespace, svc.clusterIP, proxy.dnsDomain);
  const out = serviceDomains(svc.hostname, proxy.namespace, undefined, proxy.dnsDomain);
  for (const a of aliases) out.push(...serviceDomains(a.hostname, proxy.namespace, undefined, proxy.dnsDomain));
  if (svc.clusterIP && svc.clusterIP !== "None") out.push(svc.clusterIP);
  return out;
}

function nonRegistryVirtualHosts(vss: readonly VirtualServiceModel[], ctx: RouteScope, used: Set<string>): VirtualHostScope[] {
  const out: VirtualHostScope[] = [];
  const services = [...ctx.services.keys()];
  for (const vs of vss) {
    for (const host of vs.hosts) {
      if (ctx.services.has(host)) continue;
      if (host.startsWith("*") && services.some((s) => hostMatches(host, s))) continue;
      if (used.has(host)) continue;
      // As in Istio, a VirtualService that yields no route here makes no virtual host.
      const routes = resolveHttpRoutes(vs, ctx);
      if (routes.length === 0) continue;
      used.add(host);
      out.push({ host, domains: [host], routes });
    }
  }
  return out;
}

interface PortEntry {
  readonly svc: ServiceModel;
  readonly port: ServicePortModel;
}

const portIndexes = new WeakMap<ReadonlyMap<string, ServiceModel>, ReadonlyMap<number, readonly PortEntry[]>>();

/** Every service port by port number, ascending; computed once per service registry. */
function portsByNumber(services: ReadonlyMap<string, ServiceModel>): ReadonlyMap<number, readonly PortEntry[]> {
  let index = portIndexes.get(services);
  if (index) return index;
  const out = new Map<number, PortEntry[]>();
  for (const svc of services.values()) {
    for (const port of svc.ports) {
      const list = out.get(port.port);
      if (list) list.push({ svc, port });
      else out.set(port.port, [{ svc, port }]);
    }
  }
  index = new Map([...out.entries()].sort(([a], [b]) => a - b));
  portIndexes.set(services, index);
  return index;
}

/** The service's mTLS facts for clients (sidecars and gateways alike). */
export function serviceMtls(mesh: MeshModel, svc: ServiceModel): ServiceMtls | undefined {
  const identity = mesh.identities?.get(svc.hostname);
  if (!identity) return undefined;
  const config = mesh.meshConfig ?? DEFAULT_MESH_CONFIG;
  const auto =
    identity.meshEndpoints &&
    config.enableAutoMtls !== false &&
    config.workloadCertificates !== false &&
    svc.entry?.location !== "MESH_EXTERNAL" &&
    namespaceMtlsMode(mesh.peerAuthentications, svc.namespace) !== "DISABLE";
  return { identities: identity.accounts, auto };
}

const sameMtls = (a: ServiceMtls | undefined, b: ServiceMtls | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.auto === b.auto && a.identities.join(",") === b.identities.join(","));

/** Per service: its scope without a rule, and under each rule (weakly held: old rules and services go). */
interface ServiceScopes {
  none?: ServiceScope;
  readonly byRule: WeakMap<DestinationRuleModel, ServiceScope>;
}

const serviceScopes = new WeakMap<ReadonlyMap<string, CredentialModel>, WeakMap<ServiceModel, ServiceScopes>>();

/** The service's clusters under `rule`; the same inputs give the same object, whichever view asks. */
export function serviceScope(
  svc: ServiceModel,
  rule: DestinationRuleModel | undefined,
  credentials: ReadonlyMap<string, CredentialModel>,
  mtls?: ServiceMtls,
): ServiceScope {
  let bySvc = serviceScopes.get(credentials);
  if (!bySvc) serviceScopes.set(credentials, (bySvc = new WeakMap()));
  let scopes = bySvc.get(svc);
  if (!scopes) bySvc.set(svc, (scopes = { byRule: new WeakMap() }));
  if (!rule) {
    if (!scopes.none || !sameMtls(scopes.none.mtls, mtls)) scopes.none = buildServiceScope(svc, undefined, credentials, mtls);
    return scopes.none;
  }
  let scope = scopes.byRule.get(rule);
  if (!scope || !sameMtls(scope.mtls, mtls)) scopes.byRule.set(rule, (scope = buildServiceScope(svc, rule, credentials, mtls)));
  return scope;
}

function buildServiceScope(
  svc: ServiceModel,
  rule: DestinationRuleModel | undefined,
  credentials: ReadonlyMap<string, CredentialModel>,
  mtls: ServiceMtls | undefined,
): ServiceScope {
  const clusters: ClusterScope[] = [];
  for (const port of svc.ports) {
    const endpoints = endpointKey(svc.hostname, port.port);
    for (const subset of [undefined, ...(rule?.subsets ?? [])]) {
      const policy = entryPolicy(svc, rule ? clusterPolicy(rule, subset?.name, port.port) : undefined);
      const credential = policy?.tls?.credentialName ? credentialRef(policy.tls.credentialName, rule!, credentials) : undefined;
      clusters.push({
        name: outboundClusterName(port.port, subset?.name, svc.hostname),
        port,
        ...(subset ? { subset: subset.name } : {}),
        labels: subset?.labels ?? NO_LABELS,
        ...(policy ? { policy } : {}),
        endpoints,
        ...(credential ? { credential } : {}),
      });
    }
  }
  return {
    service: svc,
    ...(mtls ? { mtls } : {}),
    ...(rule ? { rule: { namespace: rule.namespace, name: rule.name, ref: rule.refs[0]! } } : {}),
    clusters,
  };
}

function credentialRef(name: string, rule: DestinationRuleModel, credentials: ReadonlyMap<string, CredentialModel>): CredentialRef {
  if (rule.workloadSelector === undefined) return { honoured: false, namespace: rule.namespace };
  const secret = credentials.get(credentialKey(rule.namespace, name));
  const caSecret = credentials.get(credentialKey(rule.namespace, name + CREDENTIAL_CA_SUFFIX));
  return { honoured: true, namespace: rule.namespace, ...(secret ? { secret } : {}), ...(caSecret ? { caSecret } : {}) };
}
