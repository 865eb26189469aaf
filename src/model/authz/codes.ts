/** Finding codes of authorization and request authentication (meshpilot's own; Istio has no analyzer code for these). */
export const AuthzCodes = {
  /** An AuthorizationPolicy with action CUSTOM: external authorization is not supported; the policy is left out. */
  CustomNotSupported: "MP0861",
  /** A policy with targetRef/targetRefs: it binds gateways and waypoints, never sidecars. */
  TargetRefIgnored: "MP0862",
  /** A rule uses HTTP-only fields and the workload has TCP ports: on TCP, ALLOW leaves the rule out, DENY and AUDIT ignore the field. */
  HttpOnlyOnTcp: "MP0863",
  /** Keys Envoy cannot get: a jwksUri naming no registry service, or neither jwks nor jwksUri (no OpenID discovery); every token fails. */
  JwksClusterMissing: "MP0864",
  /** A path template (`{*}`, `{**}`) in an operation: not supported yet, the value is left out as Istio leaves out what it cannot build. */
  PathTemplate: "MP0865",
} as const;
