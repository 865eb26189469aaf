export const TYPE_URL = {
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  /** VHDS: the virtual hosts of route configurations, to delta streams of Envoys that take them (route-delivery.ts). */
  virtualHost: "type.googleapis.com/envoy.config.route.v3.VirtualHost",
  /** SDS over ADS: DestinationRule credentialName certificates, asked for by name. */
  secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
} as const;

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/**
 * Make-before-break: clusters, then what they warm on (their endpoints and TLS secrets), then
 * listeners, then the routes listeners name, then the virtual hosts of those routes (Envoy takes
 * a route configuration's VHDS virtual hosts only once it holds that route configuration).
 */
export const PUSH_ORDER: readonly TypeUrl[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.secret, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.virtualHost];

/** LDS and CDS are state-of-the-world "full state" types and wildcard by default. */
export function isWildcardType(t: string): boolean {
  return t === TYPE_URL.cluster || t === TYPE_URL.listener;
}

/**
 * Types whose first delta request with no names means "everything": LDS and CDS, and VHDS, which
 * Envoy starts with an empty subscription and then takes every virtual host of the route
 * configurations it holds.
 */
export function isDeltaWildcardType(t: string): boolean {
  return isWildcardType(t) || t === TYPE_URL.virtualHost;
}

export const SHORT_TYPE: Readonly<Record<TypeUrl, "cds" | "eds" | "lds" | "rds" | "vhds" | "sds">> = {
  [TYPE_URL.cluster]: "cds",
  [TYPE_URL.endpoint]: "eds",
  [TYPE_URL.listener]: "lds",
  [TYPE_URL.route]: "rds",
  [TYPE_URL.virtualHost]: "vhds",
  [TYPE_URL.secret]: "sds",
};

export function isKnownTypeUrl(t: string): t is TypeUrl {
  return Object.prototype.hasOwnProperty.call(SHORT_TYPE, t);
}
