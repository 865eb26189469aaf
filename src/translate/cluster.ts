import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { ServicePortModel } from "../model/ir.js";
import type { InboundPortScope } from "../model/inbound.js";
import type { IngressEndpoint } from "../model/sidecar-scope.js";
import {
  BLACKHOLE_CLUSTER,
  INBOUND_PASSTHROUGH_BIND_IPV4,
  INBOUND_PASSTHROUGH_CLUSTER,
  inboundClusterName,
  istioConfigPath,
  outboundSniName,
  PASSTHROUGH_CLUSTER,
} from "../model/names.js";
import type { ClusterPolicy } from "../model/parsed.js";
import { deepFreeze } from "../api/equal.js";
import { isHttp2Protocol, isHttpProtocol } from "../model/protocol.js";
import type { ClusterScope, ServiceScope } from "../model/scope.js";
import type { ClusterJson } from "./envoy.js";
import { ADS_CONFIG_SOURCE, HTTP_PROTOCOL_OPTIONS_KEY, MAX_UINT32, typed } from "./envoy.js";
import { durationWholeSeconds, protoDuration } from "./duration.js";
import { usesLocalityWeights } from "./endpoints.js";
import { entryDiscovery } from "./service-entry-cluster.js";
import { autoMtlsMatches, upstreamTls, type TlsTarget, type UpstreamTls } from "./tls.js";
import { OWN_BYTES } from "./assignment-bytes.js";
import { clusterBytes, type ClusterTemplate, type EncodeSame } from "./cluster-bytes.js";

const DEFAULT_CONNECT_TIMEOUT = "10s";

type LbFields = Pick<ClusterJson, "lbPolicy" | "ringHashLbConfig" | "maglevLbConfig" | "type" | "roundRobinLbConfig" | "leastRequestLbConfig">;

/** DestinationRule `loadBalancer` → Envoy's policy; Istio's default is LEAST_REQUEST. */
function loadBalancer(policy: ClusterPolicy | undefined): LbFields {
  const lb = policy?.loadBalancer;
  if (lb?.consistentHash) {
    const ch = lb.consistentHash;
    if (ch.maglev) return { lbPolicy: "MAGLEV", ...(ch.maglev.tableSize ? { maglevLbConfig: { tableSize: String(ch.maglev.tableSize) } } : {}) };
    const ring = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? (ch.ringHash ? 0 : 1024);
    return { lbPolicy: "RING_HASH", ...(ring ? { ringHashLbConfig: { minimumRingSize: String(ring) } } : {}) };
  }
  // warmupDurationSecs: new endpoints ramp up over the window (Envoy's slow start), for the two
  // policies that support it, as in Istio.
  const slowStart = lb?.warmupDurationSecs ? { slowStartConfig: { slowStartWindow: protoDuration(lb.warmupDurationSecs) } } : undefined;
  switch (lb?.simple) {
    case "ROUND_ROBIN":
      return { lbPolicy: "ROUND_ROBIN", ...(slowStart ? { roundRobinLbConfig: slowStart } : {}) };
    case "RANDOM":
      return { lbPolicy: "RANDOM" };
    case "PASSTHROUGH":
      return { lbPolicy: "CLUSTER_PROVIDED", type: "ORIGINAL_DST" };
    default:
      return { lbPolicy: "LEAST_REQUEST", ...(slowStart ? { leastRequestLbConfig: slowStart } : {}) };
  }
}

/** connectionPool → circuit breaker thresholds; unset means Envoy's effectively-unlimited max, as Istio sends. */
function circuitBreakers(policy: ClusterPolicy | undefined): ClusterJson["circuitBreakers"] {
  const cp = policy?.connectionPool;
  // Most clusters set no pool limits: one frozen object for all of them (the encoder keeps its bytes).
  if (!cp?.tcp?.maxConnections && !cp?.http?.http1MaxPendingRequests && !cp?.http?.http2MaxRequests && !cp?.http?.maxRetries)
    return (unlimited ??= deepFreeze(unlimitedUnless(undefined)));
  return unlimitedUnless(cp);
}

let unlimited: ClusterJson["circuitBreakers"];

function unlimitedUnless(cp: NonNullable<ClusterPolicy>["connectionPool"]): ClusterJson["circuitBreakers"] {
  return {
    thresholds: [
      {
        maxConnections: cp?.tcp?.maxConnections || MAX_UINT32,
        maxPendingRequests: cp?.http?.http1MaxPendingRequests || MAX_UINT32,
        maxRequests: cp?.http?.http2MaxRequests || MAX_UINT32,
        maxRetries: cp?.http?.maxRetries || MAX_UINT32,
        trackRemaining: true,
      },
    ],
  };
}

function outlierDetection(policy: ClusterPolicy | undefined): Pick<ClusterJson, "outlierDetection"> {
  const od = policy?.outlierDetection;
  if (!od) return {};
  return {
    outlierDetection: {
      enforcingSuccessRate: 0,
      ...(od.consecutive5xxErrors !== undefined ? { consecutive5xx: od.consecutive5xxErrors, enforcingConsecutive5xx: od.consecutive5xxErrors ? 100 : 0 } : {}),
      ...(od.consecutiveGatewayErrors !== undefined
        ? { consecutiveGatewayFailure: od.consecutiveGatewayErrors, enforcingConsecutiveGatewayFailure: od.consecutiveGatewayErrors ? 100 : 0 }
        : {}),
      ...(od.interval ? { interval: protoDuration(od.interval) } : {}),
      ...(od.baseEjectionTime ? { baseEjectionTime: protoDuration(od.baseEjectionTime) } : {}),
      ...(od.maxEjectionPercent ? { maxEjectionPercent: od.maxEjectionPercent } : {}),
      // As in Istio: local-origin failures count only when split out, and only a positive limit is set.
      ...(od.splitExternalLocalOriginErrors
        ? {
            splitExternalLocalOriginErrors: true,
            ...(od.consecutiveLocalOriginFailures
              ? { consecutiveLocalOriginFailure: od.consecutiveLocalOriginFailures, enforcingConsecutiveLocalOriginFailure: 100 }
              : {}),
            enforcingLocalOriginSuccessRate: 0,
          }
        : {}),
    },
  };
}

/** Whether the cluster speaks HTTP/2 upstream: h2 ports, or h2UpgradePolicy UPGRADE. */
function usesH2(port: ServicePortModel, policy: ClusterPolicy | undefined): boolean {
  const http = policy?.connectionPool?.http;
  return (isHttp2Protocol(port.protocol) || http?.h2UpgradePolicy === "UPGRADE") && http?.h2UpgradePolicy !== "DO_NOT_UPGRADE" && !http?.useClientProtocol;
}

/** connectionPool's per-connection HTTP settings (Envoy's common HTTP protocol options). */
function commonHttpOptions(policy: ClusterPolicy | undefined): JsonObject {
  const http = policy?.connectionPool?.http;
  const tcp = policy?.connectionPool?.tcp;
  const idle = http?.idleTimeout ?? tcp?.idleTimeout;
  return {
    ...(idle ? { idleTimeout: protoDuration(idle) } : {}),
    ...(http?.maxRequestsPerConnection ? { maxRequestsPerConnection: http.maxRequestsPerConnection } : {}),
    ...(tcp?.maxConnectionDuration ? { maxConnectionDuration: protoDuration(tcp.maxConnectionDuration) } : {}),
  };
}

function protocolOptions(
  h2: boolean,
  policy: ClusterPolicy | undefined,
  tls: Pick<UpstreamTls, "autoSni" | "autoSanValidation">,
): Pick<ClusterJson, "typedExtensionProtocolOptions"> {
  const http = policy?.connectionPool?.http;
  const common = commonHttpOptions(policy);
  const upstream = tls.autoSni ? { upstreamHttpProtocolOptions: { autoSni: true, ...(tls.autoSanValidation ? { autoSanValidation: true } : {}) } } : {};
  if (!h2 && !http?.useClientProtocol && Object.keys(common).length === 0 && !tls.autoSni) return {};
  const h2Options = http?.maxConcurrentStreams ? { maxConcurrentStreams: http.maxConcurrentStreams } : {};
  return {
    typedExtensionProtocolOptions: {
      [HTTP_PROTOCOL_OPTIONS_KEY]: typed("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", {
        ...(Object.keys(common).length ? { commonHttpProtocolOptions: common } : {}),
        ...upstream,
        ...(http?.useClientProtocol
          ? { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: h2Options } }
          : h2
            ? { explicitHttpConfig: { http2ProtocolOptions: h2Options } }
            : { explicitHttpConfig: { httpProtocolOptions: {} } }),
      }),
    },
  };
}

/** connectionPool's per-connection TCP settings: connect timeout, circuit breakers, keepalive. */
function connectionSettings(policy: ClusterPolicy | undefined): Pick<ClusterJson, "connectTimeout" | "circuitBreakers" | "upstreamConnectionOptions"> {
  const keepalive = policy?.connectionPool?.tcp?.tcpKeepalive;
  return {
    connectTimeout: policy?.connectionPool?.tcp?.connectTimeout ? protoDuration(policy.connectionPool.tcp.connectTimeout) : DEFAULT_CONNECT_TIMEOUT,
    circuitBreakers: circuitBreakers(policy),
    ...(keepalive
      ? {
          upstreamConnectionOptions: {
            tcpKeepalive: {
              ...(keepalive.probes ? { keepaliveProbes: keepalive.probes } : {}),
              ...(keepalive.time ? { keepaliveTime: durationWholeSeconds(keepalive.time) } : {}),
              ...(keepalive.interval ? { keepaliveInterval: durationWholeSeconds(keepalive.interval) } : {}),
            },
          },
        }
      : {}),
  };
}

/**
 * An outbound EDS cluster for a service port, or one of its DestinationRule subsets.
 * `forRouter`: for a gateway, which intercepts nothing, so a headless Service has no original
 * destination to pass through to; as Istio, its endpoints come by EDS instead.
 */
export function outboundCluster(
  service: ServiceScope,
  cluster: ClusterScope,
  report?: (problem: string) => void,
  onTls?: (tls: UpstreamTls) => void,
  forRouter = false,
): ClusterJson {
  const { name, port, policy, subset } = cluster;
  const svc = service.service;
  const rule = service.rule;
  const discovery = entryDiscovery(svc, cluster);
  const target: TlsTarget = {
    istioSni: outboundSniName(port.port, subset, svc.hostname),
    h2: usesH2(port, policy),
    ...(service.mtls ? { identities: service.mtls.identities } : {}),
  };
  const tls = upstreamTls(policy?.tls, target, isHttpProtocol(port.protocol), cluster.credential);
  // As Istio: auto mTLS only where the rule says nothing about TLS.
  const auto = !policy?.tls && service.mtls?.auto === true;
  if (tls.dropped) report?.(`${name}: ${tls.dropped}`);
  onTls?.(tls);
  // Built by assignment, in the order the JSON keeps: a view has thousands of these, and each
  // conditional spread would be a temporary object more for the collector.
  const istioMeta: JsonObject = { services: servicesEntry(svc) };
  if (rule) istioMeta["config"] = istioConfigPath("destination-rule", rule.namespace, rule.name);
  if (subset) istioMeta["subset"] = subset;
  // A headless Service has no VIP to balance behind: as Istio, the sidecar connects where the client dialled (a pod's address).
  const lbKind = discovery ? discovery.lbPolicy : svc.clusterIP === "None" && !forRouter ? HEADLESS : undefined;
  const template = clusterTemplate(policy, lbKind, target.h2, tls);
  const out: ClusterJson = { name };
  if (discovery) Object.assign(out, discovery);
  else {
    out.type = template.type;
    if (template.type !== "ORIGINAL_DST") out.edsClusterConfig = { serviceName: name, edsConfig: ADS_CONFIG_SOURCE };
  }
  const fields = template.fields as Record<string, unknown>;
  for (const key of template.keys) (out as Record<string, unknown>)[key] = fields[key];
  if (tls.transportSocket) out.transportSocket = tls.transportSocket;
  if (auto) out.transportSocketMatches = autoMtlsMatches(target);
  out.metadata = { filterMetadata: { istio: istioMeta } };
  // A discovered (ServiceEntry) cluster's own fields are most of it: the JSON is encoded.
  if (!discovery) Object.defineProperty(out, OWN_BYTES, { value: template.own });
  return out;
}

/** Per service, its clusters' `istio.services` metadata: one frozen list, whose bytes cluster-bytes.ts keeps. */
const servicesEntries = new WeakMap<ServiceScope["service"], JsonValue[]>();

function servicesEntry(svc: ServiceScope["service"]): JsonValue[] {
  let entry = servicesEntries.get(svc);
  if (entry === undefined) servicesEntries.set(svc, (entry = deepFreeze([{ host: svc.hostname, name: svc.name, namespace: svc.namespace }])));
  return entry;
}

/** `lbKind` of a headless Service's cluster (for a sidecar): the connection's original destination. */
const HEADLESS = "headless";

interface OutboundTemplate extends ClusterTemplate {
  /** The discovery type of an EDS or original-destination cluster. */
  readonly type: "EDS" | "ORIGINAL_DST";
  /** The JSON keys the template sets after the discovery fields, in the JSON's order. */
  readonly keys: readonly string[];
  /** Its clusters' OWN_BYTES: called on the cluster, one function for all of them. */
  readonly own: (this: ClusterJson, encode: EncodeSame) => Uint8Array | undefined;
}

/** Per policy (and NO_POLICY), the templates of its clusters by what else they depend on. */
const templates = new WeakMap<object, Map<string, OutboundTemplate>>();
const NO_POLICY = {};

/**
 * What an outbound cluster's JSON holds that depends on its policy, its load balancing kind (the
 * policy's, a headless Service's, or a discovered cluster's `lbPolicy`), HTTP/2 upstream and the
 * TLS settings' SNI flags only: one template (and its objects) for every cluster of them.
 */
function clusterTemplate(policy: ClusterPolicy | undefined, lbKind: string | undefined, h2: boolean, tls: UpstreamTls): OutboundTemplate {
  let byKey = templates.get(policy ?? NO_POLICY);
  if (!byKey) templates.set(policy ?? NO_POLICY, (byKey = new Map()));
  const key = `${lbKind ?? ""}|${h2 ? 1 : 0}${tls.autoSni ? 1 : 0}${tls.autoSanValidation ? 1 : 0}`;
  let t = byKey.get(key);
  if (t === undefined) {
    t = makeTemplate(policy, lbKind, h2, tls);
    byKey.set(key, t);
  }
  return t;
}

function makeTemplate(policy: ClusterPolicy | undefined, lbKind: string | undefined, h2: boolean, tls: UpstreamTls): OutboundTemplate {
  const lb: LbFields =
    lbKind === HEADLESS
      ? { lbPolicy: "CLUSTER_PROVIDED", type: "ORIGINAL_DST" }
      : lbKind !== undefined
        ? { lbPolicy: lbKind as LbFields["lbPolicy"] }
        : loadBalancer(policy);
  const type = lb.type === "ORIGINAL_DST" ? "ORIGINAL_DST" : "EDS";
  const { connectTimeout, circuitBreakers: thresholds, upstreamConnectionOptions } = connectionSettings(policy);
  const fields: Record<string, unknown> = {};
  fields["connectTimeout"] = connectTimeout;
  fields["lbPolicy"] = lb.lbPolicy;
  if (lb.ringHashLbConfig) fields["ringHashLbConfig"] = lb.ringHashLbConfig;
  if (lb.maglevLbConfig) fields["maglevLbConfig"] = lb.maglevLbConfig;
  if (lb.roundRobinLbConfig) fields["roundRobinLbConfig"] = lb.roundRobinLbConfig;
  if (lb.leastRequestLbConfig) fields["leastRequestLbConfig"] = lb.leastRequestLbConfig;
  fields["circuitBreakers"] = thresholds;
  const od = outlierDetection(policy).outlierDetection;
  if (od) fields["outlierDetection"] = od;
  fields["commonLbConfig"] = commonLbConfig(policy);
  if (upstreamConnectionOptions) fields["upstreamConnectionOptions"] = upstreamConnectionOptions;
  const options = protocolOptions(h2, policy, tls).typedExtensionProtocolOptions;
  if (options) fields["typedExtensionProtocolOptions"] = options;
  const keys = Object.keys(fields);
  // The bytes hold the discovery type too; a discovered cluster's is its own (and it has no bytes of its own).
  const withType: Record<string, unknown> = { type, ...fields };
  const template: OutboundTemplate = {
    type,
    keys,
    fields: withType,
    size: keys.length + 1,
    own(this: ClusterJson, encode: EncodeSame) {
      return clusterBytes(this, template, encode);
    },
  };
  return template;
}

const NO_COMMON_LB_CONFIG: NonNullable<ClusterJson["commonLbConfig"]> = Object.freeze({});

function commonLbConfig(policy: ClusterPolicy | undefined): ClusterJson["commonLbConfig"] {
  const localityWeights = usesLocalityWeights(policy);
  if (!policy?.outlierDetection && !localityWeights) return NO_COMMON_LB_CONFIG;
  const out: NonNullable<ClusterJson["commonLbConfig"]> = {};
  // With outlierDetection Istio always writes the panic threshold: minHealthPercent, default 0
  // (panic mode off, so ejected hosts are not used again while others are healthy).
  if (policy?.outlierDetection) out.healthyPanicThreshold = { value: policy.outlierDetection.minHealthPercent ?? 0 };
  // Locality weights and failover priorities in the CLA take effect only with this (Istio sets it likewise).
  if (localityWeights) out.localityWeightedLbConfig = {};
  return out;
}

/** Where unmatched or blocked traffic goes. */
export function blackHoleCluster(): ClusterJson {
  return { name: BLACKHOLE_CLUSTER, type: "STATIC", connectTimeout: DEFAULT_CONNECT_TIMEOUT };
}

/** Traffic to destinations outside the registry keeps its original destination (ALLOW_ANY). */
export function passthroughCluster(): ClusterJson {
  return {
    name: PASSTHROUGH_CLUSTER,
    type: "ORIGINAL_DST",
    connectTimeout: DEFAULT_CONNECT_TIMEOUT,
    lbPolicy: "CLUSTER_PROVIDED",
    circuitBreakers: circuitBreakers(undefined),
    typedExtensionProtocolOptions: {
      [HTTP_PROTOCOL_OPTIONS_KEY]: typed("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", {
        useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      }),
    },
  };
}

/**
 * Inbound clusters reach the application at the connection's original destination (the pod's
 * own address and port), from 127.0.0.6: the capture rules let that source through, so Envoy's
 * connection to the application is not captured again (Istio's default inboundTrafficPolicy
 * PASSTHROUGH).
 */
function toApplication(name: string, policy?: ClusterPolicy): ClusterJson {
  const { connectTimeout, circuitBreakers: thresholds, upstreamConnectionOptions } = connectionSettings(policy);
  return {
    name,
    type: "ORIGINAL_DST",
    connectTimeout,
    lbPolicy: "CLUSTER_PROVIDED",
    circuitBreakers: thresholds,
    ...(upstreamConnectionOptions ? { upstreamConnectionOptions } : {}),
    upstreamBindConfig: { sourceAddress: { address: INBOUND_PASSTHROUGH_BIND_IPV4, portValue: 0 } },
  };
}

function toStatic(name: string, address: JsonObject, policy: ClusterPolicy | undefined): ClusterJson {
  const { connectTimeout, circuitBreakers: thresholds, upstreamConnectionOptions } = connectionSettings(policy);
  return {
    name,
    type: "STATIC",
    connectTimeout,
    lbPolicy: "LEAST_REQUEST",
    circuitBreakers: thresholds,
    ...(upstreamConnectionOptions ? { upstreamConnectionOptions } : {}),
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address } }] }] },
  };
}

/**
 * Where a Sidecar ingress `defaultEndpoint` sends the port's connections. Istio sends
 * `0.0.0.0:<port>` to the pod's own IP on that port; the connection's original destination is
 * that IP, so the port is overridden there, and proxies of one view need not know their IP.
 * Loopback and unix socket targets are not captured, so they need no 127.0.0.6 source.
 */
function toEndpoint(name: string, endpoint: IngressEndpoint, policy: ClusterPolicy | undefined): ClusterJson {
  switch (endpoint.kind) {
    case "original":
      return toApplication(name, policy);
    case "pod":
      return { ...toApplication(name, policy), originalDstLbConfig: { upstreamPortOverride: endpoint.port } };
    case "loopback":
      return toStatic(name, { socketAddress: { address: endpoint.address, portValue: endpoint.port } }, policy);
    case "unix":
      return toStatic(name, { pipe: { path: endpoint.path } }, policy);
  }
}

/** `inbound|<targetPort>||`: a workload port of the proxy's own application. */
export function inboundCluster(port: InboundPortScope): ClusterJson {
  const svc = port.service;
  const name = inboundClusterName(port.targetPort);
  const policy: ClusterPolicy | undefined = port.connectionPool ? { connectionPool: port.connectionPool } : undefined;
  const common = commonHttpOptions(policy);
  const upstream = port.detected
    ? { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } }
    : isHttp2Protocol(port.protocol)
      ? { explicitHttpConfig: { http2ProtocolOptions: {} } }
      : Object.keys(common).length
        ? { explicitHttpConfig: { httpProtocolOptions: {} } }
        : undefined;
  const http = upstream ? { ...(Object.keys(common).length ? { commonHttpProtocolOptions: common } : {}), ...upstream } : undefined;
  return {
    ...toEndpoint(name, port.endpoint, policy),
    ...(http ? { typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: typed("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", http) } } : {}),
    metadata: { filterMetadata: { istio: { services: [{ host: svc.hostname, name: svc.name, namespace: svc.namespace }] } } },
  };
}

/** Inbound connections to ports no Service names still reach the application. */
export function inboundPassthroughCluster(): ClusterJson {
  return toApplication(INBOUND_PASSTHROUGH_CLUSTER);
}
