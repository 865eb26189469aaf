/**
 * A sidecar: its outbound side (what the application reaches through it), its inbound side (how
 * captured connections reach the application), and the clusters every sidecar has for traffic
 * outside the registry.
 */
import { uniqueDiagnostics, type Diagnostic } from "../../api/diagnostics.js";
import type { MeshModel } from "../../model/ir.js";
import type { ProxyView } from "../../model/proxy.js";
import { buildProxyScope } from "../../model/scope.js";
import { blackHoleCluster, passthroughCluster } from "../cluster.js";
import { edsTargetEndpoints } from "../endpoints.js";
import { byResourceName, type ListenerJson } from "../envoy.js";
import type { ProxyTranslation } from "../proxy.js";
import { inbound } from "./inbound.js";
import { outbound } from "./outbound.js";

export function translateSidecar(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  const scope = buildProxyScope(mesh, proxy);
  const out = outbound(scope);
  const inb = inbound(scope);
  const listeners = withoutOutboundTwins(out.listeners, inb.listeners);
  return {
    clusters: [...out.clusters, ...inb.clusters, blackHoleCluster(), passthroughCluster()].sort(byResourceName),
    endpoints: out.edsTargets.map((t) => edsTargetEndpoints(t, mesh.endpoints)),
    listeners: [...listeners.outbound, ...inb.listeners].sort(byResourceName),
    routes: [...out.routes].sort(byResourceName),
    secrets: [...out.secrets.values()].sort(byResourceName),
    // A Secret's problem is found again for every cluster that names it.
    diagnostics: uniqueDiagnostics([...out.diagnostics, ...inb.diagnostics, ...listeners.diagnostics]),
    edsTargets: out.edsTargets,
  };
}

/**
 * A Sidecar ingress port bound on 0.0.0.0 has the name of the outbound listener for the same port
 * (`0.0.0.0_<port>`); Envoy takes one listener per name, and the socket the user asked for wins.
 */
function withoutOutboundTwins(outbound: readonly ListenerJson[], inbound: readonly ListenerJson[]): { outbound: ListenerJson[]; diagnostics: Diagnostic[] } {
  const taken = new Set(inbound.map((l) => l.name));
  const diagnostics: Diagnostic[] = [];
  const kept = outbound.filter((l) => {
    if (!taken.has(l.name)) return true;
    diagnostics.push({
      severity: "warning",
      code: "MP0123",
      message: `listener ${l.name} is a Sidecar ingress port bound on this proxy; the outbound listener of that name is left out, so captured outbound connections to port ${l.address?.socketAddress?.portValue} are not routed to services`,
    });
    return false;
  });
  return { outbound: kept, diagnostics };
}
