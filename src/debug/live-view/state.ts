// What the live view shows, as one JSON document: the services with their routes (match, weighted
// destinations, the VirtualService rule behind each), every connected proxy with its sync state,
// the current findings and the recent pushes. Routes are read from the translated configuration
// with explain's readers, so the page shows what Envoy gets, never a second reading of the YAML.
// Nothing here carries key material: routes, sync states, findings and history hold names only.
import type { Diagnostic } from "../../api/diagnostics.js";
import { tcpClustersOf } from "../../explain/explain.js";
import { describeMatch } from "../../explain/format.js";
import { faultOf, forwardTargets, originOf, type RouteOrigin, type WeightedTarget } from "../../explain/http.js";
import { describeChain } from "../../explain/listener.js";
import type { ServiceModel } from "../../model/ir.js";
import { parseOutboundClusterName, sidecarRouteConfigName, virtualHostName } from "../../model/names.js";
import type { ControlPlane } from "../../pipeline/control-plane.js";
import type { ClusterLoadAssignmentJson, ListenerJson, RouteConfigurationJson, RouteJson, TcpProxyJson, VirtualHostJson } from "../../translate/envoy.js";
import type { ProxyResources } from "../../translate/proxy.js";
import type { ProxySyncStatus, ShortType, SyncState } from "../../xds/observer.js";
import type { PushHistory, PushRecord } from "../history.js";

/** Pushes the page lists (the full history stays at /debug/history). */
export const LIVE_HISTORY = 20;

export interface LiveDestination {
  readonly cluster: string;
  readonly subset?: string;
  readonly weight: number;
  readonly percent: number;
  /** Endpoints the cluster's ClusterLoadAssignment holds (absent: not an EDS cluster of this view). */
  readonly endpoints?: number;
}

export interface LiveRoute {
  readonly index: number;
  readonly name?: string;
  readonly match: string;
  readonly action: "forward" | "redirect" | "direct" | "other";
  readonly destinations: readonly LiveDestination[];
  /** `VirtualService default/reviews spec.http[1]`; absent for a default route. */
  readonly origin?: string;
  /** Timeout, retries, fault, mirror, redirect or direct response, one line each. */
  readonly details: readonly string[];
}

export interface LivePort {
  readonly port: number;
  readonly name?: string;
  readonly protocol: string;
  readonly routeConfig?: string;
  readonly virtualHost?: string;
  readonly routes: readonly LiveRoute[];
}

export interface LiveService {
  readonly hostname: string;
  readonly namespace: string;
  readonly kind: string;
  readonly clusterIP?: string;
  readonly ports: readonly LivePort[];
}

export interface LiveTypeState {
  readonly state: SyncState;
  readonly versionSent: string;
  readonly versionAcked: string;
  readonly nacks: number;
  readonly nack?: string;
}

export interface LiveProxy {
  readonly id: string;
  readonly transport: string;
  readonly connectedSince: string;
  readonly proxyVersion?: string;
  readonly types: Partial<Record<ShortType, LiveTypeState>>;
}

export interface LiveState {
  readonly ready: boolean;
  readonly services: readonly LiveService[];
  readonly proxies: readonly LiveProxy[];
  readonly findings: readonly Diagnostic[];
  readonly history: readonly PushRecord[];
}

export interface LiveSources {
  readonly controlPlane: ControlPlane;
  readonly syncStatus: () => readonly ProxySyncStatus[];
  readonly history?: PushHistory;
}

function details(route: RouteJson, vh: VirtualHostJson): string[] {
  const out: string[] = [];
  const a = route.route;
  // Istio's default "0s" turns Envoy's route timeout off.
  if (a?.timeout !== undefined) out.push(a.timeout === "0s" ? "no timeout" : `timeout ${a.timeout}`);
  if (a?.retryPolicy) out.push(`retries ${a.retryPolicy.numRetries ?? 1} on ${a.retryPolicy.retryOn ?? ""}`.trim());
  for (const m of a?.requestMirrorPolicies ?? []) out.push(`mirror to ${m.cluster ?? ""}`);
  if (a?.prefixRewrite !== undefined) out.push(`rewrite prefix to ${a.prefixRewrite}`);
  if (a?.hostRewriteLiteral) out.push(`rewrite host to ${a.hostRewriteLiteral}`);
  const fault = faultOf(route, vh);
  if (fault?.delay) out.push(`fault: delay ${fault.delay.fixedDelay} for ${fault.delay.percent}%`);
  if (fault?.abort) out.push(`fault: abort ${fault.abort.httpStatus ?? `grpc ${fault.abort.grpcStatus}`} for ${fault.abort.percent}%`);
  if (route.redirect) out.push(`redirect ${JSON.stringify(route.redirect)}`);
  if (route.directResponse) out.push(`direct response ${route.directResponse.status ?? ""}`);
  return out;
}

const originText = (o: RouteOrigin): string => `${o.kind} ${o.namespace}/${o.name}${o.rule ? ` ${o.rule}` : ""}`;

function destinations(targets: readonly WeightedTarget[], endpoints: ReadonlyMap<string, number>): LiveDestination[] {
  return targets.map((t) => {
    const subset = parseOutboundClusterName(t.cluster)?.subset;
    const count = endpoints.get(t.cluster);
    return { cluster: t.cluster, ...(subset ? { subset } : {}), weight: t.weight, percent: t.percent, ...(count !== undefined ? { endpoints: count } : {}) };
  });
}

function liveRoute(route: RouteJson, index: number, vh: VirtualHostJson, endpoints: ReadonlyMap<string, number>): LiveRoute {
  const origin = originOf(route);
  const targets = route.route ? (forwardTargets(route.route) ?? []) : [];
  return {
    index,
    ...(route.name ? { name: route.name } : {}),
    match: describeMatch(route.match ?? {}),
    action: route.route ? "forward" : route.redirect ? "redirect" : route.directResponse ? "direct" : "other",
    destinations: destinations(targets, endpoints),
    ...(origin ? { origin: originText(origin) } : {}),
    details: details(route, vh),
  };
}

function endpointCounts(cla: readonly ClusterLoadAssignmentJson[]): Map<string, number> {
  return new Map(cla.map((c) => [c.clusterName ?? "", (c.endpoints ?? []).reduce((n, g) => n + (g.lbEndpoints?.length ?? 0), 0)]));
}

/** The virtual host of `host:port`, preferring the port's own route configuration (sniffed listeners have one per service). */
function findVirtualHost(routes: readonly RouteConfigurationJson[], host: string, port: number): { rc: string; vh: VirtualHostJson } | undefined {
  const name = virtualHostName(host, port);
  const own = sidecarRouteConfigName(port);
  const ordered = [...routes].sort((a, b) => Number(b.name === own) - Number(a.name === own));
  for (const rc of ordered) {
    const vh = rc.virtualHosts?.find((v) => v.name === name);
    if (vh) return { rc: rc.name ?? "", vh };
  }
  return undefined;
}

/**
 * A TCP port's routes: the filter chains of outbound listeners whose tcp_proxy sends to this
 * service's port (one per TCP rule of a VirtualService, or the default).
 */
function tcpRoutes(listeners: readonly ListenerJson[], host: string, port: number, endpoints: ReadonlyMap<string, number>): LiveRoute[] {
  const ours = (cluster: string): boolean => {
    const c = parseOutboundClusterName(cluster);
    return c?.host === host && c.port === port;
  };
  const out: LiveRoute[] = [];
  for (const l of listeners)
    for (const chain of l.filterChains ?? [])
      for (const f of chain.filters ?? []) {
        const targets = tcpClustersOf(f.typedConfig as TcpProxyJson | undefined);
        if (targets.length === 0 || !targets.every((t) => ours(t.cluster))) continue;
        const origin = originOf(chain);
        out.push({
          index: out.length,
          match: `TCP: listener ${l.name ?? ""} ${describeChain(chain)}`,
          action: "forward",
          destinations: destinations(targets, endpoints),
          ...(origin ? { origin: originText(origin) } : {}),
          details: [],
        });
      }
  return out;
}

function liveService(svc: ServiceModel, resources: ProxyResources | undefined, endpoints: ReadonlyMap<string, number>): LiveService {
  return {
    hostname: svc.hostname,
    namespace: svc.namespace,
    kind: svc.entry ? "ServiceEntry" : "Service",
    ...(svc.clusterIP ? { clusterIP: svc.clusterIP } : {}),
    ports: svc.ports.map((p) => {
      const found = resources ? findVirtualHost(resources.routes, svc.hostname, p.port) : undefined;
      return {
        port: p.port,
        ...(p.name ? { name: p.name } : {}),
        protocol: p.protocol,
        ...(found ? { routeConfig: found.rc, virtualHost: found.vh.name ?? "" } : {}),
        routes: found
          ? (found.vh.routes ?? []).map((r, i) => liveRoute(r, i, found.vh, endpoints))
          : resources
            ? tcpRoutes(resources.listeners, svc.hostname, p.port, endpoints)
            : [],
      };
    }),
  };
}

/** The services as a sidecar of each service's own namespace sees them: one translation per namespace. */
export function liveServices(controlPlane: ControlPlane): LiveService[] {
  const byNamespace = new Map<string, ServiceModel[]>();
  for (const svc of controlPlane.services().values()) byNamespace.set(svc.namespace, [...(byNamespace.get(svc.namespace) ?? []), svc]);
  const out: LiveService[] = [];
  for (const [namespace, services] of byNamespace) {
    const resources = controlPlane.namespaceResources(namespace);
    const endpoints = endpointCounts(resources?.endpoints ?? []);
    for (const svc of services) out.push(liveService(svc, resources, endpoints));
  }
  return out.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
}

export function liveProxies(statuses: readonly ProxySyncStatus[]): LiveProxy[] {
  return statuses
    .map((s) => ({
      id: s.id,
      transport: s.transport,
      connectedSince: s.connectedSince.toISOString(),
      ...(s.proxyVersion ? { proxyVersion: s.proxyVersion } : {}),
      types: Object.fromEntries(
        Object.entries(s.types).map(([t, ts]) => [
          t,
          {
            state: ts.state,
            versionSent: ts.versionSent,
            versionAcked: ts.versionAcked,
            nacks: ts.nacks,
            ...(ts.state === "NACKED" && ts.lastNack ? { nack: ts.lastNack.message } : {}),
          },
        ]),
      ),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function liveState(src: LiveSources): LiveState {
  return {
    ready: src.controlPlane.ready,
    services: liveServices(src.controlPlane),
    proxies: liveProxies(src.syncStatus()),
    findings: src.controlPlane.diagnostics(),
    history: src.history?.list().slice(0, LIVE_HISTORY) ?? [],
  };
}
