import type { SourceLocation } from "./diagnostics.js";
import type { GatewayApiObject } from "./gateway-api/types.js";
import type {
  AuthorizationPolicyObject,
  PeerAuthenticationObject,
  TelemetryObject,
  RequestAuthenticationObject,
  SidecarObject,
  UntranslatedIstioObject,
} from "./istio-resource.js";
import type { Gateway } from "./istio/gateway-types.js";
import type { ServiceEntry, WorkloadEntry } from "./istio/service-entry-types.js";
import type { DestinationRule, VirtualService } from "./istio-types.js";
import type { EndpointSlice, Namespace, Node, Pod, Secret, Service } from "./kube-types.js";

/** Every kind meshpilot accepts as input. */
export type InputObject =
  | Service
  | EndpointSlice
  | Pod
  | Namespace
  | Node
  | Secret
  | VirtualService
  | DestinationRule
  | Gateway
  | SidecarObject
  | AuthorizationPolicyObject
  | RequestAuthenticationObject
  | PeerAuthenticationObject
  | TelemetryObject
  | ServiceEntry
  | WorkloadEntry
  | UntranslatedIstioObject
  | GatewayApiObject;
export type InputKind = InputObject["kind"];

export type ObjectOfKind<K extends InputKind> = Extract<InputObject, { kind: K }>;

/** `kind/namespace/name`: one key per object across all kinds. */
export type ObjectKey = string;

export function objectKey(kind: InputKind, namespace: string | undefined, name: string): ObjectKey {
  return `${kind}/${namespace ?? ""}/${name}`;
}

export function keyOf(obj: InputObject): ObjectKey {
  return objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
}

/** A validated object plus where it was read from. */
export interface StoredObject<T extends InputObject = InputObject> {
  readonly object: T;
  readonly source?: SourceLocation;
}
