export const TYPE_URL = {
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  /** SDS over ADS: DestinationRule credentialName certificates, asked for by name. */
  secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
} as const;

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/**
 * Make-before-break: clusters, then what they warm on (their endpoints and TLS secrets), then
 * listeners, then the routes listeners name.
 */
export const PUSH_ORDER: readonly TypeUrl[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.secret, TYPE_URL.listener, TYPE_URL.route];

/** LDS and CDS are state-of-the-world "full state" types and wildcard by default. */
export function isWildcardType(t: string): boolean {
  return t === TYPE_URL.cluster || t === TYPE_URL.listener;
}

export const SHORT_TYPE: Readonly<Record<TypeUrl, "cds" | "eds" | "lds" | "rds" | "sds">> = {
  [TYPE_URL.cluster]: "cds",
  [TYPE_URL.endpoint]: "eds",
  [TYPE_URL.listener]: "lds",
  [TYPE_URL.route]: "rds",
  [TYPE_URL.secret]: "sds",
};

export function isKnownTypeUrl(t: string): t is TypeUrl {
  return Object.prototype.hasOwnProperty.call(SHORT_TYPE, t);
}
