/**
 * Envoy v3 JSON types (generated from the pinned Envoy protos, see scripts/gen-envoy-types.mjs)
 * under short names, and `typed()` for Any-wrapped configs whose fields are checked at compile time.
 */
import { deepFreeze } from "../api/equal.js";
import type { AnyJson } from "@bufbuild/protobuf/wkt";
import type { ClusterJson } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import type { ClusterLoadAssignmentJson } from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import type { ListenerJson } from "../gen/envoy/config/listener/v3/listener_pb.js";
import type { RouteConfigurationJson } from "../gen/envoy/config/route/v3/route_pb.js";
import type { FileAccessLogJson } from "../gen/envoy/extensions/access_loggers/file/v3/file_pb.js";
import type { ExpressionFilterJson } from "../gen/envoy/extensions/access_loggers/filters/cel/v3/cel_pb.js";
import type { CorsJson, CorsPolicyJson } from "../gen/envoy/extensions/filters/http/cors/v3/cors_pb.js";
import type { HTTPFaultJson } from "../gen/envoy/extensions/filters/http/fault/v3/fault_pb.js";
import type { JwtAuthenticationJson } from "../gen/envoy/extensions/filters/http/jwt_authn/v3/config_pb.js";
import type { RBACJson as HttpRbacJson } from "../gen/envoy/extensions/filters/http/rbac/v3/rbac_pb.js";
import type { RBACJson as NetworkRbacJson } from "../gen/envoy/extensions/filters/network/rbac/v3/rbac_pb.js";
import type { RouterJson } from "../gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import type { HttpInspectorJson } from "../gen/envoy/extensions/filters/listener/http_inspector/v3/http_inspector_pb.js";
import type { OriginalDstJson } from "../gen/envoy/extensions/filters/listener/original_dst/v3/original_dst_pb.js";
import type { TlsInspectorJson } from "../gen/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector_pb.js";
import type { HttpConnectionManagerJson } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import type { TcpProxyJson } from "../gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js";
import type { UuidRequestIdConfigJson } from "../gen/envoy/extensions/request_id/uuid/v3/uuid_pb.js";
import type { PreviousHostsPredicateJson } from "../gen/envoy/extensions/retry/host/previous_hosts/v3/previous_hosts_pb.js";
import type { PreviousPrioritiesConfigJson } from "../gen/envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config_pb.js";
import type { RawBufferJson } from "../gen/envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer_pb.js";
import type { DownstreamTlsContextJson, UpstreamTlsContextJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import type { HttpProtocolOptionsJson } from "../gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js";

export type { ClusterJson, ClusterLoadAssignmentJson, ListenerJson, RouteConfigurationJson, HttpConnectionManagerJson, TcpProxyJson };
export type { HttpFilterJson } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
export type {
  RouteJson,
  RouteMatchJson,
  RouteActionJson,
  VirtualHostJson,
  HeaderMatcherJson,
  RetryPolicyJson,
  WeightedClusterJson,
  QueryParameterMatcherJson,
} from "../gen/envoy/config/route/v3/route_components_pb.js";
export type { AccessLogJson, AccessLogFilterJson } from "../gen/envoy/config/accesslog/v3/accesslog_pb.js";
export type { FilterChainJson, FilterJson } from "../gen/envoy/config/listener/v3/listener_components_pb.js";
export type { StringMatcherJson } from "../gen/envoy/type/matcher/v3/string_pb.js";
export type { LbEndpointJson, LocalityLbEndpointsJson } from "../gen/envoy/config/endpoint/v3/endpoint_components_pb.js";

/** Message types that travel inside `Any`, by their full proto name. */
export interface TypedConfigs {
  "envoy.extensions.access_loggers.file.v3.FileAccessLog": FileAccessLogJson;
  "envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter": ExpressionFilterJson;
  "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": HttpConnectionManagerJson;
  "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy": TcpProxyJson;
  "envoy.extensions.filters.http.router.v3.Router": RouterJson;
  "envoy.extensions.filters.http.fault.v3.HTTPFault": HTTPFaultJson;
  "envoy.extensions.filters.http.cors.v3.Cors": CorsJson;
  "envoy.extensions.filters.http.cors.v3.CorsPolicy": CorsPolicyJson;
  "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication": JwtAuthenticationJson;
  "envoy.extensions.filters.http.rbac.v3.RBAC": HttpRbacJson;
  "envoy.extensions.filters.network.rbac.v3.RBAC": NetworkRbacJson;
  "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector": HttpInspectorJson;
  "envoy.extensions.filters.listener.original_dst.v3.OriginalDst": OriginalDstJson;
  "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector": TlsInspectorJson;
  "envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig": UuidRequestIdConfigJson;
  "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate": PreviousHostsPredicateJson;
  "envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig": PreviousPrioritiesConfigJson;
  "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer": RawBufferJson;
  "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext": UpstreamTlsContextJson;
  "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext": DownstreamTlsContextJson;
  "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": HttpProtocolOptionsJson;
}

export function typed<K extends keyof TypedConfigs>(type: K, config: TypedConfigs[K]): AnyJson {
  return { "@type": `type.googleapis.com/${type}`, ...config } as AnyJson;
}

export const HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
export const MAX_UINT32 = 4294967295;

/** Envoy's JSON for "this config comes over the same ADS stream". */
export const ADS_CONFIG_SOURCE = deepFreeze({ ads: {}, initialFetchTimeout: "0s", resourceApiVersion: "V3" } as const);

/** Envoy resources are listed by name (a ClusterLoadAssignment by its cluster's). */
export function byResourceName<T extends { name?: string; clusterName?: string }>(a: T, b: T): number {
  const an = a.name ?? a.clusterName ?? "";
  const bn = b.name ?? b.clusterName ?? "";
  return an < bn ? -1 : an > bn ? 1 : 0;
}
