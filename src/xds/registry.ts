// The type registry used to read (and print) `google.protobuf.Any` in Envoy's JSON form. Any
// payloads are resolved by their `@type` URL, so every message that can sit inside an Any in our
// output must be registered. Registering whole files plus their transitive imports is cheap (a
// one-time walk) and means a translator adding a field that carries an Any of an already
// generated type cannot fail here for lack of a registration.
import { createRegistry, type Registry } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import {
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { file_envoy_config_cluster_v3_cluster } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { file_envoy_config_endpoint_v3_endpoint } from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { file_envoy_config_listener_v3_listener } from "../gen/envoy/config/listener/v3/listener_pb.js";
import { file_envoy_config_route_v3_route } from "../gen/envoy/config/route/v3/route_pb.js";
import { file_envoy_extensions_access_loggers_file_v3_file } from "../gen/envoy/extensions/access_loggers/file/v3/file_pb.js";
import { file_envoy_extensions_access_loggers_filters_cel_v3_cel } from "../gen/envoy/extensions/access_loggers/filters/cel/v3/cel_pb.js";
import { file_envoy_extensions_access_loggers_stream_v3_stream } from "../gen/envoy/extensions/access_loggers/stream/v3/stream_pb.js";
import { file_envoy_extensions_filters_http_cors_v3_cors } from "../gen/envoy/extensions/filters/http/cors/v3/cors_pb.js";
import { file_envoy_extensions_filters_http_fault_v3_fault } from "../gen/envoy/extensions/filters/http/fault/v3/fault_pb.js";
import { file_envoy_extensions_filters_http_jwt_authn_v3_config } from "../gen/envoy/extensions/filters/http/jwt_authn/v3/config_pb.js";
import { file_envoy_extensions_filters_http_rbac_v3_rbac } from "../gen/envoy/extensions/filters/http/rbac/v3/rbac_pb.js";
import { file_envoy_extensions_filters_network_rbac_v3_rbac } from "../gen/envoy/extensions/filters/network/rbac/v3/rbac_pb.js";
import { file_envoy_extensions_filters_http_router_v3_router } from "../gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import { file_envoy_extensions_filters_listener_http_inspector_v3_http_inspector } from "../gen/envoy/extensions/filters/listener/http_inspector/v3/http_inspector_pb.js";
import { file_envoy_extensions_filters_listener_original_dst_v3_original_dst } from "../gen/envoy/extensions/filters/listener/original_dst/v3/original_dst_pb.js";
import { file_envoy_extensions_filters_listener_tls_inspector_v3_tls_inspector } from "../gen/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector_pb.js";
import { file_envoy_extensions_filters_network_http_connection_manager_v3_http_connection_manager } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { file_envoy_extensions_filters_network_tcp_proxy_v3_tcp_proxy } from "../gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js";
import { file_envoy_extensions_request_id_uuid_v3_uuid } from "../gen/envoy/extensions/request_id/uuid/v3/uuid_pb.js";
import { file_envoy_extensions_retry_host_previous_hosts_v3_previous_hosts } from "../gen/envoy/extensions/retry/host/previous_hosts/v3/previous_hosts_pb.js";
import { file_envoy_extensions_retry_priority_previous_priorities_v3_previous_priorities_config } from "../gen/envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config_pb.js";
import { file_envoy_extensions_transport_sockets_raw_buffer_v3_raw_buffer } from "../gen/envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer_pb.js";
import { file_envoy_extensions_transport_sockets_tls_v3_secret } from "../gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import { file_envoy_extensions_transport_sockets_tls_v3_tls } from "../gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import { file_envoy_extensions_upstreams_http_v3_http_protocol_options } from "../gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js";
import { file_envoy_service_discovery_v3_discovery } from "../gen/envoy/service/discovery/v3/discovery_pb.js";

/** The files whose messages we put in Anys (the xDS types themselves included, for decoding). */
const ROOT_FILES: readonly DescFile[] = [
  file_envoy_config_cluster_v3_cluster,
  file_envoy_config_endpoint_v3_endpoint,
  file_envoy_config_listener_v3_listener,
  file_envoy_config_route_v3_route,
  file_envoy_extensions_filters_network_http_connection_manager_v3_http_connection_manager,
  file_envoy_extensions_filters_http_router_v3_router,
  file_envoy_extensions_filters_http_fault_v3_fault,
  file_envoy_extensions_filters_http_cors_v3_cors,
  file_envoy_extensions_filters_http_jwt_authn_v3_config,
  file_envoy_extensions_filters_http_rbac_v3_rbac,
  file_envoy_extensions_filters_network_rbac_v3_rbac,
  file_envoy_extensions_filters_network_tcp_proxy_v3_tcp_proxy,
  file_envoy_extensions_filters_listener_http_inspector_v3_http_inspector,
  file_envoy_extensions_filters_listener_original_dst_v3_original_dst,
  file_envoy_extensions_filters_listener_tls_inspector_v3_tls_inspector,
  file_envoy_extensions_transport_sockets_tls_v3_tls,
  file_envoy_extensions_transport_sockets_tls_v3_secret,
  file_envoy_extensions_transport_sockets_raw_buffer_v3_raw_buffer,
  file_envoy_extensions_upstreams_http_v3_http_protocol_options,
  file_envoy_extensions_retry_host_previous_hosts_v3_previous_hosts,
  file_envoy_extensions_retry_priority_previous_priorities_v3_previous_priorities_config,
  file_envoy_extensions_access_loggers_stream_v3_stream,
  file_envoy_extensions_access_loggers_file_v3_file,
  file_envoy_extensions_access_loggers_filters_cel_v3_cel,
  file_envoy_extensions_request_id_uuid_v3_uuid,
  file_envoy_service_discovery_v3_discovery,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  file_google_protobuf_wrappers,
];

function withDependencies(roots: readonly DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (f: DescFile): void => {
    if (seen.has(f.name)) return;
    seen.set(f.name, f);
    for (const d of f.dependencies) visit(d);
  };
  roots.forEach(visit);
  return [...seen.values()];
}

/** Registry for `fromJson`/`toJson` of Envoy resources with embedded Anys. */
export const envoyRegistry: Registry = createRegistry(...withDependencies(ROOT_FILES));
