/**
 * Resolved VirtualService `tcp` and `tls` routes (model/routes.ts) → the filter chains of a
 * non-HTTP outbound listener (Istio's sidecar TCP/TLS filter chain options):
 * `destinationSubnets` → `filter_chain_match.prefix_ranges`; `sniHosts` → `server_names`; one
 * destination → `tcp_proxy.cluster`; several → `tcp_proxy.weighted_clusters`.
 */
import type { L4RouteModel, TcpProxyModel } from "../model/routes.js";
import type { FilterChainJson, FilterJson } from "./envoy.js";
import { protoDuration } from "./duration.js";
import { tcpProxy, weightedTcpProxy } from "./listener.js";

function cidr(s: string): { addressPrefix: string; prefixLen: number } {
  const [addr, len] = s.split("/");
  const ip = addr ?? s;
  return { addressPrefix: ip, prefixLen: len !== undefined ? Number(len) : ip.includes(":") ? 128 : 32 };
}

export function proxyFilter(p: TcpProxyModel): FilterJson {
  const extras = { ...(p.idleTimeout ? { idleTimeout: protoDuration(p.idleTimeout) } : {}), ...(p.hashBySourceIp ? { hashPolicy: [{ sourceIp: {} }] } : {}) };
  const [first, ...rest] = p.destinations;
  if (first && rest.length === 0) return tcpProxy(p.statPrefix, first.cluster, extras);
  return weightedTcpProxy(
    p.statPrefix,
    p.destinations.map((d) => ({ name: d.cluster, weight: d.weight })),
    extras,
  );
}

/** The filter chains for one non-HTTP service port, from its resolved routes. */
export function l4FilterChains(routes: readonly L4RouteModel[]): FilterChainJson[] {
  const chains = routes.map((r): FilterChainJson => {
    const prefixRanges = r.destinationSubnets.map(cidr);
    const serverNames = r.sniHosts;
    const filters = [proxyFilter(r.proxy)];
    if (prefixRanges.length === 0 && serverNames.length === 0) return { filters };
    return {
      filterChainMatch: { ...(prefixRanges.length ? { prefixRanges } : {}), ...(serverNames.length ? { serverNames: [...serverNames] } : {}) },
      filters,
    };
  });
  return dedupeMatches(chains);
}

/** Envoy rejects two chains with the same match; the first one wins, as the first route does. */
export function dedupeMatches(chains: FilterChainJson[]): FilterChainJson[] {
  const seen = new Set<string>();
  return chains.filter((c) => {
    const key = JSON.stringify(c.filterChainMatch ?? {});
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
