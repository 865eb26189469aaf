/**
 * A sidecar: its outbound side (what the application reaches through it), the clusters every
 * sidecar has for traffic outside the registry, and — next — its inbound side.
 */
import { uniqueDiagnostics } from "../../api/diagnostics.js";
import type { MeshModel } from "../../model/ir.js";
import type { ProxyView } from "../../model/proxy.js";
import { buildProxyScope } from "../../model/scope.js";
import { blackHoleCluster, passthroughCluster } from "../cluster.js";
import { edsTargetEndpoints } from "../endpoints.js";
import { byResourceName } from "../envoy.js";
import type { ProxyTranslation } from "../proxy.js";
import { outbound } from "./outbound.js";

export function translateSidecar(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  const out = outbound(buildProxyScope(mesh, proxy));
  return {
    clusters: [...out.clusters, blackHoleCluster(), passthroughCluster()].sort(byResourceName),
    endpoints: out.edsTargets.map((t) => edsTargetEndpoints(t, mesh.endpoints)),
    listeners: [...out.listeners].sort(byResourceName),
    routes: [...out.routes].sort(byResourceName),
    secrets: [...out.secrets.values()].sort(byResourceName),
    // A Secret's problem is found again for every cluster that names it.
    diagnostics: uniqueDiagnostics(out.diagnostics),
    edsTargets: out.edsTargets,
  };
}
