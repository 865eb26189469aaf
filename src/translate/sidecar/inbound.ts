/**
 * A sidecar's inbound side (REDIRECT capture): `virtualInbound` on 15006, where iptables sends
 * every connection to the pod. Its `original_dst` listener filter restores the destination the
 * client dialled, and a chain per workload port (from the Services that select the pod, or the
 * Sidecar's ingress listeners) routes it to `inbound|<targetPort>||`; connections to other ports
 * pass through to the application. A Sidecar ingress port that is not captured gets a listener of
 * its own, bound to its address, with the same chains. Each port's chains follow its
 * PeerAuthentication mode (inbound-mtls.ts), the passthrough chains the workload's.
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import type { InboundPortScope, InboundScope } from "../../model/inbound.js";
import type { MtlsMode } from "../../model/peer-authentication.js";
import {
  BLACKHOLE_CLUSTER,
  DEFAULT_ROUTE_NAME,
  INBOUND_PASSTHROUGH_CLUSTER,
  inboundClusterName,
  inboundStatPrefix,
  inboundVirtualHostName,
  istioConfigPath,
  listenerName,
  VIRTUAL_INBOUND_BLACKHOLE_CHAIN,
  VIRTUAL_INBOUND_LISTENER,
  VIRTUAL_INBOUND_PASSTHROUGH_CHAIN,
  VIRTUAL_INBOUND_PASSTHROUGH_HTTP_CHAIN,
  VIRTUAL_INBOUND_PORT,
} from "../../model/names.js";
import type { InboundSecurityScope } from "../../model/authz/scope.js";
import type { InboundSideScope } from "../../model/scope.js";
import { securityFilters } from "../authz/filters.js";
import { inboundCluster, inboundPassthroughCluster } from "../cluster.js";
import { typed, type ClusterJson, type FilterChainJson, type FilterJson, type ListenerJson, type RouteJson } from "../envoy.js";
import { inlineHttpConnectionManager, tcpProxy } from "../listener.js";
import { inboundChains, tlsInspector, type ChainKind } from "./inbound-mtls.js";

const ANY_IPV4 = [{ addressPrefix: "0.0.0.0", prefixLen: 0 }];

export interface InboundResources {
  readonly clusters: readonly ClusterJson[];
  readonly listeners: readonly ListenerJson[];
  readonly diagnostics: readonly Diagnostic[];
}

const NONE: InboundResources = { clusters: [], listeners: [], diagnostics: [] };

export function inbound(scope: InboundSideScope): InboundResources {
  const ports = scope.inbound.ports;
  const captured = scope.proxy.interceptionMode !== "NONE";
  if (!captured && ports.length === 0) return { ...NONE, diagnostics: scope.inbound.diagnostics };
  return {
    clusters: [...ports.map(inboundCluster), ...(captured ? [inboundPassthroughCluster()] : [])],
    listeners: [
      ...(captured ? [virtualInboundListener(scope.inbound, scope.security)] : []),
      ...ports.filter((p) => p.bound).map((p) => boundListener(p, scope.security)),
    ],
    diagnostics: [...scope.inbound.diagnostics, ...securityDiagnostics(ports, scope.security)],
  };
}

/** What the workload's security scope reports: HTTP problems always, TCP ones where a port can carry plain TCP. */
function securityDiagnostics(ports: readonly InboundPortScope[], security: InboundSecurityScope | undefined): Diagnostic[] {
  if (!security) return [];
  const f = securityFilters(security);
  const tcpPorts = ports.some((p) => p.detected || !isHttpPort(p));
  return [...security.diagnostics, ...f.httpProblems, ...(tcpPorts ? f.tcpProblems : [])];
}

/** A TCP chain's filters: the network RBAC filters of the workload, then tcp_proxy. */
function tcpFilters(cluster: string, security: InboundSecurityScope | undefined): FilterJson[] {
  return [...(security ? securityFilters(security).networkRbac : []), tcpProxy(cluster, cluster)];
}

const isHttpPort = (port: InboundPortScope): boolean =>
  port.protocol === "HTTP" || port.protocol === "HTTP2" || port.protocol === "GRPC" || port.protocol === "GRPC-Web";

const WILDCARD = "0.0.0.0";

/** A Sidecar ingress port that is not captured: a real socket on its bind address (Istio's `<bind>_<port>`). */
function boundListener(port: InboundPortScope, security: InboundSecurityScope | undefined): ListenerJson {
  const address = port.bind ?? WILDCARD;
  const tls = tlsInspector([{ port: port.targetPort, mode: port.mtls }], "DISABLE");
  const filters = [...(tls ? [tls] : []), ...(port.detected ? [httpInspector([])] : [])];
  return {
    name: listenerName(address, port.targetPort),
    address: { socketAddress: { address, portValue: port.targetPort } },
    trafficDirection: "INBOUND",
    ...(filters.length ? { listenerFilters: filters } : {}),
    listenerFiltersTimeout: "0s",
    continueOnListenerFiltersTimeout: true,
    filterChains: portChains(port, security),
  };
}

/** The host Istio names in trace operations: the Service's, or for a Sidecar ingress port `<sidecar>.<namespace>`. */
function traceHost(port: InboundPortScope): string {
  return port.sidecar ? `${port.sidecar.name}.${port.sidecar.namespace}` : port.service.hostname;
}

/** Istio's default inbound route: everything to the workload port, no timeout, a retry only before the request reached it. */
function inboundRoute(cluster: string, port: InboundPortScope | undefined): RouteJson {
  const grpc = port?.protocol === "GRPC";
  return {
    name: DEFAULT_ROUTE_NAME,
    match: { prefix: "/" },
    route: {
      cluster,
      timeout: "0s",
      ...(grpc ? {} : { retryPolicy: { retryOn: "reset-before-request", numRetries: 2 } }),
      maxStreamDuration: { maxStreamDuration: "0s", grpcTimeoutHeaderMax: "0s" },
    },
    ...(port ? { decorator: { operation: `${traceHost(port)}:${port.servicePort.port}/*` } } : {}),
  };
}

function httpFilter(
  statPrefix: string,
  routeName: string,
  vhostName: string,
  cluster: string,
  port: InboundPortScope | undefined,
  security: InboundSecurityScope | undefined,
): FilterJson {
  return inlineHttpConnectionManager(
    statPrefix,
    { name: routeName, virtualHosts: [{ name: vhostName, domains: ["*"], routes: [inboundRoute(cluster, port)] }], validateClusters: false },
    { direction: "inbound", ...(security ? { security } : {}) },
  );
}

function portChains(port: InboundPortScope, security: InboundSecurityScope | undefined): FilterChainJson[] {
  const chains = protocolChains(port, security);
  if (!port.sidecar) return chains;
  // As Istio, chains from a Sidecar name it in their metadata.
  const metadata = { filterMetadata: { istio: { config: istioConfigPath("sidecar", port.sidecar.namespace, port.sidecar.name) } } };
  return chains.map((c) => ({ ...c, metadata }));
}

function protocolChains(port: InboundPortScope, security: InboundSecurityScope | undefined): FilterChainJson[] {
  const cluster = inboundClusterName(port.targetPort);
  const name = listenerName(port.bind ?? WILDCARD, port.targetPort);
  const kind: ChainKind = port.detected ? "auto" : isHttpPort(port) ? "http" : "tcp";
  return inboundChains({
    names: { http: name, tcp: kind === "auto" ? `${name}-tcp` : name },
    match: { destinationPort: port.targetPort },
    kind,
    mode: port.mtls,
    filters: {
      ...(kind !== "tcp"
        ? { http: [httpFilter(inboundStatPrefix(port.targetPort), cluster, inboundVirtualHostName(port.targetPort), cluster, port, security)] }
        : {}),
      ...(kind !== "http" ? { tcp: tcpFilters(cluster, security) } : {}),
    },
  });
}

/** Connections to ports no Service names reach the application as they came, under the workload's mode (or a port's own). */
function passthroughChains(
  mode: MtlsMode,
  match: NonNullable<FilterChainJson["filterChainMatch"]>,
  suffix: string,
  security: InboundSecurityScope | undefined,
): FilterChainJson[] {
  const chains = inboundChains({
    names: { http: VIRTUAL_INBOUND_PASSTHROUGH_HTTP_CHAIN + suffix, tcp: VIRTUAL_INBOUND_PASSTHROUGH_CHAIN + suffix },
    match,
    kind: "auto",
    mode,
    filters: {
      http: [httpFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER, inboundVirtualHostName(0), INBOUND_PASSTHROUGH_CLUSTER, undefined, security)],
      tcp: tcpFilters(INBOUND_PASSTHROUGH_CLUSTER, security),
    },
  });
  const http = (c: FilterChainJson) => c.name!.startsWith(VIRTUAL_INBOUND_PASSTHROUGH_HTTP_CHAIN);
  return [...chains.filter((c) => !http(c)), ...chains.filter(http)];
}

/**
 * The HTTP inspector runs only where it decides something: on ports no Service declares (the
 * passthrough chains) and on ports whose protocol is detected. It waits for the client's first
 * bytes, which a server-first protocol never sends, so declared ports skip it.
 */
function httpInspector(ports: readonly InboundPortScope[]): NonNullable<ListenerJson["listenerFilters"]>[number] {
  const declared = ports.filter((p) => !p.detected).map((p) => ({ destinationPortRange: { start: p.targetPort, end: p.targetPort + 1 } }));
  const filterDisabled = declared.length === 0 ? undefined : declared.length === 1 ? declared[0]! : { orMatch: { rules: declared } };
  return {
    name: "envoy.filters.listener.http_inspector",
    typedConfig: typed("envoy.extensions.filters.listener.http_inspector.v3.HttpInspector", {}),
    ...(filterDisabled ? { filterDisabled } : {}),
  };
}

export function virtualInboundListener(inbound: InboundScope, security?: InboundSecurityScope): ListenerJson {
  const ports = inbound.ports.filter((p) => !p.bound);
  const tls = tlsInspector(
    [...ports.map((p) => ({ port: p.targetPort, mode: p.mtls })), ...inbound.passthroughPorts.map((p) => ({ port: p.port, mode: p.mtls }))],
    inbound.passthrough,
  );
  return {
    name: VIRTUAL_INBOUND_LISTENER,
    address: { socketAddress: { address: "0.0.0.0", portValue: VIRTUAL_INBOUND_PORT } },
    trafficDirection: "INBOUND",
    listenerFilters: [
      { name: "envoy.filters.listener.original_dst", typedConfig: typed("envoy.extensions.filters.listener.original_dst.v3.OriginalDst", {}) },
      ...(tls ? [tls] : []),
      httpInspector(ports),
    ],
    listenerFiltersTimeout: "0s",
    continueOnListenerFiltersTimeout: true,
    filterChains: [
      {
        name: VIRTUAL_INBOUND_BLACKHOLE_CHAIN,
        filterChainMatch: { destinationPort: VIRTUAL_INBOUND_PORT },
        filters: [tcpProxy(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
      ...passthroughChains(inbound.passthrough, { prefixRanges: ANY_IPV4 }, "", security),
      ...inbound.passthroughPorts.flatMap((p) => passthroughChains(p.mtls, { destinationPort: p.port }, `_${p.port}`, security)),
      ...ports.flatMap((p) => portChains(p, security)),
    ],
  };
}
