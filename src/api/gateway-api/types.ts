/**
 * gateway.networking.k8s.io as Gateway API v1.5 (the release Istio 1.30 reads) defines it:
 * GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant, TLSRoute (v1) and TCPRoute
 * (v1alpha2, experimental channel). Only the fields meshpilot reads are typed; validation
 * (validate.ts) reports the others.
 */
import type { ObjectMeta } from "../kube-types.js";

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

interface Obj<K extends string, S> {
  readonly apiVersion: string;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: S;
}

export interface GatewayClassSpec {
  readonly controllerName: string;
  readonly description?: string;
}

export interface SecretObjectReference {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface RouteGroupKind {
  readonly group?: string;
  readonly kind: string;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    readonly values?: readonly string[];
  }[];
}

export interface AllowedRoutes {
  readonly namespaces?: { readonly from?: "All" | "Same" | "Selector"; readonly selector?: LabelSelector };
  readonly kinds?: readonly RouteGroupKind[];
}

export type ListenerProtocol = "HTTP" | "HTTPS" | "TLS" | "TCP" | "UDP";

export interface Listener {
  readonly name: string;
  readonly hostname?: string;
  readonly port: number;
  readonly protocol: string;
  readonly tls?: { readonly mode?: "Terminate" | "Passthrough"; readonly certificateRefs?: readonly SecretObjectReference[] };
  readonly allowedRoutes?: AllowedRoutes;
}

export interface GatewaySpec {
  readonly gatewayClassName: string;
  readonly listeners: readonly Listener[];
  readonly addresses?: readonly { readonly type?: string; readonly value: string }[];
}

export interface ParentReference {
  readonly group?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface HTTPHeader {
  readonly name: string;
  readonly value: string;
}

export interface HeaderModifier {
  readonly set?: readonly HTTPHeader[];
  readonly add?: readonly HTTPHeader[];
  readonly remove?: readonly string[];
}

export interface HTTPPathModifier {
  readonly type: "ReplaceFullPath" | "ReplacePrefixMatch";
  readonly replaceFullPath?: string;
  readonly replacePrefixMatch?: string;
}

export interface BackendRef {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly weight?: number;
}

export interface HTTPRouteFilter {
  readonly type: "RequestHeaderModifier" | "ResponseHeaderModifier" | "RequestRedirect" | "URLRewrite" | "RequestMirror" | "ExtensionRef" | "CORS";
  readonly requestHeaderModifier?: HeaderModifier;
  readonly responseHeaderModifier?: HeaderModifier;
  readonly requestRedirect?: {
    readonly scheme?: "http" | "https";
    readonly hostname?: string;
    readonly path?: HTTPPathModifier;
    readonly port?: number;
    readonly statusCode?: number;
  };
  readonly urlRewrite?: { readonly hostname?: string; readonly path?: HTTPPathModifier };
  readonly requestMirror?: {
    readonly backendRef: BackendRef;
    readonly percent?: number;
    readonly fraction?: { readonly numerator: number; readonly denominator?: number };
  };
}

export interface HTTPBackendRef extends BackendRef {
  readonly filters?: readonly HTTPRouteFilter[];
}

export interface ValueMatch {
  readonly type?: "Exact" | "RegularExpression";
  readonly name: string;
  readonly value: string;
}

export interface HTTPRouteMatch {
  readonly path?: { readonly type?: "Exact" | "PathPrefix" | "RegularExpression"; readonly value?: string };
  readonly headers?: readonly ValueMatch[];
  readonly queryParams?: readonly ValueMatch[];
  readonly method?: string;
}

export interface HTTPRouteRule {
  readonly name?: string;
  readonly matches?: readonly HTTPRouteMatch[];
  readonly filters?: readonly HTTPRouteFilter[];
  readonly backendRefs?: readonly HTTPBackendRef[];
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
}

export interface HTTPRouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly HTTPRouteRule[];
}

export interface GRPCMethodMatch {
  readonly type?: "Exact" | "RegularExpression";
  readonly service?: string;
  readonly method?: string;
}

export interface GRPCRouteRule {
  readonly name?: string;
  readonly matches?: readonly { readonly method?: GRPCMethodMatch; readonly headers?: readonly ValueMatch[] }[];
  readonly filters?: readonly HTTPRouteFilter[];
  readonly backendRefs?: readonly HTTPBackendRef[];
}

export interface GRPCRouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly GRPCRouteRule[];
}

export interface L4RouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly { readonly name?: string; readonly backendRefs?: readonly BackendRef[] }[];
}

export interface ReferenceGrantSpec {
  readonly from: readonly { readonly group: string; readonly kind: string; readonly namespace: string }[];
  readonly to: readonly { readonly group: string; readonly kind: string; readonly name?: string }[];
}

export type GatewayClass = Obj<"GatewayClass", GatewayClassSpec>;
/** The Gateway API Gateway; its registry kind is `KubernetesGateway` (Istio's name for it), as `Gateway` is Istio's. */
export type KubernetesGateway = Obj<"KubernetesGateway", GatewaySpec>;
export type HTTPRouteObject = Obj<"HTTPRoute", HTTPRouteSpec>;
export type GRPCRouteObject = Obj<"GRPCRoute", GRPCRouteSpec>;
export type TCPRouteObject = Obj<"TCPRoute", L4RouteSpec>;
export type TLSRouteObject = Obj<"TLSRoute", L4RouteSpec>;
export type ReferenceGrant = Obj<"ReferenceGrant", ReferenceGrantSpec>;

export type GatewayApiObject = GatewayClass | KubernetesGateway | HTTPRouteObject | GRPCRouteObject | TCPRouteObject | TLSRouteObject | ReferenceGrant;
export type RouteObject = HTTPRouteObject | GRPCRouteObject | TCPRouteObject | TLSRouteObject;
