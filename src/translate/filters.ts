/**
 * The HTTP filters of an HTTP connection manager, as a list of hooks: each feature that needs an
 * HTTP filter (JWT authentication, RBAC, fault injection, CORS) adds one hook, in Istio's order,
 * instead of editing a fixed list. The router is always last (Envoy requires a terminal filter there).
 */
import type { InboundSecurityScope } from "../model/authz/scope.js";
import { securityFilters } from "./authz/filters.js";
import type { HttpFilterJson } from "./envoy.js";
import { typed } from "./envoy.js";

/** What a hook may look at: which side of the proxy the connection manager serves, and what it enforces there. */
export interface HttpFilterContext {
  readonly direction: "outbound" | "inbound";
  /** Inbound only: the authorization and JWT rules of the workload. */
  readonly security?: InboundSecurityScope;
}

/** The HTTP filters a hook adds (none when it does not apply to this connection manager). */
export type HttpFilterHook = (ctx: HttpFilterContext) => HttpFilterJson | readonly HttpFilterJson[] | undefined;

// Istio: authentication (jwt_authn), then authorization (RBAC: AUDIT, DENY, ALLOW), before fault and CORS.
const jwtAuthn: HttpFilterHook = (ctx) => (ctx.security ? securityFilters(ctx.security).jwt : undefined);
const rbac: HttpFilterHook = (ctx) => (ctx.security ? securityFilters(ctx.security).httpRbac : undefined);

// fault and cors do nothing unless a route carries their per-route config.
const fault: HttpFilterHook = () => ({ name: "envoy.filters.http.fault", typedConfig: typed("envoy.extensions.filters.http.fault.v3.HTTPFault", {}) });
const cors: HttpFilterHook = () => ({ name: "envoy.filters.http.cors", typedConfig: typed("envoy.extensions.filters.http.cors.v3.Cors", {}) });
const router: HttpFilterJson = { name: "envoy.filters.http.router", typedConfig: typed("envoy.extensions.filters.http.router.v3.Router", {}) };

/** Istio's order, before the router. */
export const HTTP_FILTER_HOOKS: readonly HttpFilterHook[] = [jwtAuthn, rbac, fault, cors];

export function httpFilters(ctx: HttpFilterContext, hooks: readonly HttpFilterHook[] = HTTP_FILTER_HOOKS): HttpFilterJson[] {
  return [...hooks.flatMap((h) => h(ctx) ?? []), router];
}
