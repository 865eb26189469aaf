import type { PodPortsModel } from "./named-ports.js";
import type { SidecarModel } from "./sidecar-scope.js";
import type { GatewayModel } from "./gateways.js";
import type { GatewayApiResult } from "./gateway-api/convert.js";
import type { SecurityPolicies } from "./authz/policies.js";
/**
 * The mesh model: what the translator needs, resolved from the store with Istio's rules and no
 * Envoy vocabulary. Everything is readonly; a new store snapshot builds a new model.
 */
import type { Diagnostic, ObjectRef } from "../api/diagnostics.js";
import type { MeshConfig } from "./mesh-config.js";
import type { ServiceIdentity } from "./identity.js";
import type { PeerAuthentications } from "./peer-authentication.js";
import type { Telemetries } from "./telemetry.js";
import type { HTTPRoute, TrafficPolicy, TCPRoute, TLSRoute } from "../api/istio-types.js";
import type { ReferenceGrant } from "../api/gateway-api/types.js";

export type Protocol = "HTTP" | "HTTP2" | "GRPC" | "GRPC-Web" | "TCP" | "TLS" | "HTTPS" | "Mongo" | "MySQL" | "Redis" | "UDP" | "Unsupported";

export interface ServicePortModel {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly protocol: Protocol;
  /** The port names no protocol: listed as HTTP outbound, detected by Envoy's HTTP inspector inbound (as Istio does). */
  readonly detected?: true;
}

export interface ServiceModel {
  readonly hostname: string;
  readonly name: string;
  readonly namespace: string;
  readonly clusterIP?: string;
  readonly ports: readonly ServicePortModel[];
  /** The Service's pod selector (none or empty: it selects no pod, as in Kubernetes). */
  readonly selector?: Readonly<Record<string, string>>;
  readonly ref: ObjectRef;
  /**
   * Namespaces the service is visible from, as written (a Service's `networking.istio.io/exportTo`
   * annotation, a ServiceEntry's `exportTo`); empty: mesh config `defaultServiceExportTo`.
   */
  readonly exportTo?: readonly string[];
  /** Set for a host of a ServiceEntry (model/service-entries.ts). */
  readonly entry?: ServiceEntryModel;
}

/** What a ServiceEntry adds to its hosts' services beyond a Kubernetes Service's fields. */
export interface ServiceEntryModel {
  readonly resolution: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN";
  readonly location: "MESH_EXTERNAL" | "MESH_INTERNAL";
  /** SANs for upstream TLS when the DestinationRule names none. */
  readonly subjectAltNames: readonly string[];
  /**
   * DNS and DNS_ROUND_ROBIN: per service port, the endpoints Envoy resolves itself (host names or
   * IPs), sent inline in the cluster rather than over EDS.
   */
  readonly dnsEndpoints?: ReadonlyMap<number, readonly EndpointModel[]>;
}

export interface EndpointModel {
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly podName?: string;
  readonly namespace: string;
  /** Istio's locality label `region/zone/subzone`, from the Pod's labels or its Node's (see locality.ts). */
  readonly locality?: string;
  /** The Pod's node (`kubernetes.io/hostname` for failoverPriority). */
  readonly nodeName?: string;
  /** Load balancing weight (WorkloadEntry `weight`); unset: 1. */
  readonly weight?: number;
  /** The workload's Kubernetes ServiceAccount (its SPIFFE identity's `sa`); unset when the address has no known Pod. */
  readonly serviceAccount?: string;
}

export interface VirtualServiceModel {
  readonly name: string;
  readonly namespace: string;
  readonly creationTimestamp: string;
  /** Hosts resolved to FQDNs (wildcards kept). */
  readonly hosts: readonly string[];
  readonly gateways: readonly string[];
  readonly exportTo: readonly string[];
  /** The `http` rules as written (analyzers point at these). */
  readonly http: readonly HTTPRoute[];
  /**
   * The rules sidecars route with. For a root VirtualService (rules with `delegate`), each such
   * rule is replaced by its delegate's rules merged with it, as Istio does; otherwise `http`.
   * Destination hosts of merged delegate rules are FQDNs (resolved in the delegate's namespace).
   */
  readonly routedHttp: readonly HTTPRoute[];
  /**
   * Where each `routedHttp` rule was written, by index: `spec.http[2]`, or for a merged delegate
   * rule `spec.http[1] → VirtualService <ns>/<name> spec.http[0]`. Absent: `routedHttp` is `http`.
   */
  readonly routedOrigins?: readonly string[];
  readonly tcp: readonly TCPRoute[];
  readonly tls: readonly TLSRoute[];
  readonly ref: ObjectRef;
  /**
   * Converted from the Kubernetes Gateway API: routes follow its semantics, as Istio's do for such
   * VirtualServices (path prefixes match whole segments, a backend that does not resolve answers
   * 500, a redirect may replace the matched prefix).
   */
  readonly gatewaySemantics?: boolean;
}

export interface SubsetModel {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly trafficPolicy?: TrafficPolicy;
}

/** One DestinationRule as it applies to a host (several rules of one namespace merged). */
export interface DestinationRuleModel {
  readonly host: string;
  readonly namespace: string;
  /** The rule whose top-level policy won (the oldest), for `istio.config` metadata. */
  readonly name: string;
  readonly trafficPolicy?: TrafficPolicy;
  readonly subsets: readonly SubsetModel[];
  readonly exportTo: readonly string[];
  /** Labels of the workloads the rule is limited to (in its own namespace), when it has a workloadSelector. */
  readonly workloadSelector?: Readonly<Record<string, string>>;
  readonly refs: readonly ObjectRef[];
}

/**
 * A Secret as a `credentialName` source (values base64, as in the Secret), with Istio's key
 * precedence (credentials.ts): `cert`/`key` when both are set, else `tls.crt`/`tls.key`; `ca`
 * from `cacert`, else `ca.crt`.
 */
export interface CredentialModel {
  readonly name: string;
  readonly namespace: string;
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  readonly ref: ObjectRef;
}

/** What the Gateway API conversion produced (model/gateway-api/convert.ts). */
export interface GatewayApiModel {
  /** Istio Gateways generated from Gateway API Gateways (the generated VirtualServices are in `virtualServices`). */
  readonly gateways: GatewayApiResult["gateways"];
  readonly status: GatewayApiResult["status"];
  readonly deployments: GatewayApiResult["deployments"];
  /** The ReferenceGrants: which gateways may read a certificate Secret of another namespace. */
  readonly referenceGrants: readonly ReferenceGrant[];
}

export interface MeshModel {
  /** By FQDN, sorted. */
  readonly services: ReadonlyMap<string, ServiceModel>;
  /** Ready endpoints by `endpointKey(host, servicePort)`. */
  readonly endpoints: ReadonlyMap<string, readonly EndpointModel[]>;
  /** Sidecar-visible VirtualServices in Istio's precedence order (creation time, then name). */
  readonly virtualServices: readonly VirtualServiceModel[];
  /** Every DestinationRule (unmerged), ordered oldest first; lookup merges per namespace. */
  readonly destinationRules: readonly DestinationRuleModel[];
  /** Secrets usable as `credentialName`, by `credentialKey(namespace, name)` (none when absent). */
  readonly credentials?: ReadonlyMap<string, CredentialModel>;
  /** Sidecar resources, oldest first (none when absent). */
  readonly sidecars?: readonly SidecarModel[];
  /** Istio Gateways, oldest first (none when absent). */
  readonly gateways?: readonly GatewayModel[];
  /** Mesh-wide settings (defaults when absent). */
  readonly meshConfig?: MeshConfig;
  /**
   * ExternalName Services as Istio 1.21+ treats them: aliases of the registry host their
   * `externalName` names (by that host; the alias FQDNs sorted). An alias has no cluster of its own.
   */
  readonly aliases?: ReadonlyMap<string, readonly ServiceAliasModel[]>;
  /** The Gateway API, converted (absent when the input has none of its objects). */
  readonly gatewayApi?: GatewayApiModel;
  /** Named container ports of the pods that Services with a named targetPort select (none when absent). */
  readonly podPorts?: readonly PodPortsModel[];
  /** AuthorizationPolicies and RequestAuthentications (none when absent). */
  readonly security?: SecurityPolicies;
  /** Per service host: its workloads' identities and whether some are mesh members (none when absent). */
  readonly identities?: ReadonlyMap<string, ServiceIdentity>;
  /** PeerAuthentications (none when absent: PERMISSIVE everywhere). */
  readonly peerAuthentications?: PeerAuthentications;
  /** Telemetry resources (access logging); absent without any. */
  readonly telemetries?: Telemetries;
  readonly diagnostics: readonly Diagnostic[];
}

/** An ExternalName Service that names a registry host. */
export interface ServiceAliasModel {
  readonly hostname: string;
  readonly name: string;
  readonly namespace: string;
  readonly ref: ObjectRef;
}

export function credentialKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function endpointKey(host: string, port: number): string {
  return `${host}|${port}`;
}
