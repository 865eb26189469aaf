/**
 * Access logs, where Istio puts them: on every HTTP connection manager and TCP proxy of a proxy's
 * listeners (not on the blackhole chains that guard the capture ports), and on every listener
 * itself for connections no filter chain takes (response flag NR). Outbound and gateway
 * listeners log as the CLIENT, inbound listeners as the SERVER (model/telemetry.ts decides what
 * each side writes). The format is Istio's default unless the mesh config or provider gives one.
 */
import type { MeshModel } from "../model/ir.js";
import type { ProxyView } from "../model/proxy.js";
import { accessLogSinks, type AccessLogSink, type WorkloadMode } from "../model/telemetry.js";
import type { AccessLogFilterJson, AccessLogJson, FilterChainJson, FilterJson, ListenerJson } from "./envoy.js";
import { typed } from "./envoy.js";

/** Istio's default text format (Istio 1.9 and later): the request, response code and flags, bytes, timing, and where it went. */
export const ISTIO_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% ' +
  '%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% ' +
  "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/** Istio's default JSON fields (accessLogEncoding JSON), the same operators as the text format. */
export const ISTIO_JSON_FORMAT: Readonly<Record<string, string>> = {
  authority: "%REQ(:AUTHORITY)%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
  connection_termination_details: "%CONNECTION_TERMINATION_DETAILS%",
  downstream_local_address: "%DOWNSTREAM_LOCAL_ADDRESS%",
  downstream_remote_address: "%DOWNSTREAM_REMOTE_ADDRESS%",
  duration: "%DURATION%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
  protocol: "%PROTOCOL%",
  request_id: "%REQ(X-REQUEST-ID)%",
  requested_server_name: "%REQUESTED_SERVER_NAME%",
  response_code: "%RESPONSE_CODE%",
  response_code_details: "%RESPONSE_CODE_DETAILS%",
  response_flags: "%RESPONSE_FLAGS%",
  route_name: "%ROUTE_NAME%",
  start_time: "%START_TIME%",
  upstream_cluster: "%UPSTREAM_CLUSTER_RAW%",
  upstream_host: "%UPSTREAM_HOST%",
  upstream_local_address: "%UPSTREAM_LOCAL_ADDRESS%",
  upstream_service_time: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
  upstream_transport_failure_reason: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
  user_agent: "%REQ(USER-AGENT)%",
  x_forwarded_for: "%REQ(X-FORWARDED-FOR)%",
};

const HCM = "envoy.filters.network.http_connection_manager";
const TCP_PROXY = "envoy.filters.network.tcp_proxy";
const CEL_FILTER = "envoy.access_loggers.extension_filters.cel";
/** Listener-level logs only for connections no filter chain matched (Istio's listener access log). */
const NO_ROUTE: AccessLogFilterJson = { responseFlagFilter: { flags: ["NR"] } };

/** One sink as Envoy's file access logger. */
export function fileAccessLog(sink: AccessLogSink, extraFilter?: AccessLogFilterJson): AccessLogJson {
  // Istio ends every text format with a newline, adding one where the user left it out.
  const text = sink.format && "text" in sink.format ? (sink.format.text.endsWith("\n") ? sink.format.text : `${sink.format.text}\n`) : undefined;
  const labels = sink.format && "labels" in sink.format ? sink.format.labels : sink.encoding === "JSON" && !text ? ISTIO_JSON_FORMAT : undefined;
  const omit = sink.omitEmptyValues ? { omitEmptyValues: true } : {};
  const logFormat = labels
    ? { jsonFormat: sortedObject(labels), jsonFormatOptions: { sortProperties: false }, ...omit }
    : { textFormatSource: { inlineString: text ?? ISTIO_TEXT_FORMAT }, ...omit };
  const filters: AccessLogFilterJson[] = [
    ...(extraFilter ? [extraFilter] : []),
    ...(sink.filter !== undefined
      ? [
          {
            extensionFilter: {
              name: CEL_FILTER,
              typedConfig: typed("envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter", { expression: sink.filter }),
            },
          },
        ]
      : []),
  ];
  const filter = filters.length > 1 ? { andFilter: { filters } } : filters[0];
  return {
    name: "envoy.access_loggers.file",
    ...(filter ? { filter } : {}),
    typedConfig: typed("envoy.extensions.access_loggers.file.v3.FileAccessLog", { path: sink.path, logFormat }),
  };
}

function sortedObject(o: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]!]),
  );
}

interface SideLogs {
  readonly filters: readonly AccessLogJson[];
  readonly listener: readonly AccessLogJson[];
}

function sideLogs(sinks: readonly AccessLogSink[]): SideLogs {
  return { filters: sinks.map((s) => fileAccessLog(s)), listener: sinks.map((s) => fileAccessLog(s, NO_ROUTE)) };
}

/**
 * `listeners` with the access logs `proxy` writes. Unchanged (the same array) when it writes none,
 * so a mesh without access logging costs nothing here.
 */
export function withAccessLogs(listeners: readonly ListenerJson[], mesh: MeshModel, proxy: ProxyView): readonly ListenerJson[] {
  const settings = mesh.meshConfig ?? {};
  const logsFor = (mode: WorkloadMode): SideLogs => sideLogs(accessLogSinks(mesh.telemetries, settings, proxy.namespace, proxy.labels, mode));
  const client = logsFor("CLIENT");
  const server = proxy.type === "router" ? client : logsFor("SERVER");
  if (client.filters.length === 0 && server.filters.length === 0) return listeners;
  return listeners.map((l) => withListenerLogs(l, l.trafficDirection === "INBOUND" && proxy.type === "sidecar" ? server : client));
}

function withListenerLogs(l: ListenerJson, logs: SideLogs): ListenerJson {
  if (logs.filters.length === 0) return l;
  return {
    ...l,
    ...(l.filterChains ? { filterChains: l.filterChains.map((c) => withChainLogs(c, logs.filters)) } : {}),
    ...(l.defaultFilterChain ? { defaultFilterChain: withChainLogs(l.defaultFilterChain, logs.filters) } : {}),
    accessLog: [...(l.accessLog ?? []), ...logs.listener],
  };
}

function withChainLogs(c: FilterChainJson, logs: readonly AccessLogJson[]): FilterChainJson {
  // The chains that refuse connections to the capture ports themselves log nothing, as in Istio.
  if (c.name?.endsWith("-blackhole")) return c;
  return { ...c, ...(c.filters ? { filters: c.filters.map((f) => withFilterLogs(f, logs)) } : {}) };
}

function withFilterLogs(f: FilterJson, logs: readonly AccessLogJson[]): FilterJson {
  if ((f.name !== HCM && f.name !== TCP_PROXY) || !f.typedConfig) return f;
  const config = f.typedConfig as { accessLog?: AccessLogJson[] };
  return { ...f, typedConfig: { ...f.typedConfig, accessLog: [...(config.accessLog ?? []), ...logs] } as typeof f.typedConfig };
}
