import type { InputKind, InputObject, StoredObject } from "../api/objects.js";
import type { MeshInput } from "../model/input.js";

/** The MeshInput field of each kind the model is built from; other kinds are not translated. */
const FIELD_OF = {
  Service: "services",
  EndpointSlice: "endpointSlices",
  Pod: "pods",
  Namespace: "namespaces",
  Node: "nodes",
  Secret: "secrets",
  VirtualService: "virtualServices",
  DestinationRule: "destinationRules",
  Sidecar: "sidecars",
  ServiceEntry: "serviceEntries",
  WorkloadEntry: "workloadEntries",
  Gateway: "gateways",
  GatewayClass: "gatewayClasses",
  KubernetesGateway: "kubernetesGateways",
  HTTPRoute: "httpRoutes",
  GRPCRoute: "grpcRoutes",
  TCPRoute: "tcpRoutes",
  TLSRoute: "tlsRoutes",
  ReferenceGrant: "referenceGrants",
  AuthorizationPolicy: "authorizationPolicies",
  RequestAuthentication: "requestAuthentications",
  PeerAuthentication: "peerAuthentications",
  Telemetry: "telemetries",
} as const satisfies Partial<Record<InputKind, keyof MeshInput>>;

/** Group validated objects by kind for the model builder. */
export function meshInputFrom(objects: Iterable<StoredObject<InputObject>>): MeshInput {
  const out = Object.fromEntries(Object.values(FIELD_OF).map((f) => [f, []])) as unknown as Record<keyof MeshInput, StoredObject[]>;
  for (const so of objects) {
    const field = (FIELD_OF as Partial<Record<InputKind, keyof MeshInput>>)[so.object.kind];
    if (field) out[field].push(so);
  }
  return out as unknown as MeshInput;
}
