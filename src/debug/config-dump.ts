import type { ProxyResources } from "../translate/proxy.js";
import { redactSecret } from "../translate/tls.js";

const ADMIN = "type.googleapis.com/envoy.admin.v3";

/**
 * What a proxy would hold, in the shape of Envoy's admin `/config_dump`, so the two can be
 * diffed directly (as `istioctl proxy-config` users do).
 */
export function configDump(
  resources: ProxyResources,
  versions: { cds?: string; eds?: string; lds?: string; rds?: string; sds?: string },
  includeEds: boolean,
): unknown {
  const configs: unknown[] = [
    {
      "@type": `${ADMIN}.ClustersConfigDump`,
      dynamicActiveClusters: resources.clusters.map((cluster) => ({
        versionInfo: versions.cds ?? "",
        cluster: withType(cluster, "envoy.config.cluster.v3.Cluster"),
      })),
    },
    {
      "@type": `${ADMIN}.ListenersConfigDump`,
      dynamicListeners: resources.listeners.map((listener) => ({
        name: listener.name,
        activeState: { versionInfo: versions.lds ?? "", listener: withType(listener, "envoy.config.listener.v3.Listener") },
      })),
    },
    {
      "@type": `${ADMIN}.RoutesConfigDump`,
      dynamicRouteConfigs: resources.routes.map((rc) => ({
        versionInfo: versions.rds ?? "",
        routeConfig: withType(rc, "envoy.config.route.v3.RouteConfiguration"),
      })),
    },
  ];
  if (resources.secrets.length) {
    // Private keys redacted, as Envoy's own dump shows them.
    configs.push({
      "@type": `${ADMIN}.SecretsConfigDump`,
      dynamicActiveSecrets: resources.secrets.map((s) => ({
        name: s.name,
        versionInfo: versions.sds ?? "",
        secret: withType(redactSecret(s), "envoy.extensions.transport_sockets.tls.v3.Secret"),
      })),
    });
  }
  if (includeEds) {
    configs.push({
      "@type": `${ADMIN}.EndpointsConfigDump`,
      dynamicEndpointConfigs: resources.endpoints.map((cla) => ({
        versionInfo: versions.eds ?? "",
        endpointConfig: withType(cla, "envoy.config.endpoint.v3.ClusterLoadAssignment"),
      })),
    });
  }
  return { configs };
}

function withType(o: object, type: string): object {
  return { "@type": `type.googleapis.com/${type}`, ...o };
}
