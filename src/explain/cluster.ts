/**
 * A cluster as the request meets it: its discovery type and load balancer, the connection limits,
 * outlier detection and upstream TLS (the DestinationRule policy, named from the cluster's
 * `istio.config` metadata), and the endpoints the load balancer may pick from its
 * ClusterLoadAssignment (healthy ones of the first priority that has any, by locality).
 */
import { localityLabel } from "../model/locality.js";
import { MAX_UINT32, type ClusterJson, type ClusterLoadAssignmentJson } from "../translate/envoy.js";
import { originOf, type RouteOrigin } from "./http.js";

export interface EndpointInfo {
  readonly address: string;
  readonly health: string;
  readonly weight: number;
  readonly locality?: string;
  readonly priority: number;
  /** Istio's workload metadata: pod, namespace, app and version labels. */
  readonly workload?: { readonly pod: string; readonly namespace: string; readonly app: string; readonly version: string };
  /** Whether the load balancer would pick it now (healthy, in the priority in use). */
  readonly eligible: boolean;
}

export interface ClusterInfo {
  readonly name: string;
  readonly exists: boolean;
  readonly type?: string;
  readonly lbPolicy?: string;
  /** The DestinationRule whose policy built the cluster, and its subset. */
  readonly destinationRule?: RouteOrigin;
  readonly subset?: string;
  readonly service?: string;
  /** Policy settings in words (connection pool, outlier detection, TLS, protocol). */
  readonly policy: readonly string[];
  readonly endpoints: readonly EndpointInfo[];
  /** Summary of what the cluster does with the request. */
  readonly note?: string;
}

type Meta = { filterMetadata?: Record<string, Record<string, unknown>> };

export function describeCluster(name: string, clusters: readonly ClusterJson[], endpoints: readonly ClusterLoadAssignmentJson[]): ClusterInfo {
  const c = clusters.find((x) => x.name === name);
  if (!c) return { name, exists: false, policy: [], endpoints: [], note: `the proxy has no cluster ${name}: Envoy answers 503 (NC, cluster not found)` };
  const istio = (c.metadata as Meta | undefined)?.filterMetadata?.["istio"];
  const subset = typeof istio?.["subset"] === "string" ? istio["subset"] : undefined;
  const services = Array.isArray(istio?.["services"]) ? (istio["services"] as { host?: string }[]) : [];
  const dr = originOf(c);
  const type = c.type ?? (c.edsClusterConfig ? "EDS" : "STATIC");
  const cla = type === "EDS" ? endpoints.find((e) => e.clusterName === (c.edsClusterConfig?.serviceName || c.name)) : c.loadAssignment;
  const eps = endpointsOf(cla);
  return {
    name,
    exists: true,
    type,
    lbPolicy: c.lbPolicy ?? "ROUND_ROBIN",
    ...(dr ? { destinationRule: dr } : {}),
    ...(subset ? { subset } : {}),
    ...(services[0]?.host ? { service: services[0].host } : {}),
    policy: policyOf(c),
    endpoints: eps,
    ...noteOf(c, type, cla, eps),
  };
}

function noteOf(c: ClusterJson, type: string, cla: ClusterLoadAssignmentJson | undefined, eps: readonly EndpointInfo[]): { note?: string } {
  if (type === "ORIGINAL_DST") return { note: "the connection goes to its original destination address (no load balancing over endpoints)" };
  if (type === "EDS" && !cla) return { note: "no ClusterLoadAssignment yet: the cluster has no endpoints and Envoy answers 503 (UH, no healthy upstream)" };
  if (eps.length === 0)
    return {
      note:
        c.name === "BlackHoleCluster"
          ? "BlackHoleCluster has no endpoints: an HTTP request gets 502 or 503 and a TCP connection is closed"
          : "the cluster has no endpoints: Envoy answers 503 (UH, no healthy upstream)",
    };
  if (!eps.some((e) => e.eligible)) return { note: "no endpoint is healthy: Envoy answers 503 (UH, no healthy upstream)" };
  return {};
}

function localityText(l: { region?: string; zone?: string; subZone?: string } | undefined): string | undefined {
  return localityLabel(l && { region: l.region ?? "", zone: l.zone ?? "", subZone: l.subZone ?? "" }) || undefined;
}

const USABLE = new Set(["HEALTHY", "UNKNOWN", "DEGRADED", undefined]);

function endpointsOf(cla: ClusterLoadAssignmentJson | undefined): EndpointInfo[] {
  const out: Omit<EndpointInfo, "eligible">[] = [];
  for (const group of cla?.endpoints ?? []) {
    const locality = localityText(group.locality);
    for (const lb of group.lbEndpoints ?? []) {
      const sa = lb.endpoint?.address?.socketAddress;
      const address = sa ? `${sa.address}:${sa.portValue ?? 0}` : "(non-socket address)";
      const workloadText = (lb.metadata as Meta | undefined)?.filterMetadata?.["istio"]?.["workload"];
      const w = typeof workloadText === "string" ? workloadText.split(";") : undefined;
      out.push({
        address,
        health: lb.healthStatus ?? "UNKNOWN",
        weight: Number(lb.loadBalancingWeight ?? 1),
        ...(locality ? { locality } : {}),
        priority: Number(group.priority ?? 0),
        ...(w && w.length >= 4 ? { workload: { pod: w[0]!, namespace: w[1]!, app: w[2]!, version: w[3]! } } : {}),
      });
    }
  }
  // The load balancer uses the first priority with a usable endpoint (more spill over only when it is degraded).
  const priorities = [...new Set(out.filter((e) => USABLE.has(e.health)).map((e) => e.priority))].sort((a, b) => a - b);
  const inUse = priorities[0];
  return out.map((e) => ({ ...e, eligible: USABLE.has(e.health) && e.priority === inUse }));
}

function policyOf(c: ClusterJson): string[] {
  const out: string[] = [];
  out.push(`connect timeout ${c.connectTimeout ?? "5s"}`);
  const t = c.circuitBreakers?.thresholds?.[0];
  if (t) {
    // Istio writes the largest value for "no limit".
    const limit = (what: string, v: number | undefined) => (v !== undefined && v !== MAX_UINT32 ? `${what} ${v}` : "");
    const lim = [
      limit("max connections", t.maxConnections),
      limit("max pending requests", t.maxPendingRequests),
      limit("max requests", t.maxRequests),
      limit("max retries", t.maxRetries),
    ].filter(Boolean);
    out.push(lim.length ? `circuit breakers: ${lim.join(", ")}` : "circuit breakers: no limits");
  }
  const od = c.outlierDetection;
  if (od) {
    const parts = [
      od.consecutive5xx !== undefined ? `eject after ${od.consecutive5xx} consecutive 5xx` : "",
      od.consecutiveGatewayFailure !== undefined ? `after ${od.consecutiveGatewayFailure} consecutive gateway errors` : "",
      od.interval ? `every ${od.interval}` : "",
      od.baseEjectionTime ? `for ${od.baseEjectionTime}` : "",
      od.maxEjectionPercent !== undefined ? `at most ${od.maxEjectionPercent}% ejected` : "",
    ].filter(Boolean);
    out.push(`outlier detection: ${parts.join(", ") || "on"}`);
  }
  const panic = c.commonLbConfig?.healthyPanicThreshold?.value;
  if (panic !== undefined) out.push(`panic threshold ${panic}%`);
  if (c.ringHashLbConfig) out.push("ring hash load balancing (consistent hash from the route's hash policy)");
  if (c.maglevLbConfig) out.push("maglev load balancing (consistent hash from the route's hash policy)");
  const ts = c.transportSocket;
  if (ts?.name === "envoy.transport_sockets.tls") {
    const tls = ts.typedConfig as
      { sni?: string; commonTlsContext?: { alpnProtocols?: string[]; tlsCertificateSdsSecretConfigs?: { name?: string }[] } } | undefined;
    const cert = tls?.commonTlsContext?.tlsCertificateSdsSecretConfigs?.[0]?.name;
    out.push(`upstream TLS${tls?.sni ? `, SNI ${tls.sni}` : ""}${cert ? `, client certificate ${cert}` : ""}`);
  }
  const opts = c.typedExtensionProtocolOptions?.["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] as
    | {
        explicitHttpConfig?: { http2ProtocolOptions?: unknown };
        useDownstreamProtocolConfig?: unknown;
        commonHttpProtocolOptions?: { idleTimeout?: string; maxRequestsPerConnection?: number };
      }
    | undefined;
  if (opts?.explicitHttpConfig?.http2ProtocolOptions) out.push("HTTP/2 to the upstream");
  if (opts?.useDownstreamProtocolConfig) out.push("upstream HTTP version follows the downstream's");
  if (opts?.commonHttpProtocolOptions?.idleTimeout) out.push(`upstream idle timeout ${opts.commonHttpProtocolOptions.idleTimeout}`);
  if (opts?.commonHttpProtocolOptions?.maxRequestsPerConnection)
    out.push(`max requests per connection ${opts.commonHttpProtocolOptions.maxRequestsPerConnection}`);
  if (c.commonLbConfig?.localityWeightedLbConfig) out.push("locality-weighted load balancing");
  return out;
}
