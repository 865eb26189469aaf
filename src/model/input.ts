import type { StoredObject } from "../api/objects.js";
import type {
  AuthorizationPolicyObject,
  PeerAuthenticationObject,
  RequestAuthenticationObject,
  SidecarObject,
  TelemetryObject,
} from "../api/istio-resource.js";
import type { DestinationRule, VirtualService } from "../api/istio-types.js";
import type { GatewayObject } from "./gateways.js";
import type { ServiceEntryObject, WorkloadEntryObject } from "./service-entries.js";
import type { EndpointSlice, Namespace, Node, Pod, Secret, Service } from "../api/kube-types.js";
import type {
  GatewayClass,
  GRPCRouteObject,
  HTTPRouteObject,
  KubernetesGateway,
  ReferenceGrant,
  TCPRouteObject,
  TLSRouteObject,
} from "../api/gateway-api/types.js";

/** The validated objects a model is built from (a store snapshot, viewed per kind). */
export interface MeshInput {
  readonly services: readonly StoredObject<Service>[];
  readonly endpointSlices: readonly StoredObject<EndpointSlice>[];
  readonly pods: readonly StoredObject<Pod>[];
  readonly namespaces: readonly StoredObject<Namespace>[];
  /** Nodes: their topology labels give endpoints their locality. */
  readonly nodes: readonly StoredObject<Node>[];
  /** Secrets: `credentialName` of DestinationRule TLS. Optional: inputs without them have none. */
  readonly secrets?: readonly StoredObject<Secret>[];
  readonly virtualServices: readonly StoredObject<VirtualService>[];
  readonly destinationRules: readonly StoredObject<DestinationRule>[];
  /** Sidecar resources. Optional: inputs without them scope no proxy. */
  readonly sidecars?: readonly StoredObject<SidecarObject>[];
  /** Optional: inputs without them have none. */
  readonly serviceEntries?: readonly StoredObject<ServiceEntryObject>[];
  readonly workloadEntries?: readonly StoredObject<WorkloadEntryObject>[];
  /** Istio Gateways (and those converted from the Kubernetes Gateway API). Optional: inputs without them have none. */
  readonly gateways?: readonly StoredObject<GatewayObject>[];
  /** The Kubernetes Gateway API (optional: inputs without them have none). */
  readonly gatewayClasses?: readonly StoredObject<GatewayClass>[];
  readonly kubernetesGateways?: readonly StoredObject<KubernetesGateway>[];
  readonly httpRoutes?: readonly StoredObject<HTTPRouteObject>[];
  readonly grpcRoutes?: readonly StoredObject<GRPCRouteObject>[];
  readonly tcpRoutes?: readonly StoredObject<TCPRouteObject>[];
  readonly tlsRoutes?: readonly StoredObject<TLSRouteObject>[];
  readonly referenceGrants?: readonly StoredObject<ReferenceGrant>[];
  /** Optional: inputs without them authorize everything. */
  readonly authorizationPolicies?: readonly StoredObject<AuthorizationPolicyObject>[];
  /** Optional: inputs without them validate no JWT. */
  readonly requestAuthentications?: readonly StoredObject<RequestAuthenticationObject>[];
  /** Optional: inputs without them have Istio's default (PERMISSIVE everywhere). */
  readonly peerAuthentications?: readonly StoredObject<PeerAuthenticationObject>[];
  /** Optional: inputs without them log as the mesh config says. */
  readonly telemetries?: readonly StoredObject<TelemetryObject>[];
}
