/**
 * The field list of networking.istio.io VirtualService and DestinationRule (Istio 1.28), used to reject
 * unknown fields and wrong JSON types the way Istio does, before the semantic checks run. Fields Istio
 * accepts but meshpilot does not act on are listed as `notImplemented`: they produce a warning, not an error.
 */
import { Codes } from "./codes.js";
import { durationError, type DurationRule } from "./duration.js";
import type { Issues } from "./issues.js";
import { describe } from "./validate-names.js";

export type FieldType =
  | { readonly t: "string" }
  | { readonly t: "bool" }
  | { readonly t: "int32" }
  | { readonly t: "uint32" }
  | { readonly t: "uint64" }
  | { readonly t: "double" }
  | { readonly t: "duration"; readonly rule: DurationRule }
  | { readonly t: "enum"; readonly values: readonly string[] }
  | { readonly t: "message"; readonly of: () => MessageSchema }
  | { readonly t: "list"; readonly of: FieldType }
  | { readonly t: "map"; readonly of: FieldType }
  /** Any map, not looked into (a field that is reported as not implemented). */
  | { readonly t: "object" };

export interface MessageSchema {
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldType>>;
  /** Groups of fields of which at most one may be set (protobuf oneofs). */
  readonly oneofs?: readonly (readonly string[])[];
  /** Accepted by Istio, ignored by meshpilot (for now): reported as a warning. */
  readonly notImplemented?: Readonly<Record<string, string>>;
  /** The API named in messages; default "Istio". */
  readonly api?: string;
}

const str: FieldType = { t: "string" };
const bool: FieldType = { t: "bool" };
const int32: FieldType = { t: "int32" };
const uint32: FieldType = { t: "uint32" };
const uint64: FieldType = { t: "uint64" };
const double: FieldType = { t: "double" };
const dur = (rule: DurationRule = "istio"): FieldType => ({ t: "duration", rule });
const enm = (...values: string[]): FieldType => ({ t: "enum", values });
const msg = (of: () => MessageSchema): FieldType => ({ t: "message", of });
const list = (of: FieldType): FieldType => ({ t: "list", of });
const map = (of: FieldType): FieldType => ({ t: "map", of });

// ---- shared ----------------------------------------------------------------------------------
export const StringMatchSchema: MessageSchema = {
  name: "StringMatch",
  fields: { exact: str, prefix: str, regex: str },
  oneofs: [["exact", "prefix", "regex"]],
};
const PortSelectorSchema: MessageSchema = { name: "PortSelector", fields: { number: uint32 } };
const PercentSchema: MessageSchema = { name: "Percent", fields: { value: double } };
const DestinationSchema: MessageSchema = { name: "Destination", fields: { host: str, subset: str, port: msg(() => PortSelectorSchema) } };
const HeaderOperationsSchema: MessageSchema = { name: "HeaderOperations", fields: { set: map(str), add: map(str), remove: list(str) } };
const HeadersSchema: MessageSchema = {
  name: "Headers",
  fields: { request: msg(() => HeaderOperationsSchema), response: msg(() => HeaderOperationsSchema) },
};

// ---- VirtualService --------------------------------------------------------------------------
const HTTPMatchRequestSchema: MessageSchema = {
  name: "HTTPMatchRequest",
  fields: {
    name: str,
    uri: msg(() => StringMatchSchema),
    scheme: msg(() => StringMatchSchema),
    method: msg(() => StringMatchSchema),
    authority: msg(() => StringMatchSchema),
    headers: map(msg(() => StringMatchSchema)),
    port: uint32,
    sourceLabels: map(str),
    gateways: list(str),
    queryParams: map(msg(() => StringMatchSchema)),
    ignoreUriCase: bool,
    withoutHeaders: map(msg(() => StringMatchSchema)),
    sourceNamespace: str,
    statPrefix: str,
  },
};
const HTTPRouteDestinationSchema: MessageSchema = {
  name: "HTTPRouteDestination",
  fields: { destination: msg(() => DestinationSchema), weight: int32, headers: msg(() => HeadersSchema) },
};
const RouteDestinationSchema: MessageSchema = {
  name: "RouteDestination",
  fields: { destination: msg(() => DestinationSchema), weight: int32 },
};
const HTTPRedirectSchema: MessageSchema = {
  name: "HTTPRedirect",
  fields: { uri: str, authority: str, port: uint32, derivePort: enm("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"), scheme: str, redirectCode: uint32 },
  oneofs: [["port", "derivePort"]],
};
const HTTPBodySchema: MessageSchema = { name: "HTTPBody", fields: { string: str, bytes: str }, oneofs: [["string", "bytes"]] };
const HTTPDirectResponseSchema: MessageSchema = { name: "HTTPDirectResponse", fields: { status: uint32, body: msg(() => HTTPBodySchema) } };
const DelegateSchema: MessageSchema = { name: "Delegate", fields: { name: str, namespace: str } };
const RegexRewriteSchema: MessageSchema = { name: "RegexRewrite", fields: { match: str, rewrite: str } };
const HTTPRewriteSchema: MessageSchema = {
  name: "HTTPRewrite",
  fields: { uri: str, authority: str, uriRegexRewrite: msg(() => RegexRewriteSchema) },
};
const HTTPRetrySchema: MessageSchema = {
  name: "HTTPRetry",
  fields: { attempts: int32, perTryTimeout: dur(), retryOn: str, retryRemoteLocalities: bool, retryIgnorePreviousHosts: bool, backoff: dur() },
};
const CorsPolicySchema: MessageSchema = {
  name: "CorsPolicy",
  fields: {
    allowOrigin: list(str),
    allowOrigins: list(msg(() => StringMatchSchema)),
    allowMethods: list(str),
    allowHeaders: list(str),
    exposeHeaders: list(str),
    maxAge: dur("seconds"),
    allowCredentials: bool,
    unmatchedPreflights: enm("UNSPECIFIED", "FORWARD", "IGNORE"),
  },
  notImplemented: { allowOrigin: "deprecated; use allowOrigins" },
};
const DelaySchema: MessageSchema = {
  name: "HTTPFaultInjection.Delay",
  fields: { fixedDelay: dur(), exponentialDelay: dur(), percentage: msg(() => PercentSchema), percent: int32 },
  oneofs: [["fixedDelay", "exponentialDelay"]],
};
const AbortSchema: MessageSchema = {
  name: "HTTPFaultInjection.Abort",
  fields: { httpStatus: int32, grpcStatus: str, http2Error: str, percentage: msg(() => PercentSchema) },
  oneofs: [["httpStatus", "grpcStatus", "http2Error"]],
};
const HTTPFaultInjectionSchema: MessageSchema = {
  name: "HTTPFaultInjection",
  fields: { delay: msg(() => DelaySchema), abort: msg(() => AbortSchema) },
};
const HTTPMirrorPolicySchema: MessageSchema = {
  name: "HTTPMirrorPolicy",
  fields: { destination: msg(() => DestinationSchema), percentage: msg(() => PercentSchema) },
};
const HTTPRouteSchema: MessageSchema = {
  name: "HTTPRoute",
  fields: {
    name: str,
    match: list(msg(() => HTTPMatchRequestSchema)),
    route: list(msg(() => HTTPRouteDestinationSchema)),
    redirect: msg(() => HTTPRedirectSchema),
    directResponse: msg(() => HTTPDirectResponseSchema),
    delegate: msg(() => DelegateSchema),
    rewrite: msg(() => HTTPRewriteSchema),
    timeout: dur(),
    retries: msg(() => HTTPRetrySchema),
    fault: msg(() => HTTPFaultInjectionSchema),
    mirror: msg(() => DestinationSchema),
    mirrors: list(msg(() => HTTPMirrorPolicySchema)),
    mirrorPercent: uint32,
    mirrorPercentage: msg(() => PercentSchema),
    corsPolicy: msg(() => CorsPolicySchema),
    headers: msg(() => HeadersSchema),
  },
  notImplemented: { mirrorPercent: "deprecated; use mirrorPercentage" },
};
const L4MatchAttributesSchema: MessageSchema = {
  name: "L4MatchAttributes",
  fields: { destinationSubnets: list(str), port: uint32, sourceLabels: map(str), gateways: list(str), sourceNamespace: str },
};
const TLSMatchAttributesSchema: MessageSchema = {
  name: "TLSMatchAttributes",
  fields: { sniHosts: list(str), destinationSubnets: list(str), port: uint32, sourceLabels: map(str), gateways: list(str), sourceNamespace: str },
};
const TCPRouteSchema: MessageSchema = {
  name: "TCPRoute",
  fields: { match: list(msg(() => L4MatchAttributesSchema)), route: list(msg(() => RouteDestinationSchema)) },
};
const TLSRouteSchema: MessageSchema = {
  name: "TLSRoute",
  fields: { match: list(msg(() => TLSMatchAttributesSchema)), route: list(msg(() => RouteDestinationSchema)) },
};
export const VirtualServiceSpecSchema: MessageSchema = {
  name: "VirtualService",
  fields: {
    hosts: list(str),
    gateways: list(str),
    http: list(msg(() => HTTPRouteSchema)),
    tls: list(msg(() => TLSRouteSchema)),
    tcp: list(msg(() => TCPRouteSchema)),
    exportTo: list(str),
  },
};

// ---- DestinationRule -------------------------------------------------------------------------
const HTTPCookieSchema: MessageSchema = {
  name: "HTTPCookie",
  fields: { name: str, path: str, ttl: dur("non-negative"), attributes: list(msg(() => CookieAttributeSchema)) },
  notImplemented: { attributes: "cookie attributes are not implemented" },
};
const CookieAttributeSchema: MessageSchema = { name: "HTTPCookie.Attribute", fields: { name: str, value: str } };
const ConsistentHashLBSchema: MessageSchema = {
  name: "ConsistentHashLB",
  fields: {
    httpHeaderName: str,
    httpCookie: msg(() => HTTPCookieSchema),
    useSourceIp: bool,
    httpQueryParameterName: str,
    ringHash: msg(() => ({ name: "RingHash", fields: { minimumRingSize: uint64 } })),
    maglev: msg(() => ({ name: "MagLev", fields: { tableSize: uint64 } })),
    minimumRingSize: uint64,
  },
  oneofs: [
    ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"],
    ["ringHash", "maglev"],
  ],
};
const LocalityLbSettingSchema: MessageSchema = {
  name: "LocalityLoadBalancerSetting",
  fields: {
    distribute: list(msg(() => ({ name: "LocalityLoadBalancerSetting.Distribute", fields: { from: str, to: map(uint32) } }))),
    failover: list(msg(() => ({ name: "LocalityLoadBalancerSetting.Failover", fields: { from: str, to: str } }))),
    failoverPriority: list(str),
    enabled: bool,
  },
};
const WarmupSchema: MessageSchema = { name: "WarmupConfiguration", fields: { duration: dur(), minimumPercent: double, aggression: double } };
export const SIMPLE_LB = ["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"] as const;
const LoadBalancerSettingsSchema: MessageSchema = {
  name: "LoadBalancerSettings",
  fields: {
    simple: enm(...SIMPLE_LB),
    consistentHash: msg(() => ConsistentHashLBSchema),
    localityLbSetting: msg(() => LocalityLbSettingSchema),
    warmupDurationSecs: dur("non-negative"),
    warmup: msg(() => WarmupSchema),
  },
  oneofs: [["simple", "consistentHash"]],
  notImplemented: { warmup: "use warmupDurationSecs" },
};
const TCPSettingsSchema: MessageSchema = {
  name: "ConnectionPoolSettings.TCPSettings",
  fields: {
    maxConnections: int32,
    connectTimeout: dur(),
    tcpKeepalive: msg(() => ({ name: "TCPSettings.TcpKeepalive", fields: { probes: uint32, time: dur(), interval: dur() } })),
    maxConnectionDuration: dur(),
    idleTimeout: dur("istio-or-zero"),
  },
};
const HTTPSettingsSchema: MessageSchema = {
  name: "ConnectionPoolSettings.HTTPSettings",
  fields: {
    http1MaxPendingRequests: int32,
    http2MaxRequests: int32,
    maxRequestsPerConnection: int32,
    maxRetries: int32,
    idleTimeout: dur(),
    h2UpgradePolicy: enm("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"),
    useClientProtocol: bool,
    maxConcurrentStreams: int32,
  },
};
const ConnectionPoolSchema: MessageSchema = {
  name: "ConnectionPoolSettings",
  fields: { tcp: msg(() => TCPSettingsSchema), http: msg(() => HTTPSettingsSchema) },
};
const OutlierDetectionSchema: MessageSchema = {
  name: "OutlierDetection",
  fields: {
    splitExternalLocalOriginErrors: bool,
    consecutiveLocalOriginFailures: uint32,
    consecutiveGatewayErrors: uint32,
    consecutive5xxErrors: uint32,
    interval: dur(),
    baseEjectionTime: dur(),
    maxEjectionPercent: int32,
    minHealthPercent: int32,
    consecutiveErrors: int32,
  },
  notImplemented: { consecutiveErrors: "deprecated; use consecutiveGatewayErrors or consecutive5xxErrors" },
};
const ClientTLSSettingsSchema: MessageSchema = {
  name: "ClientTLSSettings",
  fields: {
    mode: enm("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"),
    clientCertificate: str,
    privateKey: str,
    caCertificates: str,
    credentialName: str,
    subjectAltNames: list(str),
    sni: str,
    insecureSkipVerify: bool,
    caCrl: str,
  },
};
const PortTrafficPolicySchema: MessageSchema = {
  name: "TrafficPolicy.PortTrafficPolicy",
  fields: {
    port: msg(() => PortSelectorSchema),
    loadBalancer: msg(() => LoadBalancerSettingsSchema),
    connectionPool: msg(() => ConnectionPoolSchema),
    outlierDetection: msg(() => OutlierDetectionSchema),
    tls: msg(() => ClientTLSSettingsSchema),
  },
};
const TrafficPolicySchema: MessageSchema = {
  name: "TrafficPolicy",
  fields: {
    loadBalancer: msg(() => LoadBalancerSettingsSchema),
    connectionPool: msg(() => ConnectionPoolSchema),
    outlierDetection: msg(() => OutlierDetectionSchema),
    tls: msg(() => ClientTLSSettingsSchema),
    portLevelSettings: list(msg(() => PortTrafficPolicySchema)),
    tunnel: msg(() => ({ name: "TrafficPolicy.TunnelSettings", fields: { protocol: str, targetHost: str, targetPort: uint32 } })),
    proxyProtocol: msg(() => ({ name: "TrafficPolicy.ProxyProtocol", fields: { version: enm("V1", "V2") } })),
    retryBudget: msg(() => ({ name: "TrafficPolicy.RetryBudget", fields: { percent: double, minRetryConcurrency: uint32 } })),
  },
  notImplemented: {
    tunnel: "HTTP CONNECT tunneling is not implemented",
    proxyProtocol: "upstream PROXY protocol is not implemented",
    retryBudget: "retry budgets are not implemented",
  },
};
const SubsetSchema: MessageSchema = {
  name: "Subset",
  fields: { name: str, labels: map(str), trafficPolicy: msg(() => TrafficPolicySchema) },
};
export const DestinationRuleSpecSchema: MessageSchema = {
  name: "DestinationRule",
  fields: {
    host: str,
    trafficPolicy: msg(() => TrafficPolicySchema),
    subsets: list(msg(() => SubsetSchema)),
    exportTo: list(str),
    workloadSelector: msg(() => ({ name: "WorkloadSelector", fields: { matchLabels: map(str) } })),
  },
};

// ---- Sidecar ---------------------------------------------------------------------------------
const SidecarPortSchema: MessageSchema = { name: "SidecarPort", fields: { number: uint32, protocol: str, name: str, targetPort: uint32 } };
const CaptureMode = enm("DEFAULT", "IPTABLES", "NONE");
const ServerTLSSettingsSchema: MessageSchema = {
  name: "ServerTLSSettings",
  fields: {
    httpsRedirect: bool,
    mode: enm("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"),
    serverCertificate: str,
    privateKey: str,
    caCertificates: str,
    caCrl: str,
    credentialName: str,
    credentialNames: list(str),
    tlsCertificates: list(msg(() => ({ name: "ServerTLSSettings.TLSCertificate", fields: { serverCertificate: str, privateKey: str, caCertificates: str } }))),
    subjectAltNames: list(str),
    verifyCertificateSpki: list(str),
    verifyCertificateHash: list(str),
    minProtocolVersion: enm("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"),
    maxProtocolVersion: enm("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"),
    cipherSuites: list(str),
  },
};
export const SidecarSpecSchema: MessageSchema = {
  name: "Sidecar",
  fields: {
    workloadSelector: msg(() => ({ name: "WorkloadSelector", fields: { labels: map(str) } })),
    ingress: list(
      msg(() => ({
        name: "IstioIngressListener",
        fields: {
          port: msg(() => SidecarPortSchema),
          bind: str,
          captureMode: CaptureMode,
          defaultEndpoint: str,
          tls: msg(() => ServerTLSSettingsSchema),
          connectionPool: msg(() => ConnectionPoolSchema),
        },
      })),
    ),
    egress: list(
      msg(() => ({
        name: "IstioEgressListener",
        fields: { port: msg(() => SidecarPortSchema), bind: str, captureMode: CaptureMode, hosts: list(str) },
      })),
    ),
    inboundConnectionPool: msg(() => ConnectionPoolSchema),
    outboundTrafficPolicy: msg(() => ({
      name: "OutboundTrafficPolicy",
      fields: { mode: enm("REGISTRY_ONLY", "ALLOW_ANY"), egressProxy: msg(() => DestinationSchema) },
    })),
  },
};

// ---- walker ----------------------------------------------------------------------------------
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Check `value` against `schema`: unknown fields, JSON types, enum values, oneofs, duration syntax.
 * Null counts as unset (as protobuf JSON and the Kubernetes API treat it).
 */
export function checkMessage(value: unknown, schema: MessageSchema, issues: Issues): void {
  if (value === null || value === undefined) return;
  if (!isPlainObject(value)) {
    issues.error(`expected a map (${schema.api ?? "Istio"} ${schema.name}), got ${describe(value)}`);
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    const at = issues.at(key);
    const type = schema.fields[key];
    if (!type) {
      const hint = suggest(key, Object.keys(schema.fields));
      at.error(`unknown field "${key}" in ${schema.api ?? "Istio"} ${schema.name}${hint ? ` (did you mean "${hint}"?)` : ""}`);
      continue;
    }
    if (v === null || v === undefined) continue;
    const why = schema.notImplemented?.[key];
    if (why !== undefined) at.warning(`${schema.name}.${key} is accepted but ignored by meshpilot (${why})`, Codes.NotImplemented);
    checkField(v, type, at);
  }
  for (const group of schema.oneofs ?? []) {
    const set = group.filter((f) => value[f] !== null && value[f] !== undefined);
    if (set.length > 1) issues.error(`only one of ${group.join(", ")} may be set (found ${set.join(" and ")})`);
  }
}

function checkField(v: unknown, type: FieldType, at: Issues): void {
  switch (type.t) {
    case "string":
      if (typeof v !== "string") at.error(`expected a string, got ${describe(v)}`);
      return;
    case "bool":
      if (typeof v !== "boolean") at.error(`expected true or false, got ${describe(v)}`);
      return;
    case "int32":
      if (!isInt(v) || v < INT32_MIN || v > INT32_MAX) at.error(`expected a 32-bit integer, got ${describe(v)}`);
      return;
    case "uint32":
      if (!isInt(v) || v < 0 || v > UINT32_MAX) at.error(`expected a non-negative 32-bit integer, got ${describe(v)}`);
      return;
    case "uint64":
      if (!isInt(v) || v < 0) at.error(`expected a non-negative integer, got ${describe(v)}`);
      return;
    case "double":
      if (typeof v !== "number" || !Number.isFinite(v)) at.error(`expected a number, got ${describe(v)}`);
      return;
    case "duration": {
      if (typeof v !== "string") {
        at.error(`expected a duration string such as "1s" or "500ms", got ${describe(v)}`);
        return;
      }
      const e = durationError(v, type.rule);
      if (e) at.error(e);
      return;
    }
    case "enum":
      if (typeof v !== "string" || !type.values.includes(v)) at.error(`expected one of ${type.values.join(", ")}, got ${describe(v)}`);
      return;
    case "message":
      checkMessage(v, type.of(), at);
      return;
    case "list":
      if (!Array.isArray(v)) {
        at.error(`expected a list, got ${describe(v)}`);
        return;
      }
      v.forEach((item, i) => {
        if (item === null || item === undefined) at.at(i).error("list entries may not be null");
        else checkField(item, type.of, at.at(i));
      });
      return;
    case "object":
      if (!isPlainObject(v)) at.error(`expected a map, got ${describe(v)}`);
      return;
    case "map":
      if (!isPlainObject(v)) {
        at.error(`expected a map, got ${describe(v)}`);
        return;
      }
      for (const [k, item] of Object.entries(v)) {
        if (item === null || item === undefined) at.at(k).error("map values may not be null");
        else checkField(item, type.of, at.at(k));
      }
      return;
  }
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

/** A known field name close to `key` (case slip, snake_case, one edit away), for the error message. */
function suggest(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string => s.replace(/[_-]/g, "").toLowerCase();
  const k = norm(key);
  for (const f of known) if (norm(f) === k) return f;
  for (const f of known) if (editDistanceAtMostOne(norm(f), k)) return f;
  return undefined;
}

function editDistanceAtMostOne(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  let j = 0;
  let edits = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      i++;
      j++;
      continue;
    }
    if (++edits > 1) return false;
    if (a.length > b.length) i++;
    else if (b.length > a.length) j++;
    else {
      i++;
      j++;
    }
  }
  return edits + (a.length - i) + (b.length - j) <= 1;
}
