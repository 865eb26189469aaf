import type { ProxyResources } from "../translate/sidecar.js";

const ADMIN = "type.googleapis.com/envoy.admin.v3";

/**
 * What a proxy would hold, in the shape of Envoy's admin `/config_dump`, so the two can be
 * diffed directly (as `istioctl proxy-config` users do).
 */
export function configDump(resources: ProxyResources, versions: { cds?: string; eds?: string; lds?: string; rds?: string }, includeEds: boolean): unknown {
  const configs: unknown[] = [
    { "@type": `${ADMIN}.ClustersConfigDump`, dynamicActiveClusters: resources.clusters.map((cluster) => ({ versionInfo: versions.cds ?? "", cluster: withType(cluster, "envoy.config.cluster.v3.Cluster") })) },
    { "@type": `${ADMIN}.ListenersConfigDump`, dynamicListeners: resources.listeners.map((listener) => ({ name: listener.name, activeState: { versionInfo: versions.lds ?? "", listener: withType(listener, "envoy.config.listener.v3.Listener") } })) },
    { "@type": `${ADMIN}.RoutesConfigDump`, dynamicRouteConfigs: resources.routes.map((rc) => ({ versionInfo: versions.rds ?? "", routeConfig: withType(rc, "envoy.config.route.v3.RouteConfiguration") })) },
  ];
  if (includeEds) {
    configs.push({ "@type": `${ADMIN}.EndpointsConfigDump`, dynamicEndpointConfigs: resources.endpoints.map((cla) => ({ versionInfo: versions.eds ?? "", endpointConfig: withType(cla, "envoy.config.endpoint.v3.ClusterLoadAssignment") })) });
  }
  return { configs };
}

function withType(o: object, type: string): object {
  return { "@type": `type.googleapis.com/${type}`, ...o };
}
