/**
 * Router proxies (Istio ingress and egress gateways). Gateways are not translated yet: a router
 * gets a well-formed, empty configuration (so it connects and stays connected) and a finding that
 * says so, instead of being refused.
 */
import type { ProxyView } from "../model/proxy.js";
import type { ProxyTranslation } from "./proxy.js";

export const GatewayCodes = {
  /** A router proxy connected; Gateway resources are not translated yet, so it gets no listeners. */
  NotTranslated: "MP0501",
} as const;

export function translateRouter(proxy: ProxyView): ProxyTranslation {
  return {
    clusters: [],
    endpoints: [],
    listeners: [],
    routes: [],
    secrets: [],
    edsTargets: [],
    diagnostics: [
      {
        severity: "warning",
        code: GatewayCodes.NotTranslated,
        message: `router proxies in namespace "${proxy.namespace}" get an empty configuration: Istio Gateways are not translated yet, so these gateways accept no traffic`,
      },
    ],
  };
}
