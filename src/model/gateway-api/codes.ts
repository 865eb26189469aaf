/** Findings of the Gateway API conversion; each also shows as a status condition of the object. */
export const GatewayApiCodes = {
  /** A route's parentRef names no Gateway (or Service) meshpilot serves, or no listener lets it attach. */
  ParentNotAttached: "MP0801",
  /** A backendRef (or mirror) names no Service, a kind meshpilot cannot route to, or another namespace without a ReferenceGrant. */
  BackendNotResolved: "MP0802",
  /** Two listeners of a Gateway share a port with protocols or hostnames that cannot be told apart. */
  ListenerConflict: "MP0803",
  /** A listener's certificateRef is missing, malformed, of another kind, or in another namespace without a ReferenceGrant. */
  InvalidCertificateRef: "MP0804",
  /** A listener meshpilot cannot serve: a protocol or route kind it does not support. */
  ListenerNotSupported: "MP0805",
  /** A part of a route meshpilot does not implement; the rest of the route is served. */
  RouteFeatureNotSupported: "MP0806",
} as const;
