/**
 * The HTTP filters of an HTTP connection manager, as a list of hooks: each feature that needs an
 * HTTP filter (fault injection, CORS, later RBAC and authentication) adds one hook, in Istio's
 * order, instead of editing a fixed list. The router is always last (Envoy requires a terminal
 * filter there).
 */
import type { HttpFilterJson } from "./envoy.js";
import { typed } from "./envoy.js";

/** What a hook may look at: which side of the proxy the connection manager serves. */
export interface HttpFilterContext {
  readonly direction: "outbound" | "inbound";
}

/** One HTTP filter, or none when it does not apply to this connection manager. */
export type HttpFilterHook = (ctx: HttpFilterContext) => HttpFilterJson | undefined;

// fault and cors do nothing unless a route carries their per-route config.
const fault: HttpFilterHook = () => ({ name: "envoy.filters.http.fault", typedConfig: typed("envoy.extensions.filters.http.fault.v3.HTTPFault", {}) });
const cors: HttpFilterHook = () => ({ name: "envoy.filters.http.cors", typedConfig: typed("envoy.extensions.filters.http.cors.v3.Cors", {}) });
const router: HttpFilterJson = { name: "envoy.filters.http.router", typedConfig: typed("envoy.extensions.filters.http.router.v3.Router", {}) };

/** Istio's order, before the router. */
export const HTTP_FILTER_HOOKS: readonly HttpFilterHook[] = [fault, cors];

export function httpFilters(ctx: HttpFilterContext, hooks: readonly HttpFilterHook[] = HTTP_FILTER_HOOKS): HttpFilterJson[] {
  return [...hooks.map((h) => h(ctx)).filter((f): f is HttpFilterJson => f !== undefined), router];
}
