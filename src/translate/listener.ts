import {
  listenerName,
  outboundStatPrefix,
  sidecarRouteConfigName,
  PASSTHROUGH_CLUSTER,
  PASSTHROUGH_FILTER_CHAIN,
  BLACKHOLE_CLUSTER,
  VIRTUAL_OUTBOUND_LISTENER,
  VIRTUAL_OUTBOUND_PORT,
} from "../model/names.js";
import type { OutboundTrafficPolicyMode } from "../model/mesh-config.js";
import type { FilterChainJson, FilterJson, HttpConnectionManagerJson, ListenerJson, RouteConfigurationJson, TcpProxyJson } from "./envoy.js";
import { ADS_CONFIG_SOURCE, typed } from "./envoy.js";
import { httpFilters, type HttpFilterContext } from "./filters.js";

/** HTTP connection manager: routes come over ADS by name; the HTTP filters from the hook list. */
export function httpConnectionManager(
  statPrefix: string,
  routeConfigName: string,
  filterCtx: HttpFilterContext,
  overrides: Pick<HttpConnectionManagerJson, "useRemoteAddress"> = {},
): FilterJson {
  return connectionManager(statPrefix, { rds: { routeConfigName, configSource: ADS_CONFIG_SOURCE } }, filterCtx, overrides);
}

/** HTTP connection manager with its routes inline (Istio's inbound chains: one route to the workload). */
export function inlineHttpConnectionManager(statPrefix: string, routeConfig: RouteConfigurationJson, filterCtx: HttpFilterContext): FilterJson {
  return connectionManager(statPrefix, { routeConfig }, filterCtx);
}

function connectionManager(
  statPrefix: string,
  routes: Pick<HttpConnectionManagerJson, "rds"> | Pick<HttpConnectionManagerJson, "routeConfig">,
  filterCtx: HttpFilterContext,
  overrides: Pick<HttpConnectionManagerJson, "useRemoteAddress"> = {},
): FilterJson {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typedConfig: typed("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", {
      statPrefix,
      ...routes,
      httpFilters: httpFilters(filterCtx),
      useRemoteAddress: false,
      normalizePath: true,
      pathWithEscapedSlashesAction: "KEEP_UNCHANGED",
      upgradeConfigs: [{ upgradeType: "websocket" }],
      streamIdleTimeout: "0s",
      requestIdExtension: { typedConfig: typed("envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig", {}) },
      ...overrides,
    }),
  };
}

export function tcpProxy(statPrefix: string, cluster: string, extra: Omit<TcpProxyJson, "statPrefix" | "cluster" | "weightedClusters"> = {}): FilterJson {
  return {
    name: "envoy.filters.network.tcp_proxy",
    typedConfig: typed("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", { statPrefix, cluster, ...extra }),
  };
}

/** tcp_proxy splitting connections by weight (a VirtualService `tcp` route with several destinations). */
export function weightedTcpProxy(
  statPrefix: string,
  clusters: readonly { name: string; weight: number }[],
  extra: Omit<TcpProxyJson, "statPrefix" | "cluster" | "weightedClusters"> = {},
): FilterJson {
  return {
    name: "envoy.filters.network.tcp_proxy",
    typedConfig: typed("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", {
      statPrefix,
      weightedClusters: { clusters: clusters.map((c) => ({ ...c })) },
      ...extra,
    }),
  };
}

/** Traffic to destinations outside the registry: the mode, or (ALLOW_ANY with a Sidecar egressProxy) the egress proxy's cluster. */
export type UnmatchedTraffic = OutboundTrafficPolicyMode | { readonly egressProxy: string };

/** Where a sidecar sends connections to destinations outside the registry: through (ALLOW_ANY), to the egress proxy, or nowhere (REGISTRY_ONLY). */
export function unmatchedCluster(policy: UnmatchedTraffic): string {
  if (typeof policy === "object") return policy.egressProxy;
  return policy === "REGISTRY_ONLY" ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
}

export function passthroughChain(policy: UnmatchedTraffic): FilterChainJson {
  const cluster = unmatchedCluster(policy);
  return { name: PASSTHROUGH_FILTER_CHAIN, filters: [tcpProxy(cluster, cluster)] };
}

export type Bind = { readonly mode: "captured" } | { readonly mode: "bound"; readonly address: string };

/**
 * The outbound listener for an HTTP port. Captured (iptables REDIRECT): a `0.0.0.0_<port>` listener
 * that is not bound and receives connections handed over by `virtualOutbound`, sniffing HTTP and
 * passing anything else through. Bound (INTERCEPTION_MODE NONE): a real socket on the bind address.
 */
export function httpListener(port: number, bind: Bind, policy: UnmatchedTraffic = "ALLOW_ANY", tcpChains: readonly FilterChainJson[] = []): ListenerJson {
  const address = bind.mode === "bound" ? bind.address : "0.0.0.0";
  const hcm = httpConnectionManager(outboundStatPrefix(address, port), sidecarRouteConfigName(port), { direction: "outbound" });
  const base: ListenerJson = {
    name: listenerName(address, port),
    address: { socketAddress: { address, portValue: port } },
    trafficDirection: "OUTBOUND",
  };
  if (bind.mode === "bound") return { ...base, filterChains: [{ filters: [hcm] }] };
  return {
    ...base,
    bindToPort: false,
    listenerFilters: [
      // TLS first: once it marks a connection TLS, the HTTP inspector leaves it alone.
      ...(tcpChains.some((c) => c.filterChainMatch?.serverNames?.length) ? [TLS_INSPECTOR] : []),
      { name: "envoy.filters.listener.http_inspector", typedConfig: typed("envoy.extensions.filters.listener.http_inspector.v3.HttpInspector", {}) },
    ],
    listenerFiltersTimeout: "0s",
    continueOnListenerFiltersTimeout: true,
    filterChains: [
      { filterChainMatch: { applicationProtocols: ["http/1.1", "h2c"], transportProtocol: "raw_buffer" }, filters: [hcm] },
      ...tcpChains.filter((c) => c.filterChainMatch),
    ],
    // Hosts without an address (TCP) take what is not HTTP, as Istio merges them into the port's listener.
    defaultFilterChain: tcpChains.find((c) => !c.filterChainMatch) ?? passthroughChain(policy),
  };
}

const TLS_INSPECTOR = {
  name: "envoy.filters.listener.tls_inspector",
  typedConfig: typed("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector", {}),
};

/**
 * A service port that names no protocol (Istio's per-VIP auto-detection listener): the HTTP
 * inspector sends HTTP/1.1 and h2c to the HTTP connection manager with the service's own route
 * configuration, and everything else to the port's TCP chains (the match-all one as default).
 */
export function sniffingListener(address: string, port: number, routeConfigName: string, tcpChains: FilterChainJson[]): ListenerJson {
  const hcm = httpConnectionManager(outboundStatPrefix(address, port), routeConfigName, { direction: "outbound" });
  const fallback = tcpChains.find((c) => !c.filterChainMatch);
  return {
    name: listenerName(address, port),
    address: { socketAddress: { address, portValue: port } },
    trafficDirection: "OUTBOUND",
    bindToPort: false,
    listenerFilters: [
      { name: "envoy.filters.listener.http_inspector", typedConfig: typed("envoy.extensions.filters.listener.http_inspector.v3.HttpInspector", {}) },
    ],
    listenerFiltersTimeout: "0s",
    continueOnListenerFiltersTimeout: true,
    filterChains: [
      { filterChainMatch: { applicationProtocols: ["http/1.1", "h2c"], transportProtocol: "raw_buffer" }, filters: [hcm] },
      ...tcpChains.filter((c) => c !== fallback),
    ],
    ...(fallback ? { defaultFilterChain: fallback } : {}),
  };
}

/**
 * A non-HTTP service port with the filter chains its VirtualService `tcp`/`tls` routes give
 * (matched by destination subnet and SNI); SNI matching needs the TLS inspector.
 */
export function l4Listener(address: string, port: number, filterChains: FilterChainJson[], bind: Bind, fallback?: FilterChainJson): ListenerJson {
  const listenAddress = bind.mode === "bound" ? bind.address : address;
  const sni = filterChains.some((c) => c.filterChainMatch?.serverNames?.length);
  return {
    name: listenerName(listenAddress, port),
    address: { socketAddress: { address: listenAddress, portValue: port } },
    trafficDirection: "OUTBOUND",
    ...(bind.mode === "captured" ? { bindToPort: false } : {}),
    ...(sni ? { listenerFilters: [TLS_INSPECTOR] } : {}),
    filterChains,
    // Connections no chain matches (another SNI) take this one, when the chains have no match-all.
    ...(fallback && filterChains.every((c) => c.filterChainMatch) ? { defaultFilterChain: fallback } : {}),
  };
}

/** Port 15001, where iptables sends all outbound traffic; it hands each connection to the listener for its original destination. */
export function virtualOutboundListener(policy: UnmatchedTraffic = "ALLOW_ANY"): ListenerJson {
  const unmatched = unmatchedCluster(policy);
  return {
    name: VIRTUAL_OUTBOUND_LISTENER,
    address: { socketAddress: { address: "0.0.0.0", portValue: VIRTUAL_OUTBOUND_PORT } },
    useOriginalDst: true,
    trafficDirection: "OUTBOUND",
    filterChains: [
      {
        name: "virtualOutbound-blackhole",
        filterChainMatch: { destinationPort: VIRTUAL_OUTBOUND_PORT },
        filters: [tcpProxy(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
      { name: "virtualOutbound-catchall-tcp", filters: [tcpProxy(unmatched, unmatched)] },
    ],
  };
}
