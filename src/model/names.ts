/**
 * Every Istio-compatible name meshpilot emits. Users debug with Istio's vocabulary (istioctl,
 * Envoy's admin API), so these strings are part of the product; nothing else builds them.
 * Names come from content, never from list positions.
 */

export const DEFAULT_DOMAIN = "cluster.local";
export const ROOT_NAMESPACE = "istio-system";

export const BLACKHOLE_CLUSTER = "BlackHoleCluster";
export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
export const VIRTUAL_OUTBOUND_LISTENER = "virtualOutbound";
export const VIRTUAL_OUTBOUND_PORT = 15001;
export const PASSTHROUGH_FILTER_CHAIN = "PassthroughFilterChain";
export const INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster";
export const VIRTUAL_INBOUND_LISTENER = "virtualInbound";
export const VIRTUAL_INBOUND_PORT = 15006;
/** virtualInbound's chains for ports no Service names: raw TCP, and HTTP (detected). */
export const VIRTUAL_INBOUND_PASSTHROUGH_CHAIN = "virtualInbound";
export const VIRTUAL_INBOUND_PASSTHROUGH_HTTP_CHAIN = "virtualInbound-catchall-http";
export const VIRTUAL_INBOUND_BLACKHOLE_CHAIN = "virtualInbound-blackhole";
/** The source address of Envoy's connections to the application, which the iptables rules never capture again. */
export const INBOUND_PASSTHROUGH_BIND_IPV4 = "127.0.0.6";
export const ALLOW_ANY_VHOST = "allow_any";
/** REGISTRY_ONLY's catch-all virtual host and route: a 502 for hosts outside the registry. */
export const BLOCK_ALL_VHOST = "block_all";
export const DEFAULT_ROUTE_NAME = "default";
/** The gateway name that stands for every sidecar in VirtualService `gateways`. */
export const MESH_GATEWAY = "mesh";

export function serviceFqdn(name: string, namespace: string, domain = DEFAULT_DOMAIN): string {
  return `${name}.${namespace}.svc.${domain}`;
}

/** Istio's rule: a host without a dot is short for `<host>.<namespace>.svc.<domain>`; anything with a dot is literal. */
export function resolveHost(host: string, namespace: string, domain = DEFAULT_DOMAIN): string {
  if (host.includes(".") || host === "*" || host.startsWith("*")) return host;
  return serviceFqdn(host, namespace, domain);
}

/** `inbound|<targetPort>||`: Istio keys inbound clusters and route configurations by the workload's port. */
export function inboundClusterName(targetPort: number): string {
  return `inbound|${targetPort}||`;
}

/** The virtual host of an inbound HTTP port's inline route configuration. */
export function inboundVirtualHostName(targetPort: number): string {
  return `inbound|http|${targetPort}`;
}

export function inboundStatPrefix(targetPort: number): string {
  return `inbound_0.0.0.0_${targetPort}`;
}

export function outboundClusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ""}|${host}`;
}

/** The parts of an `outbound|<port>|<subset>|<host>` name (Istio's ParseSubsetKey), or undefined. */
export function parseOutboundClusterName(name: string): { port: number; subset: string; host: string } | undefined {
  const parts = name.split("|");
  if (parts.length !== 4 || parts[0] !== "outbound" || !parts[3] || !/^\d+$/.test(parts[1]!)) return undefined;
  return { port: Number(parts[1]), subset: parts[2]!, host: parts[3] };
}

/** `outbound_.9080_.v1_.reviews.default.svc.cluster.local`: the SNI Istio uses for ISTIO_MUTUAL. */
export function outboundSniName(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ""}_.${host}`;
}

/**
 * SDS name of a `credentialName` certificate: Istio's `kubernetes://` secret type over ADS, or the
 * name itself when it is already a Gateway API reference (`kubernetes-gateway://<ns>/<name>`).
 */
export function credentialSdsName(credentialName: string): string {
  return credentialName.startsWith(GATEWAY_CREDENTIAL_PREFIX) ? credentialName : `kubernetes://${credentialName}`;
}

/** SDS name of a `credentialName`'s CA certificate (Istio's `-cacert` suffix). */
export function credentialCaSdsName(credentialName: string): string {
  return `${credentialSdsName(credentialName)}${CREDENTIAL_CA_SUFFIX}`;
}

/** Istio's secret type for a Gateway API certificateRef, read from the Secret's own namespace. */
export const GATEWAY_CREDENTIAL_PREFIX = "kubernetes-gateway://";

/** `kubernetes-gateway://<namespace>/<name>`: how a Gateway API listener names its certificate Secret. */
export function gatewayCredentialName(namespace: string, name: string): string {
  return `${GATEWAY_CREDENTIAL_PREFIX}${namespace}/${name}`;
}

/** The Secret a `kubernetes-gateway://<namespace>/<name>` credentialName names; undefined for any other form. */
export function parseGatewayCredentialName(credentialName: string): { namespace: string; name: string } | undefined {
  if (!credentialName.startsWith(GATEWAY_CREDENTIAL_PREFIX)) return undefined;
  const rest = credentialName.slice(GATEWAY_CREDENTIAL_PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf("/", slash + 1) !== -1) return undefined;
  return { namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

/** Istio's suffix for CA-only secrets: `<name>-cacert` is also looked up as a Secret of its own. */
export const CREDENTIAL_CA_SUFFIX = "-cacert";

export function listenerName(bind: string, port: number): string {
  return `${bind}_${port}`;
}

/** Sidecars name their outbound route configurations by port alone. */
export function sidecarRouteConfigName(port: number): string {
  return String(port);
}

/** The route configuration of a sniffed (`<VIP>_<port>`) listener: `<fqdn>:<port>`, as Istio names it. */
export function autoRouteConfigName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** A Gateway as VirtualService `gateways` entries name it once resolved: `namespace/name`. */
export function gatewayKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * A VirtualService `gateways` entry (also in a match) as the Gateway key it names: `ns/name` as
 * written, a short name in the VirtualService's namespace, the legacy `name.namespace`, or `mesh`.
 */
export function resolveGatewayName(entry: string, vsNamespace: string): string {
  if (entry === MESH_GATEWAY || entry.includes("/")) return entry;
  const dot = entry.indexOf(".");
  if (dot > 0) return gatewayKey(entry.slice(dot + 1).split(".")[0]!, entry.slice(0, dot));
  return gatewayKey(vsNamespace, entry);
}

/** A gateway's plaintext HTTP servers on one port share one route configuration. */
export function gatewayHttpRouteName(port: number): string {
  return `http.${port}`;
}

/** Each HTTPS server of a gateway has its own route configuration, named by Istio with the server port. */
export function gatewayHttpsRouteName(serverPort: number, portName: string, gatewayName: string, gatewayNamespace: string): string {
  return `https.${serverPort}.${portName}.${gatewayName}.${gatewayNamespace}`;
}

/** The virtual host of a gateway route configuration that no VirtualService fills: every request gets 404. */
export function gatewayBlackholeVirtualHostName(port: number): string {
  return `blackhole:${port}`;
}

export function virtualHostName(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

export function outboundStatPrefix(bind: string, port: number): string {
  return `outbound_${bind}_${port}`;
}

export type IstioConfigKind = "virtual-service" | "destination-rule" | "sidecar";

/** The `istio.config` metadata Istio attaches to routes and clusters. */
export function istioConfigPath(kind: IstioConfigKind, namespace: string, name: string): string {
  return `/apis/networking.istio.io/v1/namespaces/${namespace}/${kind}/${name}`;
}

/**
 * Domains a sidecar matches for a Kubernetes service, in Istio's order: FQDN, absolute FQDN, the
 * short forms the proxy's namespace can use, then the cluster IP.
 */
export function serviceDomains(host: string, proxyNamespace: string, clusterIP: string | undefined, domain = DEFAULT_DOMAIN): string[] {
  const out = [host, `${host}.`];
  const suffix = `.svc.${domain}`;
  if (host.endsWith(suffix)) {
    const [name, ns] = host.slice(0, -suffix.length).split(".");
    if (name && ns) {
      if (ns === proxyNamespace) out.push(name, `${name}.${ns}.svc`, `${name}.${ns}`);
      else out.push(`${name}.${ns}`, `${name}.${ns}.svc`);
    }
  }
  if (clusterIP && clusterIP !== "None") out.push(clusterIP);
  return out;
}

export function sidecarNodeId(ip: string, podName: string, namespace: string, domain = DEFAULT_DOMAIN): string {
  return `sidecar~${ip}~${podName}.${namespace}~${namespace}.svc.${domain}`;
}

/** The Pod label Istio's injector sets on mesh members (value `istio`); auto mTLS keys on it. */
export const TLS_MODE_LABEL = "security.istio.io/tlsMode";
export const ISTIO_TLS_MODE = "istio";
/** Endpoint metadata namespace Envoy reads transport socket matches from. */
export const TRANSPORT_SOCKET_MATCH_KEY = "envoy.transport_socket_match";
/** Istio's names of the auto mTLS transport socket matches. */
export const TLS_MODE_ISTIO_MATCH = "tlsMode-istio";
export const TLS_MODE_DISABLED_MATCH = "tlsMode-disabled";

/** A workload's SPIFFE identity, as in its certificate's URI SAN. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Istio's marker, at the start of a converted redirect's `uri`, for the Gateway API's ReplacePrefixMatch. */
export const REDIRECT_PREFIX_MARKER = "%PREFIX()%";
