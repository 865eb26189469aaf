import type { Diagnostic } from "../api/diagnostics.js";
import { buildSecurityPolicies } from "./authz/policies.js";
import { buildCredentials } from "./credentials.js";
import { buildGateways, missingGatewayFindings } from "./gateways.js";
import { convertGatewayApi, type GatewayApiResult } from "./gateway-api/convert.js";
import { buildEndpoints, type EndpointState } from "./endpoints.js";
import type { MeshInput } from "./input.js";
import type { EndpointModel, MeshModel } from "./ir.js";
import { sameIdentities, serviceIdentities } from "./identity.js";
import { DEFAULT_MESH_CONFIG, DEFAULT_TRUST_DOMAIN, type MeshConfig } from "./mesh-config.js";
import { buildPeerAuthentications } from "./peer-authentication.js";
import { DEFAULT_DOMAIN } from "./names.js";
import { buildDestinationRules } from "./policies.js";
import { buildVirtualServices } from "./routing.js";
import { buildServiceEntries } from "./service-entries.js";
import { podNamedPorts, type PodPortsModel } from "./named-ports.js";
import { buildServices } from "./services.js";
import { buildSidecars, shortEgressHosts } from "./sidecar-scope.js";
import { buildTelemetries } from "./telemetry.js";
import { withExtraEndpoints, workloadEntryServiceEndpoints } from "./workload-entries.js";

/** A model and what an endpoint-only rebuild of it reuses. */
export interface MeshBuild {
  readonly mesh: MeshModel;
  readonly domain: string;
  readonly serviceDiagnostics: readonly Diagnostic[];
  readonly routingDiagnostics: readonly Diagnostic[];
  readonly endpoints: EndpointState;
  /** Endpoints that do not come from EndpointSlices (ServiceEntries, WorkloadEntries), kept by endpoint-only rebuilds. */
  readonly entryEndpoints: ReadonlyMap<string, readonly EndpointModel[]>;
  /**
   * From `rebuildEndpoints`: the services whose endpoint lists changed (new arrays, or gone);
   * every other service port kept its array. Undefined after a full build, and when pods' named
   * ports changed (inbound listeners depend on them).
   */
  readonly changedHosts?: ReadonlySet<string>;
}

/** Store snapshot → mesh model. Pure: the same input always gives the same model. */
export function buildMesh(input: MeshInput, domain = DEFAULT_DOMAIN, meshConfig: MeshConfig = DEFAULT_MESH_CONFIG): MeshModel {
  return buildMeshState(input, domain, meshConfig).mesh;
}

export function buildMeshState(input: MeshInput, domain = DEFAULT_DOMAIN, meshConfig: MeshConfig = DEFAULT_MESH_CONFIG): MeshBuild {
  const kube = buildServices(input.services, domain);
  const entries = buildServiceEntries(input.serviceEntries ?? [], input.workloadEntries ?? [], kube.services);
  const svc = {
    ...kube,
    services: entries.services.size ? sortedUnion(kube.services, entries.services) : kube.services,
    diagnostics: [...kube.diagnostics, ...entries.diagnostics],
  };
  const eps = buildEndpoints(input.endpointSlices, input.pods, kube.services, domain, undefined, input.nodes);
  const entryEndpoints = new Map([...entries.endpoints, ...workloadEntryServiceEndpoints(input.services, kube.services, input.workloadEntries ?? [], domain)]);
  const credentials = buildCredentials(input.secrets ?? []);
  const gwapi = gatewayApiOf(input, domain, credentials);
  const vs = buildVirtualServices(gwapi ? [...input.virtualServices, ...gwapi.virtualServices] : input.virtualServices, domain);
  const sc = buildSidecars(input.sidecars ?? [], input.pods);
  const gateways = buildGateways(gwapi ? [...(input.gateways ?? []), ...gwapi.gateways] : (input.gateways ?? []));
  const security = buildSecurityPolicies(input.authorizationPolicies ?? [], input.requestAuthentications ?? []);
  const pa = buildPeerAuthentications(input.peerAuthentications ?? [], meshConfig.rootNamespace);
  const telemetry = input.telemetries?.length ? buildTelemetries(input.telemetries, meshConfig) : undefined;
  const routingDiagnostics = [
    ...vs.diagnostics,
    ...sc.diagnostics,
    ...shortEgressHosts(sc.sidecars, svc.services, domain),
    ...missingGatewayFindings(gateways, vs.virtualServices),
    ...(gwapi?.diagnostics ?? []),
    ...security.diagnostics,
    ...pa.diagnostics,
    ...(telemetry?.diagnostics ?? []),
  ];
  const endpoints = withExtraEndpoints(eps.endpoints, entryEndpoints);
  const podPorts = podNamedPorts(svc.services, input.pods);
  return {
    mesh: {
      services: svc.services,
      endpoints,
      virtualServices: vs.virtualServices,
      destinationRules: buildDestinationRules(input.destinationRules, domain),
      credentials,
      ...(gwapi
        ? {
            gatewayApi: {
              gateways: gwapi.gateways,
              status: gwapi.status,
              deployments: gwapi.deployments,
              referenceGrants: (input.referenceGrants ?? []).map((g) => g.object),
            },
          }
        : {}),
      ...(sc.sidecars.length ? { sidecars: sc.sidecars } : {}),
      ...(gateways.length ? { gateways } : {}),
      meshConfig,
      aliases: svc.aliases,
      ...(podPorts.length ? { podPorts } : {}),
      ...(security.authorizationPolicies.length || security.requestAuthentications.length ? { security } : {}),
      identities: serviceIdentities(svc.services, endpoints, meshConfig.trustDomain ?? DEFAULT_TRUST_DOMAIN),
      ...(pa.peerAuthentications.byNamespace.size ? { peerAuthentications: pa.peerAuthentications } : {}),
      ...(telemetry?.telemetries.byNamespace.size ? { telemetries: telemetry.telemetries } : {}),
      diagnostics: [...svc.diagnostics, ...eps.diagnostics, ...routingDiagnostics],
    },
    domain,
    serviceDiagnostics: svc.diagnostics,
    routingDiagnostics,
    endpoints: eps.state,
    entryEndpoints,
  };
}

/** The Gateway API converted to Istio objects, when the input has any of its objects. */
function gatewayApiOf(input: MeshInput, domain: string, credentials: ReturnType<typeof buildCredentials>): GatewayApiResult | undefined {
  const any = [input.gatewayClasses, input.kubernetesGateways, input.httpRoutes, input.grpcRoutes, input.tcpRoutes, input.tlsRoutes].some(
    (l) => (l?.length ?? 0) > 0,
  );
  if (!any) return undefined;
  return convertGatewayApi(
    {
      gatewayClasses: input.gatewayClasses ?? [],
      gateways: input.kubernetesGateways ?? [],
      httpRoutes: input.httpRoutes ?? [],
      grpcRoutes: input.grpcRoutes ?? [],
      tcpRoutes: input.tcpRoutes ?? [],
      tlsRoutes: input.tlsRoutes ?? [],
      referenceGrants: input.referenceGrants ?? [],
      services: input.services,
      namespaces: input.namespaces,
      credentials,
    },
    { domain },
  );
}

function sortedUnion<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>): Map<string, T> {
  return new Map([...a, ...b].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/**
 * The model for `input` when only EndpointSlices, Pods and Nodes differ from `previous`'s input: services,
 * routes and policies are kept (the same objects), and only the services whose slices or pods
 * changed get new endpoint lists; the others keep theirs (the same arrays). Equal to
 * `buildMeshState(input)` in content. When the change alters a service's identities (its
 * workloads' service accounts or mesh membership), which clusters depend on, it is a full build.
 */
export function rebuildEndpoints(previous: MeshBuild, input: MeshInput): MeshBuild {
  const { mesh, domain } = previous;
  const config = mesh.meshConfig ?? DEFAULT_MESH_CONFIG;
  const eps = buildEndpoints(input.endpointSlices, input.pods, mesh.services, domain, previous.endpoints, input.nodes);
  const endpoints = withExtraEndpoints(eps.endpoints, previous.entryEndpoints);
  const before = mesh.identities ?? new Map();
  const identities = serviceIdentities(mesh.services, endpoints, config.trustDomain ?? DEFAULT_TRUST_DOMAIN, { identities: before, hosts: eps.changedHosts });
  if (!sameIdentities(before, identities, eps.changedHosts)) return buildMeshState(input, domain, config);
  const podPorts = podNamedPorts(mesh.services, input.pods);
  // A pod's named ports give inbound listeners their ports: when they change, views translate again.
  const portsChanged = !samePodPorts(mesh.podPorts ?? [], podPorts);
  const { podPorts: _old, ...rest } = mesh;
  return {
    ...previous,
    mesh: {
      ...rest,
      ...(podPorts.length ? { podPorts: portsChanged ? podPorts : mesh.podPorts! } : {}),
      endpoints,
      identities,
      diagnostics: [...previous.serviceDiagnostics, ...eps.diagnostics, ...previous.routingDiagnostics],
    },
    endpoints: eps.state,
    changedHosts: portsChanged ? undefined : eps.changedHosts,
  };
}

function samePodPorts(a: readonly PodPortsModel[], b: readonly PodPortsModel[]): boolean {
  return a.length === b.length && JSON.stringify(a) === JSON.stringify(b);
}
