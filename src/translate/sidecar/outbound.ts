/**
 * A sidecar's outbound side: what the application reaches through it. One cluster per service port
 * and DestinationRule subset, one listener per port (HTTP ports share `0.0.0.0_<port>`, TCP ports
 * get one per service VIP), one route configuration per HTTP port with a virtual host per service.
 * Everything comes resolved in the view's scope (model/scope.ts).
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import { ALLOW_ANY_VHOST, autoRouteConfigName, BLOCK_ALL_VHOST, sidecarRouteConfigName, virtualHostName } from "../../model/names.js";
import type { PeerAuthentications } from "../../model/peer-authentication.js";
import type { ProxyView } from "../../model/proxy.js";
import type { AutoServiceScope, OutboundScope, PortScope, ServiceScope, TcpServiceScope, VirtualHostScope } from "../../model/scope.js";
import { outboundCluster } from "../cluster.js";
import { localityLbFor, type EndpointTls } from "../endpoints.js";
import {
  byResourceName,
  type ClusterJson,
  type FilterChainJson,
  type ListenerJson,
  type RouteConfigurationJson,
  type RouteJson,
  type VirtualHostJson,
} from "../envoy.js";
import { dedupeMatches, l4FilterChains } from "../l4-route.js";
import { SidecarCodes } from "../../model/sidecar-scope.js";
import {
  httpListener,
  l4Listener,
  passthroughChain,
  sniffingListener,
  unmatchedCluster,
  virtualOutboundListener,
  type Bind,
  type UnmatchedTraffic,
} from "../listener.js";
import type { EdsTarget } from "../proxy.js";
import { defaultRoute, httpRoutes } from "../route.js";
import type { SecretJson, UpstreamTls } from "../tls.js";

/** A service's clusters with what building them found: the same for every view that holds the same ServiceScope. */
export interface ServiceClusters {
  readonly clusters: readonly ClusterJson[];
  /** The SDS Secrets the clusters reference (credentialName). */
  readonly secrets: readonly SecretJson[];
  readonly diagnostics: readonly Diagnostic[];
}

const builtClusters = new WeakMap<ServiceScope, ServiceClusters>();
const builtRouterClusters = new WeakMap<ServiceScope, ServiceClusters>();

/**
 * A service's clusters: one per port, plus one per DestinationRule subset. They depend on the
 * service and its resolved rule only, so they are built once per ServiceScope and shared by every
 * view that resolves the same rule for the service. That keeps one copy of the cluster JSON per
 * service and rule alive with the model (about 8 MB at 1000 services), where every view used to
 * build its own; nothing may mutate these objects.
 */
export function serviceClusters(svc: ServiceScope, proxyType: "sidecar" | "router" = "sidecar"): ServiceClusters {
  // Only a headless Service's clusters differ for a gateway (see outboundCluster's forRouter).
  const forRouter = proxyType === "router" && svc.service.clusterIP === "None";
  const cache = forRouter ? builtRouterClusters : builtClusters;
  const known = cache.get(svc);
  if (known) return known;
  const diagnostics: Diagnostic[] = [];
  const secrets: SecretJson[] = [];
  const rule = svc.rule;
  const report = (message: string): void => {
    if (rule) diagnostics.push({ severity: "warning", code: "MP0405", message, object: rule.ref });
  };
  const onTls = (tls: UpstreamTls): void => {
    secrets.push(...(tls.secrets ?? []));
    for (const p of tls.problems ?? []) {
      diagnostics.push({ severity: p.severity, code: p.code, message: p.message, object: p.object ?? rule!.ref, ...(p.path ? { path: p.path } : {}) });
    }
  };
  const built = { clusters: svc.clusters.map((c) => outboundCluster(svc, c, report, onTls, forRouter)), secrets, diagnostics };
  cache.set(svc, built);
  return built;
}

/**
 * Per service scope and proxy side (what of the proxy its recipes read: its locality and labels),
 * the EDS recipes last made (kept across builds with the scope). Keyed by side, not by view: the
 * outbound sides of namespaces (one shared part each) hold the same recipes, made once.
 */
const builtTargets = new WeakMap<
  ServiceScope,
  Map<string, { readonly clusters: readonly ClusterJson[]; readonly pa: PeerAuthentications | undefined; readonly targets: readonly EdsTarget[] }>
>();

const proxySides = new WeakMap<ProxyView, string>();

/** What locality load balancing reads of a proxy (localityLbFor), as a key. */
function proxySideKey(proxy: ProxyView): string {
  let key = proxySides.get(proxy);
  if (key === undefined) {
    const l = proxy.locality;
    key = JSON.stringify([l?.region ?? null, l?.zone ?? null, l?.subZone ?? null, proxy.labels]);
    proxySides.set(proxy, key);
  }
  return key;
}

/**
 * EDS recipes of a service's clusters: locality load balancing is relative to the proxy. The same
 * objects for the same scope, proxy side and PeerAuthentications, so that their ClusterLoadAssignments
 * are found by identity (shared-endpoints.ts).
 */
export function edsTargets(
  svc: ServiceScope,
  clusters: readonly ClusterJson[],
  proxy: ProxyView,
  peerAuthentications: PeerAuthentications | undefined,
): readonly EdsTarget[] {
  let bySide = builtTargets.get(svc);
  if (!bySide) builtTargets.set(svc, (bySide = new Map()));
  const side = proxySideKey(proxy);
  const known = bySide.get(side);
  if (known && known.pa === peerAuthentications && known.clusters === clusters) return known.targets;
  const targets = buildEdsTargets(svc, clusters, proxy, peerAuthentications);
  bySide.set(side, { clusters, pa: peerAuthentications, targets });
  return targets;
}

function buildEdsTargets(
  svc: ServiceScope,
  clusters: readonly ClusterJson[],
  proxy: ProxyView,
  peerAuthentications: PeerAuthentications | undefined,
): EdsTarget[] {
  const out: EdsTarget[] = [];
  svc.clusters.forEach((c, i) => {
    if (clusters[i]!.type !== "EDS") return;
    const locality = localityLbFor(c.policy, proxy);
    const tls: EndpointTls = {
      ...(peerAuthentications ? { peerAuthentications } : {}),
      ...(c.policy?.tls ? { ruleMode: c.policy.tls.mode ?? "DISABLE" } : {}),
    };
    out.push({ cluster: c.name, endpoints: c.endpoints, labels: c.labels, ...(locality ? { locality } : {}), ...(Object.keys(tls).length ? { tls } : {}) });
  });
  return out;
}

function bindOf(proxy: ProxyView): Bind {
  return proxy.interceptionMode === "NONE" ? { mode: "bound", address: "127.0.0.1" } : { mode: "captured" };
}

function sidecarListeners(scope: OutboundScope): { listeners: ListenerJson[]; diagnostics: Diagnostic[] } {
  const proxyBind = bindOf(scope.proxy);
  const listeners: ListenerJson[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const { port: number, http, tcp, auto, bound } of scope.ports) {
    // A Sidecar egress listener with captureMode NONE binds its port whatever the proxy's capture.
    const bind: Bind = bound ? { mode: "bound", address: bound } : proxyBind;
    if (http.length && bind.mode !== "captured") listeners.push(httpListener(number, bind, unmatchedTraffic(scope)));
    if (bind.mode === "captured") {
      const wildcard = wildcardChains(number, tcp, diagnostics);
      if (wildcard.length && !http.length) listeners.push(l4Listener("0.0.0.0", number, wildcard, bind, passthroughChain(unmatchedTraffic(scope))));
      if (http.length) listeners.push(httpListener(number, bind, unmatchedTraffic(scope), wildcard));
      for (const entry of tcp) {
        if (entry.service.clusterIP && entry.service.clusterIP !== "None")
          listeners.push(l4Listener(entry.service.clusterIP, number, l4FilterChains(entry.routes), bind));
        for (const address of entry.headlessAddresses ?? []) listeners.push(l4Listener(address, number, l4FilterChains(entry.routes), bind));
      }
      for (const entry of auto)
        listeners.push(sniffingListener(entry.service.clusterIP!, number, autoRouteConfigName(entry.service.hostname, number), l4FilterChains(entry.routes)));
      continue;
    }
    // One local socket per port: HTTP services share it through virtual hosts, a TCP service cannot.
    const [winner, ...losers] = http.length ? [] : tcp;
    if (winner) listeners.push(l4Listener(bind.address, number, l4FilterChains(winner.routes), bind));
    for (const lost of http.length ? tcp : losers) {
      diagnostics.push({
        severity: "warning",
        code: "MP0301",
        message: `port ${number} of ${lost.service.hostname} (${lost.port.protocol}) is not reachable through ${bind.address}:${number}: ${http.length ? "HTTP services" : winner?.service.hostname} already listen there`,
        object: lost.service.ref,
      });
    }
  }
  if (proxyBind.mode === "captured") listeners.push(virtualOutboundListener(unmatchedTraffic(scope)));
  return { listeners: firstOfEachName(listeners.sort(byResourceName), diagnostics), diagnostics };
}

/**
 * Non-HTTP ports of hosts without an address (ServiceEntries without `addresses`) share the
 * wildcard `0.0.0.0_<port>` listener, as in Istio: a TLS/HTTPS host by its SNI (its name), a TCP
 * host as the one match-all chain (the first by host name; the others are reported).
 */
function wildcardChains(port: number, tcp: readonly TcpServiceScope[], diagnostics: Diagnostic[]): FilterChainJson[] {
  const chains: FilterChainJson[] = [];
  let catchAll: string | undefined;
  for (const entry of tcp) {
    if (entry.service.clusterIP) continue;
    const tls = entry.port.protocol === "TLS" || entry.port.protocol === "HTTPS";
    for (const chain of l4FilterChains(entry.routes)) {
      if (tls && !chain.filterChainMatch?.serverNames?.length)
        chains.push({ filterChainMatch: { ...chain.filterChainMatch, serverNames: [entry.service.hostname] }, filters: chain.filters });
      else if (chain.filterChainMatch) chains.push(chain);
      else if (catchAll === undefined) {
        catchAll = entry.service.hostname;
        chains.push(chain);
      } else
        diagnostics.push({
          severity: "warning",
          code: "MP0703",
          message: `port ${port} (${entry.port.protocol}) of ${entry.service.hostname} has no address, and ${catchAll} already takes the connections to 0.0.0.0:${port} that match no other chain: this host is not reached there; give the entry an address`,
          object: entry.service.ref,
        });
    }
  }
  return dedupeMatches(chains);
}

/** Two headless Services with a pod and port in common ask for one `<podIP>_<port>` listener twice: the first (by host) keeps it. */
function firstOfEachName(sorted: ListenerJson[], diagnostics: Diagnostic[]): ListenerJson[] {
  return sorted.filter((l, i) => {
    if (i === 0 || sorted[i - 1]!.name !== l.name) return true;
    diagnostics.push({
      severity: "warning",
      code: "MP0302",
      message: `listener ${l.name} is wanted by more than one headless Service port; the first by host name keeps it`,
    });
    return false;
  });
}

/** Per virtual host scope (kept across builds while its routes are: model/kept-routes.ts), its JSON. */
const translatedHosts = new WeakMap<VirtualHostScope, { readonly port: number; readonly json: VirtualHostJson }>();

/**
 * Per resolution (a virtual host's routes, or its default route), its routes' JSON. A service's
 * virtual hosts differ in their domains only (its own namespace's proxies reach it by its short
 * name too), so they hold one copy of the routes.
 */
const translatedRoutes = new WeakMap<object, { readonly port: number; readonly json: RouteJson[] }>();

function routesOf(vh: VirtualHostScope, port: number): RouteJson[] {
  const from = vh.defaultRoute ?? vh.routes;
  const known = translatedRoutes.get(from);
  if (known?.port === port) return known.json;
  const json = vh.defaultRoute ? [defaultRoute(vh.defaultRoute)] : httpRoutes(vh.routes, port);
  translatedRoutes.set(from, { port, json });
  return json;
}

/** A virtual host's JSON; the same object for the same scope, which the encoders know by identity (never mutate it). */
function virtualHost(vh: VirtualHostScope, port: number): VirtualHostJson {
  const known = translatedHosts.get(vh);
  if (known?.port === port) return known.json;
  const json: VirtualHostJson = { name: virtualHostName(vh.host, port), domains: [...vh.domains], routes: routesOf(vh, port) };
  translatedHosts.set(vh, { port, json });
  return json;
}

function routeConfigurationOf(name: string, virtualHosts: VirtualHostJson[]): RouteConfigurationJson {
  return { name, virtualHosts, validateClusters: false, ignorePortInHostMatching: true, maxDirectResponseBodySizeBytes: 1048576 };
}

/** One port's RouteConfiguration, named by the port: a virtual host per service, then the catch-all. */
function routeConfiguration(port: PortScope, policy: UnmatchedTraffic): RouteConfigurationJson {
  const vhosts: VirtualHostJson[] = port.virtualHosts.map((vh) => virtualHost(vh, port.port));
  vhosts.sort(byResourceName);
  vhosts.push(catchAllVirtualHost(policy));
  return routeConfigurationOf(sidecarRouteConfigName(port.port), vhosts);
}

/** A sniffed service port's own RouteConfiguration (`<fqdn>:<port>`): its one virtual host, any domain, no catch-all. */
function autoRouteConfiguration(entry: AutoServiceScope, port: number): RouteConfigurationJson {
  return routeConfigurationOf(autoRouteConfigName(entry.service.hostname, port), [virtualHost(entry.virtualHost, port)]);
}

/** Where traffic to hosts outside the registry goes for this proxy (see unmatchedCluster). */
function unmatchedTraffic(scope: OutboundScope): UnmatchedTraffic {
  return scope.egressProxyCluster ? { egressProxy: scope.egressProxyCluster } : scope.outboundTrafficPolicy;
}

/** Hosts outside the registry: passed through (ALLOW_ANY) or to the egress proxy, or answered 502 (REGISTRY_ONLY), as Istio's catch-all. */
function catchAllVirtualHost(policy: UnmatchedTraffic): VirtualHostJson {
  if (policy === "REGISTRY_ONLY") {
    return { name: BLOCK_ALL_VHOST, domains: ["*"], routes: [{ name: BLOCK_ALL_VHOST, match: { prefix: "/" }, directResponse: { status: 502 } }] };
  }
  return {
    name: ALLOW_ANY_VHOST,
    domains: ["*"],
    routes: [{ name: ALLOW_ANY_VHOST, match: { prefix: "/" }, route: { cluster: unmatchedCluster(policy), timeout: "0s", maxGrpcTimeout: "0s" } }],
  };
}

/** What a sidecar's outbound side adds: a cluster per service port and subset, a listener per port, a route configuration per HTTP port. */
export interface OutboundResources {
  readonly clusters: readonly ClusterJson[];
  /** Sorted by cluster name. */
  readonly edsTargets: readonly EdsTarget[];
  readonly listeners: readonly ListenerJson[];
  readonly routes: readonly RouteConfigurationJson[];
  readonly secrets: ReadonlyMap<string, SecretJson>;
  readonly diagnostics: readonly Diagnostic[];
}

export function outbound(scope: OutboundScope): OutboundResources {
  const { listeners, diagnostics: listenerFindings } = keptListeners(scope);
  const built = keptServices(scope);
  const diagnostics = [...listenerFindings, ...built.diagnostics];
  const egress = scope.egressProxyCluster;
  if (egress && scope.sidecar && !built.clusters.some((c) => c.name === egress))
    diagnostics.push({
      severity: "warning",
      code: SidecarCodes.EgressProxyUnknown,
      message: `egressProxy cluster ${egress} is not one this proxy has (its host, port or subset is not in the proxy's scope): traffic to hosts outside the registry fails`,
      object: scope.sidecar,
      path: "spec.outboundTrafficPolicy.egressProxy",
    });
  const policy = unmatchedTraffic(scope);
  const routes = [
    ...scope.ports.filter((p) => p.http.length > 0).map((p) => keptRouteConfiguration(scope.proxy, p, policy)),
    ...scope.ports.flatMap((p) => p.auto.map((a) => autoRouteConfiguration(a, p.port))),
  ];
  return { clusters: built.clusters, edsTargets: built.targets, listeners, routes: routes.sort(byResourceName), secrets: built.secrets, diagnostics };
}

interface BuiltServices {
  readonly clusters: readonly ClusterJson[];
  readonly targets: readonly EdsTarget[];
  readonly secrets: ReadonlyMap<string, SecretJson>;
  readonly diagnostics: readonly Diagnostic[];
}

/** Per service list (kept by the scope while its inputs are: model/scope.ts) and proxy view, its clusters. */
const servicesBuilt = new WeakMap<
  readonly ServiceScope[],
  WeakMap<ProxyView, { readonly pa: PeerAuthentications | undefined; readonly value: BuiltServices }>
>();

/** The services' clusters, EDS recipes and Secrets: the same lists while the services are (a route edit touches none). */
function keptServices(scope: OutboundScope): BuiltServices {
  let byProxy = servicesBuilt.get(scope.services);
  if (!byProxy) servicesBuilt.set(scope.services, (byProxy = new WeakMap()));
  const known = byProxy.get(scope.proxy);
  if (known && known.pa === scope.peerAuthentications) return known.value;
  const clusters: ClusterJson[] = [];
  const targets: EdsTarget[] = [];
  const secrets = new Map<string, SecretJson>();
  const diagnostics: Diagnostic[] = [];
  for (const svc of scope.services) {
    const built = serviceClusters(svc);
    clusters.push(...built.clusters);
    targets.push(...edsTargets(svc, built.clusters, scope.proxy, scope.peerAuthentications));
    for (const s of built.secrets) secrets.set(s.name!, s);
    diagnostics.push(...built.diagnostics);
  }
  targets.sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  const value = { clusters, targets, secrets, diagnostics };
  byProxy.set(scope.proxy, { pa: scope.peerAuthentications, value });
  return value;
}

/** Per proxy view: the listeners last made, and what they were made from. */
const listenersBuilt = new WeakMap<ProxyView, { readonly inputs: readonly unknown[]; readonly value: ReturnType<typeof sidecarListeners> }>();

/** The listeners, the same list while what they are made of is: ports' services and L4 routes (not their virtual hosts). */
function keptListeners(scope: OutboundScope): ReturnType<typeof sidecarListeners> {
  const inputs = [scope.outboundTrafficPolicy, scope.egressProxyCluster, ...scope.ports.flatMap((p) => [p.port, p.http.length, p.tcp, p.auto, p.bound])];
  const known = listenersBuilt.get(scope.proxy);
  if (known && known.inputs.length === inputs.length && known.inputs.every((x, i) => x === inputs[i])) return known.value;
  const value = sidecarListeners(scope);
  listenersBuilt.set(scope.proxy, { inputs, value });
  return value;
}

/** Per proxy view and port: the route configuration last made, its virtual hosts' scopes, and where each went by name. */
const routesBuilt = new WeakMap<
  ProxyView,
  Map<
    number,
    {
      readonly virtualHosts: readonly VirtualHostScope[];
      readonly policy: UnmatchedTraffic;
      readonly json: RouteConfigurationJson;
      /** Per virtual host scope, its place in `json.virtualHosts` (sorted by name). */
      readonly places: readonly number[];
    }
  >
>();

/**
 * A port's route configuration: the same object while its virtual hosts are, and otherwise last
 * time's with only the virtual hosts that changed put in (the hosts, so the order by name, being
 * the same), so that encoding finds every other one by identity.
 */
function keptRouteConfiguration(proxy: ProxyView, port: PortScope, policy: UnmatchedTraffic): RouteConfigurationJson {
  let byPort = routesBuilt.get(proxy);
  if (!byPort) routesBuilt.set(proxy, (byPort = new Map()));
  const known = byPort.get(port.port);
  if (known && known.policy === policy && known.virtualHosts === port.virtualHosts) return known.json;
  if (known && known.policy === policy && sameHosts(known.virtualHosts, port.virtualHosts)) {
    const vhosts = [...known.json.virtualHosts!];
    port.virtualHosts.forEach((vh, i) => {
      if (vh !== known.virtualHosts[i]) vhosts[known.places[i]!] = virtualHost(vh, port.port);
    });
    const json = routeConfigurationOf(sidecarRouteConfigName(port.port), vhosts);
    byPort.set(port.port, { ...known, virtualHosts: port.virtualHosts, json });
    return json;
  }
  const json = routeConfiguration(port, policy);
  const place = new Map(json.virtualHosts!.map((vh, i) => [vh, i]));
  const places = port.virtualHosts.map((vh) => place.get(virtualHost(vh, port.port))!);
  byPort.set(port.port, { virtualHosts: port.virtualHosts, policy, json, places });
  return json;
}

function sameHosts(a: readonly VirtualHostScope[], b: readonly VirtualHostScope[]): boolean {
  return a.length === b.length && a.every((vh, i) => vh.host === b[i]!.host);
}
