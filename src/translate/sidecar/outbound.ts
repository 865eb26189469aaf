/**
 * A sidecar's outbound side: what the application reaches through it. One cluster per service port
 * and DestinationRule subset, one listener per port (HTTP ports share `0.0.0.0_<port>`, TCP ports
 * get one per service VIP), one route configuration per HTTP port with a virtual host per service.
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import type { CredentialModel, MeshModel, ServiceModel, ServicePortModel, SubsetModel, VirtualServiceModel } from "../../model/ir.js";
import { hostMatches } from "../../model/hosts.js";
import { endpointKey } from "../../model/ir.js";
import { ALLOW_ANY_VHOST, MESH_GATEWAY, PASSTHROUGH_CLUSTER, serviceDomains, sidecarRouteConfigName, virtualHostName } from "../../model/names.js";
import { destinationRuleFor, subsetPolicy } from "../../model/policies.js";
import { isHttpProtocol } from "../../model/protocol.js";
import type { ProxyView } from "../../model/proxy.js";
import { sidecarVirtualServices, virtualServiceForHost } from "../../model/routing.js";
import { outboundCluster } from "../cluster.js";
import { localityLbFor } from "../endpoints.js";
import type { ClusterJson, ListenerJson, RouteConfigurationJson, VirtualHostJson } from "../envoy.js";
import type { Bind } from "../listener.js";
import { l4FilterChains } from "../l4-route.js";
import { httpListener, l4Listener, virtualOutboundListener } from "../listener.js";
import { byResourceName } from "../envoy.js";
import type { EdsTarget } from "../proxy.js";
import type { RouteContext } from "../route.js";
import { defaultRoute, virtualServiceRoutes } from "../route.js";
import type { SecretJson, UpstreamTls } from "../tls.js";

const NO_CREDENTIALS: ReadonlyMap<string, CredentialModel> = new Map();

/**
 * The clusters a proxy sees from the registry: one per service port, plus one per DestinationRule
 * subset. `secrets` collects the SDS Secrets they reference (credentialName), by name.
 */
function edsClusters(mesh: MeshModel, proxy: ProxyView, diagnostics: Diagnostic[], secrets: Map<string, SecretJson>): { cluster: ClusterJson; eds: EdsTarget }[] {
  const out: { cluster: ClusterJson; eds: EdsTarget }[] = [];
  for (const svc of mesh.services.values()) {
    const rule = destinationRuleFor(mesh.destinationRules, svc.hostname, svc.namespace, proxy.namespace, proxy.labels);
    const report = (message: string): void => {
      if (rule) diagnostics.push({ severity: "warning", code: "MP0405", message, object: rule.refs[0]! });
    };
    const credentials = {
      scope: { honoured: rule?.workloadSelector !== undefined, namespace: proxy.namespace, credentials: mesh.credentials ?? NO_CREDENTIALS },
      onTls: (tls: UpstreamTls): void => {
        for (const s of tls.secrets ?? []) secrets.set(s.name!, s);
        for (const p of tls.problems ?? []) {
          diagnostics.push({ severity: p.severity, code: p.code, message: p.message, object: p.object ?? rule!.refs[0]!, ...(p.path ? { path: p.path } : {}) });
        }
      },
    };
    for (const port of svc.ports) {
      const endpoints = endpointKey(svc.hostname, port.port);
      const target = (name: string, subset: SubsetModel | undefined): EdsTarget => {
        const locality = localityLbFor(rule ? subsetPolicy(rule, subset, port.port) : undefined, proxy);
        return { cluster: name, endpoints, labels: subset?.labels ?? {}, ...(locality ? { locality } : {}) };
      };
      const cluster = outboundCluster(svc, port, rule, undefined, report, credentials);
      out.push({ cluster, eds: target(cluster.name!, undefined) });
      for (const subset of rule?.subsets ?? []) {
        const sc = outboundCluster(svc, port, rule, subset, report, credentials);
        out.push({ cluster: sc, eds: target(sc.name!, subset) });
      }
    }
  }
  return out;
}

/** The clusters that take their endpoints from EDS, by cluster name. */
function targetsOf(eds: readonly { cluster: ClusterJson; eds: EdsTarget }[]): EdsTarget[] {
  return eds.filter(({ cluster }) => cluster.type === "EDS").map((c) => c.eds).sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
}

interface PortEntry {
  readonly svc: ServiceModel;
  readonly port: ServicePortModel;
}

function portsByNumber(mesh: MeshModel): Map<number, PortEntry[]> {
  const out = new Map<number, PortEntry[]>();
  for (const svc of mesh.services.values()) {
    for (const port of svc.ports) {
      const list = out.get(port.port);
      if (list) list.push({ svc, port });
      else out.set(port.port, [{ svc, port }]);
    }
  }
  return new Map([...out.entries()].sort(([a], [b]) => a - b));
}

function bindOf(proxy: ProxyView): Bind {
  return proxy.interceptionMode === "NONE" ? { mode: "bound", address: "127.0.0.1" } : { mode: "captured" };
}

export function sidecarListeners(mesh: MeshModel, proxy: ProxyView): { listeners: ListenerJson[]; diagnostics: Diagnostic[] } {
  const bind = bindOf(proxy);
  const listeners: ListenerJson[] = [];
  const diagnostics: Diagnostic[] = [];
  const vss = sidecarVirtualServices(mesh.virtualServices, proxy.namespace);
  const chains = ({ svc, port }: PortEntry) =>
    l4FilterChains(virtualServiceForHost(vss, svc.hostname), svc, port, { port: port.port, gateway: MESH_GATEWAY, proxy, services: mesh.services, destinationRules: mesh.destinationRules });
  for (const [number, entries] of portsByNumber(mesh)) {
    const http = entries.filter((e) => isHttpProtocol(e.port.protocol));
    const tcp = entries.filter((e) => !isHttpProtocol(e.port.protocol));
    if (http.length) listeners.push(httpListener(number, bind));
    if (bind.mode === "captured") {
      for (const entry of tcp) {
        if (entry.svc.clusterIP && entry.svc.clusterIP !== "None") listeners.push(l4Listener(entry.svc.clusterIP, number, chains(entry), bind));
      }
      continue;
    }
    // One local socket per port: HTTP services share it through virtual hosts, a TCP service cannot.
    const [winner, ...losers] = http.length ? [] : tcp;
    if (winner) listeners.push(l4Listener(bind.address, number, chains(winner), bind));
    for (const lost of http.length ? tcp : losers) {
      diagnostics.push({
        severity: "warning",
        code: "MP0301",
        message: `port ${number} of ${lost.svc.hostname} (${lost.port.protocol}) is not reachable from proxies with INTERCEPTION_MODE NONE: ${http.length ? "HTTP services" : winner?.svc.hostname} already listen on 127.0.0.1:${number}`,
        object: lost.svc.ref,
      });
    }
  }
  if (bind.mode === "captured") listeners.push(virtualOutboundListener());
  return { listeners: listeners.sort(byResourceName), diagnostics };
}

/**
 * Istio puts the VirtualService hosts that name no registry service (external names, wildcards that
 * match no service) in the sidecar's route configuration for port 80 only, with the host itself as
 * the single domain.
 */
const NON_REGISTRY_HOST_PORT = 80;

function nonRegistryVirtualHosts(mesh: MeshModel, vss: readonly VirtualServiceModel[], ctx: RouteContext, used: Set<string>): VirtualHostJson[] {
  const out: VirtualHostJson[] = [];
  const services = [...mesh.services.keys()];
  for (const vs of vss) {
    for (const host of vs.hosts) {
      if (mesh.services.has(host)) continue;
      if (host.startsWith("*") && services.some((s) => hostMatches(host, s))) continue;
      if (used.has(host)) continue;
      // As in Istio, a VirtualService that yields no route here makes no virtual host.
      const routes = virtualServiceRoutes(vs, ctx);
      if (routes.length === 0) continue;
      used.add(host);
      out.push({ name: virtualHostName(host, NON_REGISTRY_HOST_PORT), domains: [host], routes });
    }
  }
  return out;
}

/** One RouteConfiguration per HTTP port, named by the port, with a virtual host per service. */
export function sidecarRoutes(mesh: MeshModel, proxy: ProxyView): RouteConfigurationJson[] {
  const vss = sidecarVirtualServices(mesh.virtualServices, proxy.namespace);
  const out: RouteConfigurationJson[] = [];
  for (const [number, entries] of portsByNumber(mesh)) {
    const http = entries.filter((e) => isHttpProtocol(e.port.protocol));
    if (http.length === 0) continue;
    const ctx: RouteContext = { port: number, gateway: MESH_GATEWAY, proxy, services: mesh.services, destinationRules: mesh.destinationRules };
    const used = new Set<string>();
    const vhosts: VirtualHostJson[] = [];
    for (const { svc } of http) {
      const vs = virtualServiceForHost(vss, svc.hostname);
      // A VirtualService that yields no route on this port (every rule pruned by port, source
      // or a missing delegate) leaves the service its default route, as in Istio.
      const vsRoutes = vs ? virtualServiceRoutes(vs, ctx) : [];
      const routes = vsRoutes.length ? vsRoutes : [defaultRoute(svc, number, ctx)];
      // Envoy rejects a domain that two virtual hosts share; as in Istio the first keeps it.
      const domains = serviceDomains(svc.hostname, proxy.namespace, svc.clusterIP, proxy.dnsDomain).filter((d) => !used.has(d));
      domains.forEach((d) => used.add(d));
      if (domains.length === 0) continue;
      vhosts.push({ name: virtualHostName(svc.hostname, number), domains, routes });
    }
    if (number === NON_REGISTRY_HOST_PORT) vhosts.push(...nonRegistryVirtualHosts(mesh, vss, ctx, used));
    vhosts.sort(byResourceName);
    vhosts.push({
      name: ALLOW_ANY_VHOST,
      domains: ["*"],
      routes: [{ name: ALLOW_ANY_VHOST, match: { prefix: "/" }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: "0s", maxGrpcTimeout: "0s" } }],
    });
    out.push({ name: sidecarRouteConfigName(number), virtualHosts: vhosts, validateClusters: false, ignorePortInHostMatching: true, maxDirectResponseBodySizeBytes: 1048576 });
  }
  return out.sort(byResourceName);
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

export function outbound(mesh: MeshModel, proxy: ProxyView): OutboundResources {
  const { listeners, diagnostics } = sidecarListeners(mesh, proxy);
  const secrets = new Map<string, SecretJson>();
  const eds = edsClusters(mesh, proxy, diagnostics, secrets);
  return { clusters: eds.map((c) => c.cluster), edsTargets: targetsOf(eds), listeners, routes: sidecarRoutes(mesh, proxy), secrets, diagnostics };
}
