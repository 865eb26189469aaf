/**
 * Router proxies (Istio ingress and egress gateways): the resolved gateway scope
 * (model/gateway-scope.ts) → Envoy resources, named as Istio names them.
 * - One bound listener `<bind>_<port>` per merged port. Plaintext HTTP: one chain, an HTTP
 *   connection manager on RDS `http.<port>`. TLS ports (tls_inspector): per HTTPS server a chain
 *   matching its hosts by SNI (none for `*`), terminating TLS, on RDS
 *   `https.<port>.<portName>.<gateway>.<namespace>`; per PASSTHROUGH route a chain matching its SNI
 *   names with a tcp_proxy; a terminating TLS server's chain with its `tcp` route. TCP ports: the
 *   chains of the server's `tcp` routes.
 * - Route configurations: a virtual host `<host>:<port>` per host, the routes of every bound
 *   VirtualService concatenated in creation order with catch-all routes moved last (Istio's
 *   merge), `require_tls: ALL` under `httpsRedirect`; nothing bound: `blackhole:<port>` with no
 *   routes. A request no route matches gets Envoy's 404.
 * - Clusters: only those the routes use (with EDS), plus BlackHoleCluster; no PassthroughCluster.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import { uniqueDiagnostics } from "../api/diagnostics.js";
import type { GatewayListenerScope, GatewayServerScope, GatewayVirtualHostScope, GatewayScope } from "../model/gateway-scope.js";
import { buildGatewayScope } from "../model/gateway-scope.js";
import type { MeshModel } from "../model/ir.js";
import { gatewayBlackholeVirtualHostName, listenerName, outboundStatPrefix, virtualHostName } from "../model/names.js";
import type { ProxyView } from "../model/proxy.js";
import { blackHoleCluster } from "./cluster.js";
import { downstreamTls } from "./downstream-tls.js";
import { edsTargetEndpoints } from "./endpoints.js";
import {
  byResourceName,
  typed,
  type ClusterJson,
  type FilterChainJson,
  type ListenerJson,
  type RouteConfigurationJson,
  type RouteJson,
  type VirtualHostJson,
} from "./envoy.js";
import { dedupeMatches, l4FilterChains, proxyFilter } from "./l4-route.js";
import { httpConnectionManager } from "./listener.js";
import type { EdsTarget, ProxyTranslation } from "./proxy.js";
import { isCatchAll } from "./route-match.js";
import { httpRoutes } from "./route.js";
import { edsTargets, serviceClusters } from "./sidecar/outbound.js";
import type { SecretJson } from "./tls.js";

export const GatewayCodes = {
  /** No Gateway selects the router: it gets a well-formed, empty configuration. */
  NoGateway: "MP0501",
  /** A server's credential cannot be used (Secret missing, invalid, or without what its mode needs): the server is left out. */
  CredentialUnusable: "MP0504",
  /** A TCP or TLS server whose bound VirtualServices give no route: it accepts no connection. */
  NoRoutes: "MP0505",
} as const;

const TLS_INSPECTOR = {
  name: "envoy.filters.listener.tls_inspector",
  typedConfig: typed("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector", {}),
};

export function translateRouter(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  const scope = buildGatewayScope(mesh, proxy);
  const diagnostics: Diagnostic[] = [...scope.diagnostics];
  if (scope.gateways.length === 0) {
    diagnostics.push({
      severity: "info",
      code: GatewayCodes.NoGateway,
      message: `no Gateway selects the router proxies of namespace "${proxy.namespace}" with labels ${JSON.stringify(proxy.labels)}: they get no listeners and accept no traffic`,
    });
  }
  const secrets = new Map<string, SecretJson>();
  const listeners: ListenerJson[] = [];
  const routes: RouteConfigurationJson[] = [];
  for (const l of scope.listeners) {
    const built = listener(l, secrets, diagnostics);
    if (built) listeners.push(built.listener);
    routes.push(...(built?.routes ?? []));
  }
  const { clusters, targets } = gatewayClusters(scope, secrets, diagnostics);
  return {
    clusters: [...clusters, blackHoleCluster()].sort(byResourceName),
    endpoints: targets.map((t) => edsTargetEndpoints(t, mesh.endpoints)),
    listeners: listeners.sort(byResourceName),
    routes: routes.sort(byResourceName),
    secrets: [...secrets.values()].sort(byResourceName),
    diagnostics: uniqueDiagnostics(diagnostics),
    edsTargets: targets,
  };
}

function gatewayClusters(scope: GatewayScope, secrets: Map<string, SecretJson>, diagnostics: Diagnostic[]): { clusters: ClusterJson[]; targets: EdsTarget[] } {
  const clusters: ClusterJson[] = [];
  const targets: EdsTarget[] = [];
  for (const svc of scope.services) {
    const built = serviceClusters(svc, "router");
    const used = built.clusters.filter((c) => scope.clusters.has(c.name ?? ""));
    clusters.push(...used);
    targets.push(...edsTargets(svc, built.clusters, scope.proxy, scope.peerAuthentications).filter((t) => scope.clusters.has(t.cluster)));
    for (const s of built.secrets) secrets.set(s.name!, s);
    diagnostics.push(...built.diagnostics);
  }
  targets.sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  return { clusters, targets };
}

function listener(
  l: GatewayListenerScope,
  secrets: Map<string, SecretJson>,
  diagnostics: Diagnostic[],
): { listener: ListenerJson; routes: RouteConfigurationJson[] } | undefined {
  const { port, bind, kind } = l.port;
  const statPrefix = outboundStatPrefix(bind, port);
  const routes: RouteConfigurationJson[] = [];
  let chains: FilterChainJson[] = [];
  if (kind === "http") {
    const routeName = l.servers[0]!.bound.routeName!;
    chains = [{ filters: [gatewayHcm(statPrefix, routeName)] }];
    routes.push(routeConfiguration(routeName, l.virtualHosts, port));
  } else {
    for (const s of l.servers) {
      const built = serverChains(s, statPrefix, secrets, diagnostics);
      chains.push(...built.chains);
      if (built.route) routes.push(built.route);
    }
    chains = dedupeMatches(chains);
  }
  if (chains.length === 0) return undefined;
  return {
    listener: {
      name: listenerName(bind, port),
      address: { socketAddress: { address: bind, portValue: port } },
      ...(kind === "tls" ? { listenerFilters: [TLS_INSPECTOR] } : {}),
      filterChains: chains,
    },
    routes,
  };
}

function gatewayHcm(statPrefix: string, routeName: string) {
  // A gateway is the edge: the client's address is the peer's, not a header's.
  return httpConnectionManager(statPrefix, routeName, { direction: "outbound" }, { useRemoteAddress: true });
}

/** A TLS or TCP server's filter chains (and, for HTTPS, its route configuration). */
function serverChains(
  s: GatewayServerScope,
  statPrefix: string,
  secrets: Map<string, SecretJson>,
  diagnostics: Diagnostic[],
): { chains: FilterChainJson[]; route?: RouteConfigurationJson } {
  const b = s.bound;
  const server = b.server;
  const serverNames = b.hosts.filter((h) => h !== "*");
  const match = serverNames.length ? { filterChainMatch: { serverNames } } : {};
  const noRoutes = (): { chains: FilterChainJson[] } => {
    diagnostics.push({
      severity: "warning",
      code: GatewayCodes.NoRoutes,
      message: `${server.port.protocol} server on port ${server.port.number}: no VirtualService bound to ${server.gateway} gives it a ${b.handling === "passthrough" ? "tls" : "tcp"} route for its hosts; it accepts no connection`,
      object: server.ref,
      path: server.path,
    });
    return { chains: [] };
  };
  if (b.handling === "passthrough") {
    if (s.l4Routes.length === 0) return noRoutes();
    return { chains: l4FilterChains(s.l4Routes) };
  }
  if (b.handling === "tcp") {
    if (s.l4Routes.length === 0) return noRoutes();
    return { chains: l4FilterChains(s.l4Routes) };
  }
  const tls = downstreamTls(server.tls!, b.handling === "https", s.credential);
  if (tls.problem) {
    diagnostics.push({
      severity: "error",
      code: GatewayCodes.CredentialUnusable,
      message: `${tls.problem}; the server on port ${server.port.number} is left out`,
      object: server.ref,
      path: `${server.path}.tls`,
    });
    return { chains: [] };
  }
  for (const secret of tls.secrets) secrets.set(secret.name!, secret);
  const socket = tls.transportSocket ? { transportSocket: tls.transportSocket } : {};
  if (b.handling === "tls-terminate") {
    // After termination there is no SNI left to tell routes apart: the first tcp route takes the connection.
    const first = s.l4Routes[0];
    if (!first) return noRoutes();
    return { chains: [{ ...match, ...socket, filters: [proxyFilter(first.proxy)] }] };
  }
  const routeName = b.routeName!;
  return {
    chains: [{ ...match, ...socket, filters: [gatewayHcm(statPrefix, routeName)] }],
    route: routeConfiguration(routeName, s.virtualHosts, server.port.number),
  };
}

function routeConfiguration(name: string, vhosts: readonly GatewayVirtualHostScope[], port: number): RouteConfigurationJson {
  const virtualHosts: VirtualHostJson[] = vhosts.map((vh) => ({
    name: virtualHostName(vh.host, vh.port),
    domains: [...vh.domains],
    routes: mergedRoutes(vh),
    ...(vh.requireTls ? { requireTls: "ALL" as const } : {}),
  }));
  virtualHosts.sort(byResourceName);
  if (virtualHosts.length === 0) virtualHosts.push({ name: gatewayBlackholeVirtualHostName(port), domains: ["*"], routes: [] });
  return { name, virtualHosts, validateClusters: false, ignorePortInHostMatching: true, maxDirectResponseBodySizeBytes: 1048576 };
}

/** Each VirtualService's routes in turn, then the catch-alls moved last, keeping their order (Istio's SortVHostRoutes). */
function mergedRoutes(vh: GatewayVirtualHostScope): RouteJson[] {
  const all = vh.routes.flatMap((group) => httpRoutes(group, vh.port));
  if (vh.routes.length < 2) return all;
  return [...all.filter((r) => !isCatchAll(r.match!)), ...all.filter((r) => isCatchAll(r.match!))];
}
