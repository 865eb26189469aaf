/**
 * MP0901: a Sidecar whose egress hides a host that a VirtualService its proxies use routes to.
 * The proxy gets the route but no cluster for the destination, so those requests fail with 503
 * (cluster not found) although both objects look right on their own. Istio has no analyzer for
 * this. A root-namespace Sidecar is judged for proxies of its own namespace (`.` resolves there).
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { MeshModel } from "../model/ir.js";
import { resolveHost } from "../model/names.js";
import { sidecarVirtualServices } from "../model/routing.js";
import { aliasTargets } from "../model/scope.js";
import { importsService, importsVirtualService } from "../model/sidecar-scope.js";
import { serviceVisible } from "../model/visibility.js";
import { AnalyzeCodes } from "./codes.js";
import { destinationsOf } from "./destinations.js";

export function sidecarHiddenDestinations(mesh: MeshModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const aliasTarget = aliasTargets(mesh);
  for (const sc of mesh.sidecars ?? []) {
    const ns = sc.namespace;
    const visible = sidecarVirtualServices(mesh.virtualServices, ns);
    const seen = new Set<string>();
    sc.egress.forEach((listener, k) => {
      for (const vs of visible.filter((v) => importsVirtualService(listener, v, ns))) {
        for (const use of destinationsOf(vs)) {
          const named = resolveHost(use.destination.host, vs.namespace);
          const host = aliasTarget?.(named) ?? named;
          const svc = mesh.services.get(host);
          // A host that is no service is IST0101's; one not exported to this namespace is hidden by its owner, not the Sidecar.
          if (!svc || !serviceVisible(svc, ns, mesh.meshConfig)) continue;
          if (sc.egress.some((l) => importsService(l, host, svc.namespace, ns))) continue;
          const key = `${vs.namespace}/${vs.name}|${use.path}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({
            severity: "error",
            code: AnalyzeCodes.SidecarHidesDestination,
            message: `the egress hosts do not include "${svc.namespace}/${host}", which VirtualService ${vs.namespace}/${vs.name} (${use.path}) routes to: the proxies this Sidecar applies to get that route but no cluster for it, so those requests fail with 503 (cluster not found); add the host to the egress hosts or route elsewhere`,
            object: sc.ref,
            path: `spec.egress[${k}].hosts`,
          });
        }
      }
    });
  }
  return out;
}
