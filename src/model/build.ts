import type { Diagnostic } from "../api/diagnostics.js";
import { buildEndpoints } from "./endpoints.js";
import type { MeshInput } from "./input.js";
import type { MeshModel } from "./ir.js";
import { DEFAULT_DOMAIN } from "./names.js";
import { buildDestinationRules } from "./policies.js";
import { buildVirtualServices } from "./routing.js";
import { buildServices } from "./services.js";

/** Store snapshot → mesh model. Pure: the same input always gives the same model. */
export function buildMesh(input: MeshInput, domain = DEFAULT_DOMAIN): MeshModel {
  const diagnostics: Diagnostic[] = [];
  const svc = buildServices(input.services, domain);
  diagnostics.push(...svc.diagnostics);
  const eps = buildEndpoints(input.endpointSlices, input.pods, svc.services, domain);
  diagnostics.push(...eps.diagnostics);
  const vs = buildVirtualServices(input.virtualServices, domain);
  diagnostics.push(...vs.diagnostics);
  return {
    services: svc.services,
    endpoints: eps.endpoints,
    virtualServices: vs.virtualServices,
    destinationRules: buildDestinationRules(input.destinationRules, domain),
    diagnostics,
  };
}
