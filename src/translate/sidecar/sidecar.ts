/**
 * A sidecar: its outbound side (what the application reaches through it), its inbound side (how
 * captured connections reach the application), and the clusters every sidecar has for traffic
 * outside the registry.
 */
import { uniqueDiagnostics } from "../../api/diagnostics.js";
import type { MeshModel } from "../../model/ir.js";
import type { ProxyView } from "../../model/proxy.js";
import { buildProxyScope } from "../../model/scope.js";
import { blackHoleCluster, passthroughCluster } from "../cluster.js";
import { edsTargetEndpoints } from "../endpoints.js";
import { byResourceName } from "../envoy.js";
import type { ProxyTranslation } from "../proxy.js";
import { inbound } from "./inbound.js";
import { outbound } from "./outbound.js";

export function translateSidecar(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  const scope = buildProxyScope(mesh, proxy);
  const out = outbound(scope);
  const inb = inbound(scope);
  return {
    clusters: [...out.clusters, ...inb.clusters, blackHoleCluster(), passthroughCluster()].sort(byResourceName),
    endpoints: out.edsTargets.map((t) => edsTargetEndpoints(t, mesh.endpoints)),
    listeners: [...out.listeners, ...inb.listeners].sort(byResourceName),
    routes: [...out.routes].sort(byResourceName),
    secrets: [...out.secrets.values()].sort(byResourceName),
    // A Secret's problem is found again for every cluster that names it.
    diagnostics: uniqueDiagnostics([...out.diagnostics, ...inb.diagnostics]),
    edsTargets: out.edsTargets,
  };
}
