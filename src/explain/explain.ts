/**
 * `meshpilot explain`: follow one request through the Envoy configuration a proxy holds (the
 * translator's output, not the YAML it came from), stage by stage as Envoy would: the address the
 * application dials, the listener and filter chain, the HTTP connection manager's route
 * configuration, virtual host and route, the action, and the clusters and endpoints it may reach.
 * Pure: the caller brings the resources (offline translation or a running meshpilot's dump).
 */
import type { ProxyNode } from "../model/proxy.js";
import type {
  ClusterJson,
  ClusterLoadAssignmentJson,
  HttpConnectionManagerJson,
  ListenerJson,
  RouteConfigurationJson,
  TcpProxyJson,
} from "../translate/envoy.js";
import { describeCluster, type ClusterInfo } from "./cluster.js";
import { routeRequest, weightedTargets, type HttpOutcome, type WeightedTarget } from "./http.js";
import { chooseFilterChain, chooseListener, describeChain, isIp, type Connection } from "./listener.js";
import type { ExplainRequest } from "./request.js";

export interface ExplainResources {
  readonly clusters: readonly ClusterJson[];
  readonly endpoints: readonly ClusterLoadAssignmentJson[];
  readonly listeners: readonly ListenerJson[];
  readonly routes: readonly RouteConfigurationJson[];
}

export interface ExplainOptions {
  /** The address the application's DNS lookup gives (default: found from the configuration). */
  readonly destinationIp?: string;
  /** The application's address (default: the proxy's IP). */
  readonly sourceIp?: string;
  /** The port the connection arrives on at the proxy, when not the URL's (a gateway's target port behind its Service port). */
  readonly port?: number;
  /** Plaintext HTTP as HTTP/2 with prior knowledge. */
  readonly http2?: boolean;
}

export interface Explanation {
  readonly proxy: string;
  readonly request: ExplainRequest;
  readonly destination: { readonly ip?: string; readonly port: number; readonly how: string };
  readonly listener?: string;
  readonly listenerSteps: readonly string[];
  readonly filterChain?: string;
  readonly filterChainSteps: readonly string[];
  /** The first network filter of the chain. */
  readonly network?: "http_connection_manager" | "tcp_proxy" | string;
  readonly http?: HttpOutcome;
  /** tcp_proxy's cluster or split. */
  readonly tcp?: readonly WeightedTarget[];
  readonly clusters: readonly ClusterInfo[];
  /** What happens to the request, in one sentence. */
  readonly outcome: string;
}

const HCM = "envoy.filters.network.http_connection_manager";
const TCP_PROXY = "envoy.filters.network.tcp_proxy";

/** The names the application's resolver tries for `host` (Kubernetes search path: ns.svc, svc, domain). */
function searchNames(host: string, proxy: ProxyNode): string[] {
  const h = host.toLowerCase().replace(/\.$/, "");
  const d = proxy.dnsDomain;
  return [h, `${h}.${proxy.namespace}.svc.${d}`, `${h}.svc.${d}`, `${h}.${d}`];
}

/** Where `host` resolves: its cluster IP as the configuration lists it (virtual host domains, or a TCP listener's service). */
function resolveDestination(res: ExplainResources, req: ExplainRequest, proxy: ProxyNode, given: string | undefined): { ip?: string; how: string } {
  if (given) return { ip: given, how: "given with --destination-ip" };
  if (proxy.type === "router")
    return { how: `a client connects to the gateway itself, on the port of its listener (${req.host} is only the Host header here)` };
  if (isIp(req.host)) return { ip: req.host, how: "the URL's host is an address" };
  const names = searchNames(req.host, proxy);
  const rcs = [...res.routes].sort((a, b) => Number(b.name === String(req.port)) - Number(a.name === String(req.port)));
  for (const name of names)
    for (const rc of rcs)
      for (const vh of rc.virtualHosts ?? []) {
        const domains = (vh.domains ?? []).map((d) => d.toLowerCase());
        if (!domains.includes(name)) continue;
        const ip = domains.find((d) => isIp(d));
        if (ip)
          return {
            ip,
            how: `${req.host} resolves to ${ip}: the service address listed with ${name} in virtual host ${vh.name} (route configuration ${rc.name})`,
          };
      }
  for (const name of names)
    for (const l of res.listeners) {
      const address = l.address?.socketAddress?.address ?? "";
      if (!isIp(address) || address === "0.0.0.0" || Number(l.address?.socketAddress?.portValue) !== req.port) continue;
      const clusters = (l.filterChains ?? []).flatMap((c) => (c.filters ?? []).map((f) => tcpClustersOf(f.typedConfig as TcpProxyJson | undefined)).flat());
      if (clusters.some((c) => c.cluster.endsWith(`|${name}`)))
        return { ip: address, how: `${req.host} resolves to ${address}: listener ${l.name} serves ${name} on that address` };
    }
  return { how: `${req.host} is not a service this proxy knows: its address is outside the registry (give --destination-ip to say which)` };
}

/** tcp_proxy's cluster or split. */
export function tcpClustersOf(tp: TcpProxyJson | undefined): WeightedTarget[] {
  return (tp && weightedTargets(tp.cluster, tp.weightedClusters?.clusters)) ?? [];
}

export function explain(res: ExplainResources, proxy: ProxyNode, req: ExplainRequest, opts: ExplainOptions = {}): Explanation {
  const dest = resolveDestination(res, req, proxy, opts.destinationIp);
  const conn: Connection = {
    ...(dest.ip ? { destinationIp: dest.ip } : {}),
    destinationPort: opts.port ?? req.port,
    sourceIp: opts.sourceIp ?? proxy.ip,
    tls: req.scheme === "https",
    ...(req.scheme === "https" ? { serverName: req.host } : { httpProtocol: opts.http2 ? "h2c" : "http/1.1" }),
  };
  const base = { proxy: proxy.id, request: req, destination: { ...dest, port: conn.destinationPort } };
  const lc = chooseListener(res.listeners, conn);
  if (!lc.listener) return { ...base, listenerSteps: lc.steps, filterChainSteps: [], clusters: [], outcome: "the connection is refused: no listener takes it" };
  const fc = chooseFilterChain(lc.listener, conn);
  const common = { ...base, listener: lc.listener.name ?? "", listenerSteps: lc.steps, filterChainSteps: fc.steps };
  if (!fc.chain) return { ...common, clusters: [], outcome: "the connection is closed: no filter chain takes it" };
  const chainName = `${describeChain(fc.chain)}${fc.isDefault ? " (the default filter chain)" : ""}`;
  const filter = fc.chain.filters?.[0];
  const withChain = { ...common, filterChain: chainName, network: filter?.name ?? "(none)" };
  if (filter?.name === TCP_PROXY) {
    const targets = tcpClustersOf(filter.typedConfig as TcpProxyJson);
    const clusters = targets.map((t) => describeCluster(t.cluster, res.clusters, res.endpoints));
    return { ...withChain, tcp: targets, clusters, outcome: tcpOutcome(targets, clusters, req) };
  }
  if (filter?.name !== HCM)
    return { ...withChain, clusters: [], outcome: `the chain's first network filter is ${filter?.name ?? "missing"}, which this tool does not follow` };
  if (req.scheme === "https")
    return { ...withChain, clusters: [], outcome: "a TLS connection reached an HTTP connection manager without TLS termination: it fails" };
  const hcm = filter.typedConfig as HttpConnectionManagerJson;
  const rcName = hcm.rds?.routeConfigName;
  const rc = hcm.routeConfig ?? res.routes.find((r) => r.name === rcName);
  const http = routeRequest(req, hcm, rc, rcName);
  const targets = http.action.kind === "forward" ? http.action.clusters : [];
  const clusters = targets.map((t) => describeCluster(t.cluster, res.clusters, res.endpoints));
  return { ...withChain, http, clusters, outcome: httpOutcome(http, clusters) };
}

const pct = (n: number): string => `${Number.isInteger(n) ? n : n.toFixed(2)}%`;

function clusterPhrase(t: WeightedTarget, info: ClusterInfo | undefined, multiple: boolean): string {
  const share = multiple ? `${pct(t.percent)} to ` : "";
  if (t.cluster === "PassthroughCluster") return `${share}PassthroughCluster (the original destination, outside the registry: outboundTrafficPolicy ALLOW_ANY)`;
  if (t.cluster === "BlackHoleCluster") return `${share}BlackHoleCluster (dropped: outboundTrafficPolicy REGISTRY_ONLY, or a destination nothing routes)`;
  const eligible = info?.endpoints.filter((e) => e.eligible) ?? [];
  const versions = [...new Set(eligible.map((e) => e.workload?.version).filter((v): v is string => v !== undefined && v !== ""))];
  const where = info?.note
    ? ` — ${info.note}`
    : eligible.length
      ? ` (${eligible.length} endpoint${eligible.length > 1 ? "s" : ""}${versions.length ? `, version ${versions.join(", ")}` : ""})`
      : "";
  return `${share}${t.cluster}${where}`;
}

function httpOutcome(http: HttpOutcome, clusters: readonly ClusterInfo[]): string {
  const a = http.action;
  switch (a.kind) {
    case "no-route":
      return a.why;
    case "unsupported":
      return a.why;
    case "direct":
      return `Envoy answers ${a.status} itself (direct response)${a.body !== undefined ? ` with body ${JSON.stringify(a.body)}` : ""}`;
    case "redirect":
      return `Envoy answers ${a.status} with Location: ${a.location}`;
    case "forward": {
      const f = http.fault;
      const prefix: string[] = [];
      if (f && !f.inactive) {
        if (f.abort && f.abort.percent >= 100)
          return `Envoy aborts every request with ${f.abort.httpStatus !== undefined ? `HTTP ${f.abort.httpStatus}` : `gRPC status ${f.abort.grpcStatus}`} (fault injection) before it reaches ${a.clusters.map((c) => c.cluster).join(", ")}`;
        if (f.abort)
          prefix.push(`${pct(f.abort.percent)} of requests are aborted with ${f.abort.httpStatus ?? `gRPC ${f.abort.grpcStatus}`} (fault injection)`);
        if (f.delay) prefix.push(`${pct(f.delay.percent)} are delayed by ${f.delay.fixedDelay}`);
      }
      const multiple = a.clusters.length > 1;
      const to = a.clusters.map((t, i) => clusterPhrase(t, clusters[i], multiple)).join("; ");
      return `${prefix.length ? `${prefix.join(", ")}; the rest are ` : ""}forwarded ${multiple ? "by weight: " : "to "}${to}`;
    }
  }
}

function tcpOutcome(targets: readonly WeightedTarget[], clusters: readonly ClusterInfo[], req: ExplainRequest): string {
  const multiple = targets.length > 1;
  const kind = req.scheme === "https" ? "TLS connection" : "connection";
  return `the ${kind} is proxied as TCP (no HTTP routing) to ${targets.map((t, i) => clusterPhrase(t, clusters[i], multiple)).join("; ")}`;
}
