import type { Diagnostic } from "../api/diagnostics.js";
import { buildSecurityPolicies } from "./authz/policies.js";
import { buildCredentials } from "./credentials.js";
import { buildGateways, missingGatewayFindings } from "./gateways.js";
import { convertGatewayApi, type GatewayApiResult } from "./gateway-api/convert.js";
import { buildEndpoints, type EndpointState } from "./endpoints.js";
import type { MeshInput } from "./input.js";
import type { DestinationRuleModel, EndpointModel, MeshModel, VirtualServiceModel } from "./ir.js";
import { sameIdentities, serviceIdentities } from "./identity.js";
import { DEFAULT_MESH_CONFIG, DEFAULT_TRUST_DOMAIN, type MeshConfig } from "./mesh-config.js";
import { buildPeerAuthentications } from "./peer-authentication.js";
import { DEFAULT_DOMAIN } from "./names.js";
import { buildDestinationRules } from "./policies.js";
import { buildVirtualServices } from "./routing.js";
import { buildServiceEntries } from "./service-entries.js";
import { podNamedPorts, type PodPortsModel } from "./named-ports.js";
import { buildServices } from "./services.js";
import { buildSidecars, podsDecideSidecarFindings, shortEgressHosts } from "./sidecar-scope.js";
import { buildTelemetries } from "./telemetry.js";
import { withExtraEndpoints, workloadEntryServiceEndpoints } from "./workload-entries.js";
import { keepEqualItems, keepEqualValues, Steps, withoutSteps, type KeptSteps } from "./keep.js";

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
  /** The build's step results, which the next build reuses where its inputs are the same objects (keep.ts). */
  readonly steps?: KeptSteps;
  /** The steps this build worked out (not taken from the previous one), for tests. */
  readonly computed?: readonly string[];
}

/** Store snapshot → mesh model. Pure: the same input always gives the same model. */
export function buildMesh(input: MeshInput, domain = DEFAULT_DOMAIN, meshConfig: MeshConfig = DEFAULT_MESH_CONFIG): MeshModel {
  return buildMeshState(input, domain, meshConfig).mesh;
}

/** The steps that read endpoints (an endpoint-only rebuild leaves them stale). */
const ENDPOINT_STEPS = ["endpoints", "endpointMap", "podPorts", "identities", "sidecars"];

const vsKey = (vs: VirtualServiceModel): string => `${vs.ref.kind}/${vs.namespace}/${vs.name}`;
const drKey = (dr: DestinationRuleModel): string => `${dr.namespace}/${dr.name}`;

/**
 * With `previous` (the last build, of the same domain and mesh config), what its inputs left
 * unchanged is taken from it, and what is rebuilt keeps its objects where equal (keep.ts): the
 * model equals a build from scratch in content, and an unchanged service, route or rule is the
 * same object as in `previous`.
 */
export function buildMeshState(input: MeshInput, domain = DEFAULT_DOMAIN, meshConfig: MeshConfig = DEFAULT_MESH_CONFIG, previous?: MeshBuild): MeshBuild {
  const steps = new Steps(previous?.domain === domain && previous.mesh.meshConfig === meshConfig ? previous.steps : undefined);
  const kube = steps.run(
    "services",
    [input.services],
    () => buildServices(input.services, domain),
    (p, n) => ({ ...n, services: keepEqualValues(p.services, n.services), aliases: keepEqualValues(p.aliases, n.aliases) }),
  );
  const entries = steps.run(
    "serviceEntries",
    [input.serviceEntries ?? [], input.workloadEntries ?? [], kube.services],
    () => buildServiceEntries(input.serviceEntries ?? [], input.workloadEntries ?? [], kube.services),
    (p, n) => ({ ...n, services: keepEqualValues(p.services, n.services), endpoints: keepEqualValues(p.endpoints, n.endpoints) }),
  );
  const services = steps.run("registry", [kube.services, entries.services], () =>
    entries.services.size ? sortedUnion(kube.services, entries.services) : kube.services,
  );
  const svc = { ...kube, services, diagnostics: [...kube.diagnostics, ...entries.diagnostics] };
  const eps = steps.run("endpoints", [input.endpointSlices, input.pods, kube.services, input.nodes ?? []], () =>
    buildEndpoints(input.endpointSlices, input.pods, kube.services, domain, previous?.endpoints, input.nodes),
  );
  const entryEndpoints = steps.run(
    "entryEndpoints",
    [entries.endpoints, input.services, kube.services, input.workloadEntries ?? []],
    () => new Map([...entries.endpoints, ...workloadEntryServiceEndpoints(input.services, kube.services, input.workloadEntries ?? [], domain)]),
    keepEqualValues,
  );
  const credentials = steps.run("credentials", [input.secrets ?? []], () => buildCredentials(input.secrets ?? []), keepEqualValues);
  const gwapi = steps.run(
    "gatewayApi",
    [
      input.gatewayClasses ?? [],
      input.kubernetesGateways ?? [],
      input.httpRoutes ?? [],
      input.grpcRoutes ?? [],
      input.tcpRoutes ?? [],
      input.tlsRoutes ?? [],
      input.referenceGrants ?? [],
      input.services,
      input.namespaces ?? [],
      credentials,
    ],
    () => gatewayApiOf(input, domain, credentials),
  );
  const vs = steps.run(
    "virtualServices",
    [input.virtualServices, gwapi],
    () => buildVirtualServices(gwapi ? [...input.virtualServices, ...gwapi.virtualServices] : input.virtualServices, domain),
    (p, n) => ({ ...n, virtualServices: keepEqualItems(p.virtualServices, n.virtualServices, vsKey) as VirtualServiceModel[] }),
  );
  const sc = steps.run("sidecars", [input.sidecars ?? [], input.pods], () => buildSidecars(input.sidecars ?? [], input.pods));
  const gateways = steps.run("gateways", [input.gateways ?? [], gwapi], () =>
    buildGateways(gwapi ? [...(input.gateways ?? []), ...gwapi.gateways] : (input.gateways ?? [])),
  );
  const security = steps.run("security", [input.authorizationPolicies ?? [], input.requestAuthentications ?? []], () =>
    buildSecurityPolicies(input.authorizationPolicies ?? [], input.requestAuthentications ?? []),
  );
  const pa = steps.run("peerAuthentications", [input.peerAuthentications ?? []], () =>
    buildPeerAuthentications(input.peerAuthentications ?? [], meshConfig.rootNamespace),
  );
  const telemetry = steps.run("telemetries", [input.telemetries ?? []], () =>
    input.telemetries?.length ? buildTelemetries(input.telemetries, meshConfig) : undefined,
  );
  const destinationRules = steps.run(
    "destinationRules",
    [input.destinationRules],
    () => buildDestinationRules(input.destinationRules, domain),
    (p, n) => keepEqualItems(p, n, drKey) as DestinationRuleModel[],
  );
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
  const endpoints = steps.run("endpointMap", [eps.endpoints, entryEndpoints], () => withExtraEndpoints(eps.endpoints, entryEndpoints));
  const podPorts = steps.run("podPorts", [svc.services, input.pods], () => podNamedPorts(svc.services, input.pods));
  const identities = steps.run(
    "identities",
    [svc.services, endpoints],
    () => serviceIdentities(svc.services, endpoints, meshConfig.trustDomain ?? DEFAULT_TRUST_DOMAIN),
    keepEqualValues,
  );
  return {
    mesh: {
      services: svc.services,
      endpoints,
      virtualServices: vs.virtualServices,
      destinationRules,
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
      identities,
      ...(pa.peerAuthentications.byNamespace.size ? { peerAuthentications: pa.peerAuthentications } : {}),
      ...(telemetry?.telemetries.byNamespace.size ? { telemetries: telemetry.telemetries } : {}),
      diagnostics: [...svc.diagnostics, ...eps.diagnostics, ...routingDiagnostics],
    },
    domain,
    serviceDiagnostics: svc.diagnostics,
    routingDiagnostics,
    endpoints: eps.state,
    entryEndpoints,
    steps: steps.kept,
    computed: steps.computed,
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
  // Pods can change a Sidecar finding: the full build, with its kept steps, checks it again.
  if (podsDecideSidecarFindings(mesh.sidecars ?? [])) return buildMeshState(input, domain, config, previous);
  const eps = buildEndpoints(input.endpointSlices, input.pods, mesh.services, domain, previous.endpoints, input.nodes);
  const endpoints = withExtraEndpoints(eps.endpoints, previous.entryEndpoints);
  const before = mesh.identities ?? new Map();
  const fresh = serviceIdentities(mesh.services, endpoints, config.trustDomain ?? DEFAULT_TRUST_DOMAIN, { identities: before, hosts: eps.changedHosts });
  if (!sameIdentities(before, fresh, eps.changedHosts)) return buildMeshState(input, domain, config, previous);
  // The same identities keep the same map: what is kept while they are (a view's outbound
  // services and the port scopes built on them) stays kept for the next route edit.
  const identities = mesh.identities ? before : fresh;
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
    ...(previous.steps
      ? {
          steps: endpointSteps(previous.steps, input, mesh.services, {
            eps,
            endpoints,
            podPorts: portsChanged ? podPorts : (mesh.podPorts ?? podPorts),
            identities,
          }),
        }
      : {}),
  };
}

/**
 * The kept steps after an endpoint-only rebuild: the endpoint steps as buildMeshState would have
 * recorded them for `input` (so that the next full build, a route edit between endpoint changes,
 * does not work every endpoint out again), others as they were. Where this rebuild's results are
 * not those steps' (a registry with ServiceEntries: the endpoints step reads the Services alone),
 * they are dropped, not held until the next full build.
 */
function endpointSteps(
  steps: KeptSteps,
  input: MeshInput,
  services: MeshModel["services"],
  r: { eps: unknown; endpoints: MeshModel["endpoints"]; podPorts: readonly PodPortsModel[]; identities: MeshModel["identities"] },
): KeptSteps {
  const endpoints = steps.get("endpoints");
  const entryEndpoints = steps.get("endpointMap")?.inputs[1];
  if (!endpoints || endpoints.inputs[2] !== services || entryEndpoints === undefined) return withoutSteps(steps, ENDPOINT_STEPS);
  const out = new Map(withoutSteps(steps, ENDPOINT_STEPS));
  const epsEndpoints = (r.eps as { endpoints: unknown }).endpoints;
  out.set("endpoints", { inputs: [input.endpointSlices, input.pods, services, input.nodes ?? []], value: r.eps });
  out.set("endpointMap", { inputs: [epsEndpoints, entryEndpoints], value: r.endpoints });
  out.set("podPorts", { inputs: [services, input.pods], value: r.podPorts });
  out.set("identities", { inputs: [services, r.endpoints], value: r.identities });
  return out;
}

function samePodPorts(a: readonly PodPortsModel[], b: readonly PodPortsModel[]): boolean {
  return a.length === b.length && JSON.stringify(a) === JSON.stringify(b);
}
