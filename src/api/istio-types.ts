/**
 * networking.istio.io VirtualService and DestinationRule, as Istio 1.28 documents them. The same
 * shape is served as v1, v1beta1 and v1alpha3. Durations stay strings ("1.5s") as users write them.
 */
import type { ObjectMeta } from "./kube-types.js";

export const ISTIO_NETWORKING_GROUP = "networking.istio.io";
export const ISTIO_NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
export type IstioNetworkingVersion = (typeof ISTIO_NETWORKING_VERSIONS)[number];

export type StringMatch = { readonly exact: string } | { readonly prefix: string } | { readonly regex: string } | Readonly<Record<string, never>>;

export interface PortSelector {
  readonly number?: number;
}

export interface Destination {
  readonly host: string;
  readonly subset?: string;
  readonly port?: PortSelector;
}

export interface HeaderOperations {
  readonly set?: Readonly<Record<string, string>>;
  readonly add?: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
}

export interface Headers {
  readonly request?: HeaderOperations;
  readonly response?: HeaderOperations;
}

export interface HTTPRouteDestination {
  readonly destination: Destination;
  readonly weight?: number;
  readonly headers?: Headers;
}

export interface HTTPMatchRequest {
  readonly name?: string;
  readonly uri?: StringMatch;
  readonly scheme?: StringMatch;
  readonly method?: StringMatch;
  readonly authority?: StringMatch;
  readonly headers?: Readonly<Record<string, StringMatch>>;
  readonly withoutHeaders?: Readonly<Record<string, StringMatch>>;
  readonly queryParams?: Readonly<Record<string, StringMatch>>;
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly gateways?: readonly string[];
  readonly sourceNamespace?: string;
  readonly ignoreUriCase?: boolean;
  readonly statPrefix?: string;
}

export interface HTTPRetry {
  readonly attempts?: number;
  readonly perTryTimeout?: string;
  readonly retryOn?: string;
  readonly retryRemoteLocalities?: boolean;
  readonly retryIgnorePreviousHosts?: boolean;
  readonly backoff?: string;
}

export interface Percent {
  readonly value?: number;
}

export interface HTTPFaultInjection {
  readonly delay?: { readonly fixedDelay?: string; readonly exponentialDelay?: string; readonly percentage?: Percent; readonly percent?: number };
  readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: string; readonly http2Error?: string; readonly percentage?: Percent };
}

export interface HTTPRedirect {
  readonly uri?: string;
  readonly authority?: string;
  readonly port?: number;
  readonly derivePort?: "FROM_PROTOCOL_DEFAULT" | "FROM_REQUEST_PORT";
  readonly scheme?: string;
  readonly redirectCode?: number;
}

export interface HTTPDirectResponse {
  readonly status: number;
  readonly body?: { readonly string?: string; readonly bytes?: string };
}

export interface HTTPRewrite {
  readonly uri?: string;
  readonly authority?: string;
  readonly uriRegexRewrite?: { readonly match?: string; readonly rewrite?: string };
}

export interface CorsPolicy {
  readonly allowOrigins?: readonly StringMatch[];
  readonly allowMethods?: readonly string[];
  readonly allowHeaders?: readonly string[];
  readonly exposeHeaders?: readonly string[];
  readonly maxAge?: string;
  readonly allowCredentials?: boolean;
  readonly unmatchedPreflights?: "UNSPECIFIED" | "FORWARD" | "IGNORE";
}

export interface HTTPMirrorPolicy {
  readonly destination: Destination;
  readonly percentage?: Percent;
}

export interface HTTPRoute {
  readonly name?: string;
  readonly match?: readonly HTTPMatchRequest[];
  readonly route?: readonly HTTPRouteDestination[];
  readonly redirect?: HTTPRedirect;
  readonly directResponse?: HTTPDirectResponse;
  readonly delegate?: { readonly name?: string; readonly namespace?: string };
  readonly rewrite?: HTTPRewrite;
  readonly timeout?: string;
  readonly retries?: HTTPRetry;
  readonly fault?: HTTPFaultInjection;
  readonly mirror?: Destination;
  readonly mirrors?: readonly HTTPMirrorPolicy[];
  readonly mirrorPercentage?: Percent;
  readonly corsPolicy?: CorsPolicy;
  readonly headers?: Headers;
}

export interface RouteDestination {
  readonly destination: Destination;
  readonly weight?: number;
}

export interface L4MatchAttributes {
  readonly destinationSubnets?: readonly string[];
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly gateways?: readonly string[];
  readonly sourceNamespace?: string;
}

export interface TCPRoute {
  readonly match?: readonly L4MatchAttributes[];
  readonly route?: readonly RouteDestination[];
}

export interface TLSRoute {
  readonly match: readonly (L4MatchAttributes & { readonly sniHosts: readonly string[] })[];
  readonly route?: readonly RouteDestination[];
}

export interface VirtualServiceSpec {
  readonly hosts?: readonly string[];
  readonly gateways?: readonly string[];
  readonly http?: readonly HTTPRoute[];
  readonly tls?: readonly TLSRoute[];
  readonly tcp?: readonly TCPRoute[];
  readonly exportTo?: readonly string[];
}

export interface VirtualService {
  readonly apiVersion: `${typeof ISTIO_NETWORKING_GROUP}/${IstioNetworkingVersion}`;
  readonly kind: "VirtualService";
  readonly metadata: ObjectMeta;
  readonly spec: VirtualServiceSpec;
}

export type SimpleLB = "UNSPECIFIED" | "LEAST_CONN" | "RANDOM" | "PASSTHROUGH" | "ROUND_ROBIN" | "LEAST_REQUEST";

export interface LoadBalancerSettings {
  readonly simple?: SimpleLB;
  readonly consistentHash?: {
    readonly httpHeaderName?: string;
    readonly httpCookie?: { readonly name: string; readonly path?: string; readonly ttl?: string };
    readonly useSourceIp?: boolean;
    readonly httpQueryParameterName?: string;
    readonly ringHash?: { readonly minimumRingSize?: number };
    readonly maglev?: { readonly tableSize?: number };
    readonly minimumRingSize?: number;
  };
  readonly localityLbSetting?: {
    readonly distribute?: readonly { readonly from?: string; readonly to?: Readonly<Record<string, number>> }[];
    readonly failover?: readonly { readonly from?: string; readonly to?: string }[];
    readonly failoverPriority?: readonly string[];
    readonly enabled?: boolean;
  };
  readonly warmupDurationSecs?: string;
}

export interface ConnectionPoolSettings {
  readonly tcp?: {
    readonly maxConnections?: number;
    readonly connectTimeout?: string;
    readonly tcpKeepalive?: { readonly probes?: number; readonly time?: string; readonly interval?: string };
    readonly maxConnectionDuration?: string;
    readonly idleTimeout?: string;
  };
  readonly http?: {
    readonly http1MaxPendingRequests?: number;
    readonly http2MaxRequests?: number;
    readonly maxRequestsPerConnection?: number;
    readonly maxRetries?: number;
    readonly idleTimeout?: string;
    readonly h2UpgradePolicy?: "DEFAULT" | "DO_NOT_UPGRADE" | "UPGRADE";
    readonly useClientProtocol?: boolean;
    readonly maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  readonly splitExternalLocalOriginErrors?: boolean;
  readonly consecutiveLocalOriginFailures?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly consecutive5xxErrors?: number;
  readonly interval?: string;
  readonly baseEjectionTime?: string;
  readonly maxEjectionPercent?: number;
  readonly minHealthPercent?: number;
}

export interface ClientTLSSettings {
  readonly mode?: "DISABLE" | "SIMPLE" | "MUTUAL" | "ISTIO_MUTUAL";
  readonly clientCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  readonly credentialName?: string;
  readonly subjectAltNames?: readonly string[];
  readonly sni?: string;
  readonly insecureSkipVerify?: boolean;
  readonly caCrl?: string;
}

export interface TrafficPolicyCore {
  readonly loadBalancer?: LoadBalancerSettings;
  readonly connectionPool?: ConnectionPoolSettings;
  readonly outlierDetection?: OutlierDetection;
  readonly tls?: ClientTLSSettings;
}

export interface TrafficPolicy extends TrafficPolicyCore {
  readonly portLevelSettings?: readonly (TrafficPolicyCore & { readonly port?: PortSelector })[];
}

export interface Subset {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  readonly host: string;
  readonly trafficPolicy?: TrafficPolicy;
  readonly subsets?: readonly Subset[];
  readonly exportTo?: readonly string[];
  readonly workloadSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
}

export interface DestinationRule {
  readonly apiVersion: `${typeof ISTIO_NETWORKING_GROUP}/${IstioNetworkingVersion}`;
  readonly kind: "DestinationRule";
  readonly metadata: ObjectMeta;
  readonly spec: DestinationRuleSpec;
}
