/**
 * Codes of the analyzer's findings added with the gateway, Sidecar and mTLS kinds: Istio's
 * analyzer code where Istio has one, else meshpilot's own: MP09xx for findings that only show
 * when objects of several kinds are read together.
 */
export const AnalyzeCodes = {
  /** A Gateway whose selector matches no pod: no proxy serves it (Istio's IST0101 ReferencedResourceNotFound, "Referenced selector not found"). */
  GatewaySelectsNoPod: "IST0101",
  /** A Sidecar's egress hides a host that a VirtualService its proxies use routes to: those requests fail (no cluster). */
  SidecarHidesDestination: "MP0901",
} as const;
