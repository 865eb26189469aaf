import { aliasTargets } from "../model/scope.js";
import { UNRESOLVED_BACKEND_HOST } from "../model/gateway-api/refs.js";
import type { Diagnostic } from "../api/diagnostics.js";
import type { Destination } from "../api/istio-types.js";
import type { MeshModel, VirtualServiceModel } from "../model/ir.js";
import { hostMatches } from "../model/hosts.js";
import { resolveHost } from "../model/names.js";
import { destinationRuleFor } from "../model/policies.js";
import { nearMiss } from "./hints.js";
import { KeptCheck } from "./kept.js";

export interface DestinationUse {
  readonly vs: VirtualServiceModel;
  readonly destination: Destination;
  readonly path: string;
}

/** Every destination a VirtualService routes or mirrors to, with the path of its field. */
export function destinationsOf(vs: VirtualServiceModel): DestinationUse[] {
  const out: DestinationUse[] = [];
  vs.http.forEach((rule, i) => {
    (rule.route ?? []).forEach((rd, j) => out.push({ vs, destination: rd.destination, path: `spec.http[${i}].route[${j}].destination` }));
    if (rule.mirror) out.push({ vs, destination: rule.mirror, path: `spec.http[${i}].mirror` });
    (rule.mirrors ?? []).forEach((m, j) => out.push({ vs, destination: m.destination, path: `spec.http[${i}].mirrors[${j}].destination` }));
  });
  vs.tcp.forEach((rule, i) =>
    (rule.route ?? []).forEach((rd, j) => out.push({ vs, destination: rd.destination, path: `spec.tcp[${i}].route[${j}].destination` })),
  );
  vs.tls.forEach((rule, i) =>
    (rule.route ?? []).forEach((rd, j) => out.push({ vs, destination: rd.destination, path: `spec.tls[${i}].route[${j}].destination` })),
  );
  return out;
}

/**
 * IST0101: a destination host that is not a service, or a subset that the DestinationRule the
 * VirtualService's clients would use does not define (Envoy answers 503 with flag NC). When the
 * subset exists under another host, say so: that is the "DR host differs from route host" mistake.
 */
export function destinationSubsetFindings(mesh: MeshModel): Diagnostic[] {
  // A VirtualService's findings read the registry, the rules and the aliases besides itself.
  return mesh.virtualServices.flatMap((vs) => kept.of(vs, [mesh.services, mesh.destinationRules, mesh.aliases], () => vsFindings(mesh, vs)));
}

const kept = new KeptCheck<VirtualServiceModel>();

function vsFindings(mesh: MeshModel, vs: VirtualServiceModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const aliasTarget = aliasTargets(mesh);
  for (const use of destinationsOf(vs)) {
    const named = resolveHost(use.destination.host, use.vs.namespace);
    // An ExternalName alias routes to the host it names.
    const host = aliasTarget?.(named) ?? named;
    const svc = mesh.services.get(host);
    // A Gateway API backendRef that does not resolve: its route's own finding (MP0802) says why.
    if (!svc && host === UNRESOLVED_BACKEND_HOST) continue;
    if (!svc) {
      out.push({
        severity: "error",
        code: "IST0101",
        message: `destination host "${host}" is not a known service; requests routed here fail (503)${nearMiss(mesh, host)}`,
        object: use.vs.ref,
        path: `${use.path}.host`,
      });
      continue;
    }
    if (use.destination.port?.number !== undefined && !svc.ports.some((p) => p.port === use.destination.port?.number)) {
      out.push({
        severity: "error",
        code: "IST0101",
        message: `service "${host}" has no port ${use.destination.port.number} (ports: ${svc.ports.map((p) => p.port).join(", ")})`,
        object: use.vs.ref,
        path: `${use.path}.port.number`,
      });
    }
    const subset = use.destination.subset;
    if (!subset) continue;
    const rule = destinationRuleFor(mesh.destinationRules, host, svc.namespace, use.vs.namespace);
    if (rule?.subsets.some((s) => s.name === subset)) continue;
    const elsewhere = mesh.destinationRules.filter((dr) => dr.subsets.some((s) => s.name === subset) && !hostMatches(dr.host, host));
    const hint = elsewhere.length
      ? `; DestinationRule ${elsewhere.map((dr) => `${dr.namespace}/${dr.name} defines it for host "${dr.host}"`).join(", ")}, which is not the route's host`
      : rule
        ? `; DestinationRule ${rule.namespace}/${rule.name} defines only ${rule.subsets.map((s) => `"${s.name}"`).join(", ") || "no subsets"}`
        : "; no DestinationRule applies to this host";
    out.push({
      severity: "error",
      code: "IST0101",
      message: `subset "${subset}" of host "${host}" is not defined by any DestinationRule: requests routed to it fail with 503 (cluster not found)${hint}`,
      object: use.vs.ref,
      path: `${use.path}.subset`,
    });
  }
  return out;
}
