/**
 * The status meshpilot owes Gateway API objects, as values: conditions with the spec's types and
 * reasons (Gateway API v1.5). `lastTransitionTime` and `observedGeneration` are added by the
 * writer (sources/kube-status), which knows the clock and the object's generation.
 */
import type { ParentReference } from "./types.js";

export interface Condition {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: string;
  readonly message: string;
}

export interface ListenerStatus {
  readonly name: string;
  readonly supportedKinds: readonly { readonly group: string; readonly kind: string }[];
  readonly attachedRoutes: number;
  readonly conditions: readonly Condition[];
}

export interface GatewayStatus {
  readonly addresses?: readonly { readonly type: "IPAddress" | "Hostname"; readonly value: string }[];
  readonly conditions: readonly Condition[];
  readonly listeners: readonly ListenerStatus[];
}

export interface RouteParentStatus {
  readonly parentRef: ParentReference;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

export interface RouteStatus {
  readonly parents: readonly RouteParentStatus[];
}

export interface GatewayClassStatus {
  readonly conditions: readonly Condition[];
}

export type GatewayApiStatus = GatewayClassStatus | GatewayStatus | RouteStatus;

export const cond = (type: string, ok: boolean, reason: string, message: string): Condition => ({ type, status: ok ? "True" : "False", reason, message });

/** The spec's reasons meshpilot uses (a subset of Gateway API v1.5's). */
export const Reasons = {
  Accepted: "Accepted",
  Programmed: "Programmed",
  ResolvedRefs: "ResolvedRefs",
  Invalid: "Invalid",
  InvalidParameters: "InvalidParameters",
  ListenersNotValid: "ListenersNotValid",
  AddressNotAssigned: "AddressNotAssigned",
  UnsupportedAddress: "UnsupportedAddress",
  UnsupportedProtocol: "UnsupportedProtocol",
  NoConflicts: "NoConflicts",
  HostnameConflict: "HostnameConflict",
  ProtocolConflict: "ProtocolConflict",
  InvalidCertificateRef: "InvalidCertificateRef",
  InvalidRouteKinds: "InvalidRouteKinds",
  RefNotPermitted: "RefNotPermitted",
  NotAllowedByListeners: "NotAllowedByListeners",
  NoMatchingListenerHostname: "NoMatchingListenerHostname",
  NoMatchingParent: "NoMatchingParent",
  UnsupportedValue: "UnsupportedValue",
  BackendNotFound: "BackendNotFound",
  InvalidKind: "InvalidKind",
} as const;

/** A Gateway meshpilot deploys proxies for (sources/ creates the Deployment and Service). */
export interface GatewayDeployment {
  readonly gateway: { readonly name: string; readonly namespace: string; readonly uid?: string };
  readonly className: string;
  /** Deployment and Service name: `<gateway>-<class>`, as Istio names them. */
  readonly name: string;
  readonly ports: readonly { readonly name: string; readonly port: number }[];
}
