import type { InputKind, InputObject, ObjectKey, StoredObject } from "../api/objects.js";
import type { MeshInput } from "../model/input.js";
import { KindMap } from "../store/kind-map.js";
import type { Snapshot } from "../store/store.js";

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

/** Each kind's objects by the store's map of them (maps are immutable). */
const listed = new WeakMap<ReadonlyMap<ObjectKey, StoredObject>, readonly StoredObject[]>();

/**
 * A store snapshot's objects grouped as meshInputFrom groups them. The store keeps the map of every
 * kind a change did not touch, and each map keeps its array here: an endpoint change lists Pods
 * and EndpointSlices again, not every object of the mesh, and the model sees the other kinds'
 * arrays as the same objects.
 */
export function meshInputOf(snapshot: Snapshot): MeshInput {
  const out = {} as Record<keyof MeshInput, readonly StoredObject[]>;
  for (const [kind, field] of Object.entries(FIELD_OF) as [InputKind, keyof MeshInput][]) {
    const map = snapshot.of(kind) as ReadonlyMap<ObjectKey, StoredObject>;
    let list = listed.get(map);
    if (!list) listed.set(map, (list = map instanceof KindMap ? (map as KindMap<ObjectKey, StoredObject>).valueList() : [...map.values()]));
    out[field] = list;
  }
  return out as unknown as MeshInput;
}
