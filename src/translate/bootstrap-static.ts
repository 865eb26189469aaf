/**
 * Static clusters and listeners of a proxy's bootstrap that meshpilot does not serve over xDS:
 * they must work before the first xDS response (readiness, application probes). Plain JSON, as
 * the rest of the bootstrap.
 */

/** The static cluster that reaches Envoy's own admin interface. */
export const ADMIN_CLUSTER = "envoy-admin";
const HTTP_ROUTER = { name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };
const HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/** A STATIC cluster of one endpoint on 127.0.0.1:`port`, optionally over TLS. */
export function loopbackCluster(name: string, port: number, tls: boolean): Record<string, unknown> {
  return {
    name,
    type: "STATIC",
    connectTimeout: "1s",
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: port } } } }] }],
    },
    ...(tls
      ? {
          transportSocket: {
            name: "envoy.transport_sockets.tls",
            typedConfig: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" },
          },
        }
      : {}),
  };
}

/** An HTTP listener on 0.0.0.0:`port` with one virtual host of `routes`, after `filters`. */
export function staticHttpListener(
  name: string,
  port: number,
  routes: readonly Record<string, unknown>[],
  filters: readonly Record<string, unknown>[] = [],
): Record<string, unknown> {
  return {
    name,
    address: { socketAddress: { address: "0.0.0.0", portValue: port } },
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: {
              "@type": HCM_TYPE,
              statPrefix: name,
              routeConfig: { name, virtualHosts: [{ name, domains: ["*"], routes }] },
              httpFilters: [...filters, HTTP_ROUTER],
            },
          },
        ],
      },
    ],
  };
}

/**
 * Readiness as Istio's `:15021/healthz/ready`: Envoy's admin `/ready` turns 200 once the first
 * CDS and LDS responses are applied (the bootstrap's initial_fetch_timeout 0 makes it wait for
 * them), so a pod is not ready before it has its configuration.
 */
export function readinessResources(healthPort: number, adminPort: number): { cluster: Record<string, unknown>; listener: Record<string, unknown> } {
  return {
    cluster: loopbackCluster(ADMIN_CLUSTER, adminPort, false),
    listener: staticHttpListener("health", healthPort, [{ match: { path: HEALTH_READY_PATH }, route: { cluster: ADMIN_CLUSTER, prefixRewrite: "/ready" } }]),
  };
}

export const HEALTH_READY_PATH = "/healthz/ready";
