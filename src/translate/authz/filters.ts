/**
 * The filters a sidecar's inbound chains get from its security scope: on HTTP chains the JWT
 * filter then the RBAC filters (inserted through the HTTP filter hook list), on TCP chains the
 * network RBAC filters before tcp_proxy. Built once per scope: every chain of a listener shares them.
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import type { InboundSecurityScope } from "../../model/authz/scope.js";
import { typed, type FilterJson, type HttpFilterJson } from "../envoy.js";
import { jwtAuthentication } from "./jwt.js";
import { buildRbac } from "./rbac.js";

/** Istio's stat prefix of the network RBAC filter. */
const TCP_STAT_PREFIX = "tcp.";

export interface SecurityFilters {
  readonly jwt?: HttpFilterJson;
  readonly httpRbac: readonly HttpFilterJson[];
  readonly networkRbac: readonly FilterJson[];
  /** Problems building the HTTP filters (reported always) and the TCP ones (reported where the workload has TCP ports). */
  readonly httpProblems: readonly Diagnostic[];
  readonly tcpProblems: readonly Diagnostic[];
}

const cache = new WeakMap<InboundSecurityScope, SecurityFilters>();

export function securityFilters(security: InboundSecurityScope): SecurityFilters {
  let out = cache.get(security);
  if (out) return out;
  const http = buildRbac(security, false);
  const tcp = buildRbac(security, true);
  const jwt = jwtAuthentication(security);
  out = {
    ...(jwt ? { jwt: { name: "envoy.filters.http.jwt_authn", typedConfig: typed("envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication", jwt) } } : {}),
    httpRbac: http.configs.map((c) => ({ name: "envoy.filters.http.rbac", typedConfig: typed("envoy.extensions.filters.http.rbac.v3.RBAC", { ...c }) })),
    networkRbac: tcp.configs.map((c) => ({
      name: "envoy.filters.network.rbac",
      typedConfig: typed("envoy.extensions.filters.network.rbac.v3.RBAC", { ...c, statPrefix: TCP_STAT_PREFIX }),
    })),
    httpProblems: http.problems,
    tcpProblems: tcp.problems,
  };
  cache.set(security, out);
  return out;
}
