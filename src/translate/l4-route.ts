/**
 * VirtualService `tcp` and `tls` routes → the filter chains of a non-HTTP outbound listener
 * (Istio's sidecar TCP/TLS filter chain options).
 *
 * - Parts of a match Envoy never sees (port, sourceLabels, sourceNamespace, gateways) decide at
 *   build time whether the match applies to this proxy and listener.
 * - `destinationSubnets` → `filter_chain_match.prefix_ranges`; `sniHosts` → `server_names` (TLS and
 *   HTTPS ports only, where the TLS inspector can read the SNI).
 * - The first applicable match without subnets or SNI takes every remaining connection, so chains
 *   stop there. When no route takes every connection, the service's own cluster does.
 * - One destination → `tcp_proxy.cluster`; several → `tcp_proxy.weighted_clusters` (weight-0 dropped).
 */
import type { L4MatchAttributes, RouteDestination } from "../api/istio-types.js";
import type { ServiceModel, ServicePortModel, VirtualServiceModel } from "../model/ir.js";
import { outboundClusterName } from "../model/names.js";
import { destinationRuleFor, subsetPolicy } from "../model/policies.js";
import type { FilterChainJson, FilterJson } from "./envoy.js";
import { protoDuration } from "./duration.js";
import { tcpProxy, weightedTcpProxy } from "./listener.js";
import type { RouteContext } from "./route.js";
import { resolveDestination } from "./route.js";

function applies(m: L4MatchAttributes, ctx: RouteContext): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (m.gateways?.length && !m.gateways.includes(ctx.gateway)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== ctx.proxy.namespace) return false;
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => ctx.proxy.labels[k] === v)) return false;
  return true;
}

function cidr(s: string): { addressPrefix: string; prefixLen: number } {
  const [addr, len] = s.split("/");
  const ip = addr ?? s;
  return { addressPrefix: ip, prefixLen: len !== undefined ? Number(len) : ip.includes(":") ? 128 : 32 };
}

/** DR settings that live on tcp_proxy: idle timeout, and source-IP hashing. */
function tcpProxyExtras(cluster: { host: string; subset?: string; port: number }, ctx: RouteContext): Parameters<typeof tcpProxy>[2] {
  const svc = ctx.services.get(cluster.host);
  if (!svc) return {};
  const rule = destinationRuleFor(ctx.destinationRules, cluster.host, svc.namespace, ctx.proxy.namespace, ctx.proxy.labels);
  if (!rule) return {};
  const policy = subsetPolicy(rule, rule.subsets.find((s) => s.name === cluster.subset), cluster.port);
  const idle = policy?.connectionPool?.tcp?.idleTimeout;
  const sourceIp = policy?.loadBalancer?.consistentHash?.useSourceIp;
  return { ...(idle ? { idleTimeout: protoDuration(idle) } : {}), ...(sourceIp ? { hashPolicy: [{ sourceIp: {} }] } : {}) };
}

function proxyFilter(route: readonly RouteDestination[], vs: VirtualServiceModel, ctx: RouteContext): FilterJson | undefined {
  const dests = route.map((rd) => ({ rd, res: resolveDestination(rd.destination, vs.namespace, ctx) }));
  const weighted = dests.filter(({ rd }) => dests.length === 1 || (rd.weight ?? 0) > 0);
  const first = weighted[0];
  if (!first) return undefined;
  if (weighted.length === 1) return tcpProxy(first.res.cluster, first.res.cluster, tcpProxyExtras(first.res, ctx));
  return weightedTcpProxy(
    `${vs.name}.${vs.namespace}`,
    weighted.map(({ rd, res }) => ({ name: res.cluster, weight: rd.weight ?? 0 })),
    tcpProxyExtras(first.res, ctx),
  );
}

/** The filter chains for one non-HTTP service port routed by `vs` (undefined: no VirtualService routes it). */
export function l4FilterChains(vs: VirtualServiceModel | undefined, svc: ServiceModel, port: ServicePortModel, ctx: RouteContext): FilterChainJson[] {
  const out: FilterChainJson[] = [];
  let catchAll = false;
  const sniPort = port.protocol === "TLS" || port.protocol === "HTTPS";
  if (vs && sniPort) {
    for (const rule of vs.tls) {
      if (catchAll) break;
      const filter = proxyFilter(rule.route ?? [], vs, ctx);
      if (!filter) continue;
      for (const m of rule.match.filter((x) => applies(x, ctx))) {
        const serverNames = m.sniHosts.filter((h) => h !== "*");
        const prefixRanges = (m.destinationSubnets ?? []).map(cidr);
        if (serverNames.length === 0 && prefixRanges.length === 0) {
          out.push({ filters: [filter] });
          catchAll = true;
          break;
        }
        out.push({ filterChainMatch: { ...(prefixRanges.length ? { prefixRanges } : {}), ...(serverNames.length ? { serverNames } : {}) }, filters: [filter] });
      }
    }
  }
  if (vs) {
    for (const rule of vs.tcp) {
      if (catchAll) break;
      const filter = proxyFilter(rule.route ?? [], vs, ctx);
      if (!filter) continue;
      const matches = rule.match?.length ? rule.match.filter((x) => applies(x, ctx)) : [undefined];
      for (const m of matches) {
        const prefixRanges = (m?.destinationSubnets ?? []).map(cidr);
        if (prefixRanges.length === 0) {
          out.push({ filters: [filter] });
          catchAll = true;
          break;
        }
        out.push({ filterChainMatch: { prefixRanges }, filters: [filter] });
      }
    }
  }
  if (!catchAll) {
    const cluster = outboundClusterName(port.port, undefined, svc.hostname);
    out.push({ filters: [tcpProxy(cluster, cluster, tcpProxyExtras({ host: svc.hostname, port: port.port }, ctx))] });
  }
  return dedupeMatches(out);
}

/** Envoy rejects two chains with the same match; the first one wins, as the first route does. */
function dedupeMatches(chains: FilterChainJson[]): FilterChainJson[] {
  const seen = new Set<string>();
  return chains.filter((c) => {
    const key = JSON.stringify(c.filterChainMatch ?? {});
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
