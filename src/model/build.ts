import type { Diagnostic } from "../api/diagnostics.js";
import { buildCredentials } from "./credentials.js";
import { buildEndpoints, type EndpointState } from "./endpoints.js";
import type { MeshInput } from "./input.js";
import type { MeshModel } from "./ir.js";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "./mesh-config.js";
import { DEFAULT_DOMAIN } from "./names.js";
import { buildDestinationRules } from "./policies.js";
import { buildVirtualServices } from "./routing.js";
import { buildServices } from "./services.js";
import { buildSidecars } from "./sidecar-scope.js";

/** A model and what an endpoint-only rebuild of it reuses. */
export interface MeshBuild {
  readonly mesh: MeshModel;
  readonly domain: string;
  readonly serviceDiagnostics: readonly Diagnostic[];
  readonly routingDiagnostics: readonly Diagnostic[];
  readonly endpoints: EndpointState;
  /**
   * From `rebuildEndpoints`: the services whose endpoint lists changed (new arrays, or gone);
   * every other service port kept its array. Undefined after a full build.
   */
  readonly changedHosts?: ReadonlySet<string>;
}

/** Store snapshot → mesh model. Pure: the same input always gives the same model. */
export function buildMesh(input: MeshInput, domain = DEFAULT_DOMAIN, meshConfig: MeshConfig = DEFAULT_MESH_CONFIG): MeshModel {
  return buildMeshState(input, domain, meshConfig).mesh;
}

export function buildMeshState(input: MeshInput, domain = DEFAULT_DOMAIN, meshConfig: MeshConfig = DEFAULT_MESH_CONFIG): MeshBuild {
  const svc = buildServices(input.services, domain);
  const eps = buildEndpoints(input.endpointSlices, input.pods, svc.services, domain, undefined, input.nodes);
  const vs = buildVirtualServices(input.virtualServices, domain);
  const sc = buildSidecars(input.sidecars ?? []);
  const routingDiagnostics = [...vs.diagnostics, ...sc.diagnostics];
  return {
    mesh: {
      services: svc.services,
      endpoints: eps.endpoints,
      virtualServices: vs.virtualServices,
      destinationRules: buildDestinationRules(input.destinationRules, domain),
      credentials: buildCredentials(input.secrets ?? []),
      ...(sc.sidecars.length ? { sidecars: sc.sidecars } : {}),
      meshConfig,
      aliases: svc.aliases,
      diagnostics: [...svc.diagnostics, ...eps.diagnostics, ...routingDiagnostics],
    },
    domain,
    serviceDiagnostics: svc.diagnostics,
    routingDiagnostics,
    endpoints: eps.state,
  };
}

/**
 * The model for `input` when only EndpointSlices, Pods and Nodes differ from `previous`'s input: services,
 * routes and policies are kept (the same objects), and only the services whose slices or pods
 * changed get new endpoint lists; the others keep theirs (the same arrays). Equal to
 * `buildMeshState(input)` in content.
 */
export function rebuildEndpoints(previous: MeshBuild, input: MeshInput): MeshBuild {
  const { mesh, domain } = previous;
  const eps = buildEndpoints(input.endpointSlices, input.pods, mesh.services, domain, previous.endpoints, input.nodes);
  return {
    ...previous,
    mesh: { ...mesh, endpoints: eps.endpoints, diagnostics: [...previous.serviceDiagnostics, ...eps.diagnostics, ...previous.routingDiagnostics] },
    endpoints: eps.state,
    changedHosts: eps.changedHosts,
  };
}
