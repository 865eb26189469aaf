// Synthetic meshes for the benchmarks, built as typed objects (no YAML): N services spread over a
// few namespaces, each with one HTTP port, a VirtualService (header match to v2, then a 90/10
// v1/v2 split), a DestinationRule with subsets v1/v2, and one EndpointSlice of 10 endpoints whose
// targetRefs name 10 Pods (7 labelled version=v1, 3 version=v2).
//
// The "full" variant also sets retries, timeout, fault, mirror, corsPolicy, headers and rewrite on
// the routes, and consistentHash, connectionPool, outlierDetection, localityLbSetting (failover)
// and portLevelSettings on the rules, with Nodes in three localities under the Pods, so the
// translator's heavier paths (locality priorities per proxy included) run too. Every object is valid: `validateAll` runs
// them through the product's parser, and the bench refuses to measure invalid input.
import { parseObject } from "../../src/api/parse.js";
import type { DestinationRule, HTTPRoute, TrafficPolicy, VirtualService } from "../../src/api/istio-types.js";
import type { Endpoint, EndpointSlice, Namespace, Node, Pod, Service } from "../../src/api/kube-types.js";
import { SERVICE_NAME_LABEL } from "../../src/api/kube-types.js";
import { ISTIO_TLS_MODE, TLS_MODE_LABEL } from "../../src/model/names.js";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import type { MeshInput } from "../../src/model/input.js";
import { meshInputFrom } from "../../src/pipeline/mesh-input.js";

export type Variant = "basic" | "full";

export const NAMESPACES = 4;
export const ENDPOINTS_PER_SERVICE = 10;
export const SERVICE_PORT = 8080;
const V2_FROM = 7; // endpoints 0..6 are v1, 7..9 are v2
const CREATED = "2025-01-01T00:00:00Z";

/** The namespace and labels of the bench's proxies: by default every bench client shares one view. */
export const CLIENT_NAMESPACE = "bench-0";
export const CLIENT_LABELS = { app: "bench-client" } as const;

/**
 * How the bench clients' pod labels differ: all alike; every client its own Deployment (its own
 * `app`, `version` and `pod-template-hash`, as in a real mesh); or 10 Deployments. The generated
 * meshes select on none of these labels, so those three get the same config. "workloads" is a
 * real mesh's case: client k is a pod of service k mod N, in that service's namespace, with its
 * labels (so that Service selects it: the client has inbound listeners and a view of its own),
 * the injector's tls-mode label and a `version` and `pod-template-hash` of its own.
 */
export type LabelMode = "identical" | "distinct" | "groups" | "workloads";
export const LABEL_MODES: readonly LabelMode[] = ["identical", "distinct", "groups", "workloads"];
export const LABEL_GROUPS = 10;

/** The service whose pod bench client `k` is, in "workloads" mode. */
function workloadService(k: number, services: number): number {
  return k % services;
}

function clientLabels(k: number, mode: LabelMode, services: number): Record<string, string> {
  if (mode === "identical") return { ...CLIENT_LABELS };
  const hash = (d: number): string => (0x5d8f00 + d * 7919).toString(16);
  if (mode === "workloads") {
    const app = serviceName(workloadService(k, services));
    return { app, version: `v${k % 3}`, "pod-template-hash": hash(k), [TLS_MODE_LABEL]: ISTIO_TLS_MODE };
  }
  const d = mode === "distinct" ? k : k % LABEL_GROUPS;
  return { app: `bench-client-${d}`, version: `v${d % 3}`, "pod-template-hash": hash(d) };
}

/**
 * The xDS node of bench client `k` (Istio's sidecar id format) in a mesh of `services` services
 * (only "workloads" mode reads it).
 */
export function benchNode(k: number, mode: LabelMode = "identical", services = 1): { id: string; cluster: string; metadata: Record<string, unknown> } {
  const ip = `10.200.${(k >> 8) & 255}.${k & 255}`;
  const ns = mode === "workloads" ? namespaceOf(workloadService(k, services)) : CLIENT_NAMESPACE;
  const app = mode === "workloads" ? serviceName(workloadService(k, services)) : "bench-client";
  return {
    id: `sidecar~${ip}~${app}-${k}.${ns}~${ns}.svc.cluster.local`,
    cluster: `${app}.${ns}`,
    metadata: { LABELS: clientLabels(k, mode, services) },
  };
}

export function namespaceOf(i: number): string {
  return `bench-${i % NAMESPACES}`;
}

export function serviceName(i: number): string {
  return `svc-${i}`;
}

function ipOf(base: number, n: number): string {
  return `10.${base + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

function podName(i: number, j: number): string {
  return `svc-${i}-${j}`;
}

function podIp(i: number, j: number): string {
  return ipOf(128, i * ENDPOINTS_PER_SERVICE + j + 1);
}

export interface GeneratedMesh {
  readonly variant: Variant;
  readonly services: number;
  readonly objects: StoredObject<InputObject>[];
  /** Index of each service's EndpointSlice in `objects`, to swap in a changed one. */
  readonly sliceIndex: readonly number[];
  /** Index of each service's VirtualService in `objects`. */
  readonly vsIndex: readonly number[];
}

function service(i: number): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: serviceName(i), namespace: namespaceOf(i), labels: { app: serviceName(i) } },
    spec: {
      type: "ClusterIP",
      clusterIP: ipOf(96, i + 1),
      selector: { app: serviceName(i) },
      ports: [{ name: "http", port: SERVICE_PORT, targetPort: SERVICE_PORT, protocol: "TCP" }],
    },
  };
}

function pod(i: number, j: number): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podName(i, j), namespace: namespaceOf(i), labels: { app: serviceName(i), version: j < V2_FROM ? "v1" : "v2" } },
    spec: { nodeName: `node-${j % 3}`, containers: [{ name: "app", ports: [{ name: "http", containerPort: SERVICE_PORT, protocol: "TCP" }] }] },
    status: { phase: "Running", podIP: podIp(i, j), podIPs: [{ ip: podIp(i, j) }] },
  };
}

/** The EndpointSlice of service `i`; endpoints listed in `notReady` are marked not ready. */
export function endpointSlice(i: number, variant: Variant, notReady: ReadonlySet<number> = new Set()): EndpointSlice {
  const endpoints: Endpoint[] = [];
  for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) {
    endpoints.push({
      addresses: [podIp(i, j)],
      conditions: { ready: !notReady.has(j), serving: !notReady.has(j), terminating: false },
      nodeName: `node-${j % 3}`,
      ...(variant === "full" ? { zone: `zone-${j % 3}` } : {}),
      targetRef: { kind: "Pod", name: podName(i, j), namespace: namespaceOf(i) },
    });
  }
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${serviceName(i)}-abcde`, namespace: namespaceOf(i), labels: { [SERVICE_NAME_LABEL]: serviceName(i) } },
    addressType: "IPv4",
    ports: [{ name: "http", port: SERVICE_PORT, protocol: "TCP" }],
    endpoints,
  };
}

function fullRouteExtras(i: number, n: number): Partial<HTTPRoute> {
  const mirrorHost = serviceName((i + 1) % n);
  return {
    timeout: "10s",
    retries: { attempts: 3, perTryTimeout: "2s", retryOn: "5xx,connect-failure,503", retryRemoteLocalities: true },
    fault: { delay: { fixedDelay: "5s", percentage: { value: 0.1 } }, abort: { httpStatus: 503, percentage: { value: 0.1 } } },
    mirror: { host: `${mirrorHost}.${namespaceOf((i + 1) % n)}.svc.cluster.local` },
    mirrorPercentage: { value: 5 },
    corsPolicy: {
      allowOrigins: [{ exact: "https://example.com" }, { prefix: "https://app." }],
      allowMethods: ["GET", "POST"],
      allowHeaders: ["x-custom", "authorization"],
      exposeHeaders: ["x-request-id"],
      maxAge: "24h",
      allowCredentials: true,
    },
    headers: {
      request: { set: { "x-bench": "1" }, add: { "x-bench-trace": "on" }, remove: ["x-debug"] },
      response: { add: { "x-served-by": "meshpilot" }, remove: ["server"] },
    },
  };
}

function virtualService(i: number, n: number, variant: Variant, v1Weight = 90): VirtualService {
  const host = serviceName(i);
  const full = variant === "full";
  const extras = full ? fullRouteExtras(i, n) : {};
  const http: HTTPRoute[] = [
    {
      name: "canary-header",
      match: [{ name: "api", headers: { "x-canary": { exact: "true" } }, ...(full ? { uri: { prefix: "/api/" } } : {}) }],
      route: [{ destination: { host, subset: "v2", port: { number: SERVICE_PORT } } }],
      ...extras,
      ...(full ? { rewrite: { uri: "/v2/api/" } } : {}),
    },
    {
      name: "split",
      route: [
        { destination: { host, subset: "v1" }, weight: v1Weight, ...(full ? { headers: { request: { set: { "x-subset": "v1" } } } } : {}) },
        { destination: { host, subset: "v2" }, weight: 100 - v1Weight, ...(full ? { headers: { request: { set: { "x-subset": "v2" } } } } : {}) },
      ],
      ...extras,
    },
  ];
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: host, namespace: namespaceOf(i), creationTimestamp: CREATED },
    spec: { hosts: [host], http },
  };
}

const FULL_POLICY: TrafficPolicy = {
  loadBalancer: {
    consistentHash: { httpHeaderName: "x-user", ringHash: { minimumRingSize: 1024 } },
    localityLbSetting: { failover: [{ from: "region-a", to: "region-b" }] },
  },
  connectionPool: {
    tcp: { maxConnections: 100, connectTimeout: "3s", tcpKeepalive: { probes: 3, time: "7200s", interval: "75s" } },
    http: { http1MaxPendingRequests: 100, http2MaxRequests: 1000, maxRequestsPerConnection: 10, maxRetries: 3, idleTimeout: "30s" },
  },
  outlierDetection: {
    consecutive5xxErrors: 5,
    consecutiveGatewayErrors: 3,
    interval: "10s",
    baseEjectionTime: "30s",
    maxEjectionPercent: 50,
    minHealthPercent: 20,
  },
  portLevelSettings: [
    {
      port: { number: SERVICE_PORT },
      loadBalancer: {
        consistentHash: { httpCookie: { name: "session", path: "/", ttl: "3600s" } },
        localityLbSetting: { failoverPriority: ["topology.kubernetes.io/region", "version"] },
      },
      connectionPool: {
        tcp: { maxConnections: 200, connectTimeout: "2s" },
        http: { http2MaxRequests: 2000, maxRetries: 5, h2UpgradePolicy: "DO_NOT_UPGRADE" },
      },
      outlierDetection: { consecutive5xxErrors: 7, interval: "5s", baseEjectionTime: "15s", maxEjectionPercent: 30 },
    },
  ],
};

function destinationRule(i: number, variant: Variant): DestinationRule {
  const full = variant === "full";
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: serviceName(i), namespace: namespaceOf(i), creationTimestamp: CREATED },
    spec: {
      host: serviceName(i),
      ...(full ? { trafficPolicy: FULL_POLICY } : {}),
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        {
          name: "v2",
          labels: { version: "v2" },
          ...(full
            ? { trafficPolicy: { connectionPool: { http: { http1MaxPendingRequests: 10, idleTimeout: "10s" } }, loadBalancer: { simple: "ROUND_ROBIN" } } }
            : {}),
        },
      ],
    },
  };
}

/** The Nodes the Pods run on (`node-0..2`): two zones of region-a and one of region-b. */
function node(n: number): Node {
  const labels = { "topology.kubernetes.io/region": n < 2 ? "region-a" : "region-b", "topology.kubernetes.io/zone": `zone-${n}` };
  return { apiVersion: "v1", kind: "Node", metadata: { name: `node-${n}`, labels } };
}

function namespace(k: number): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: `bench-${k}`, labels: { "istio-injection": "enabled" } } };
}

export function generateMesh(services: number, variant: Variant): GeneratedMesh {
  const objects: StoredObject<InputObject>[] = [];
  const sliceIndex: number[] = [];
  const vsIndex: number[] = [];
  for (let k = 0; k < Math.min(NAMESPACES, services); k++) objects.push({ object: namespace(k) });
  if (variant === "full") for (let n = 0; n < 3; n++) objects.push({ object: node(n) });
  for (let i = 0; i < services; i++) {
    objects.push({ object: service(i) });
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) objects.push({ object: pod(i, j) });
    sliceIndex.push(objects.length);
    objects.push({ object: endpointSlice(i, variant) });
    vsIndex.push(objects.length);
    objects.push({ object: virtualService(i, services, variant) });
    objects.push({ object: destinationRule(i, variant) });
  }
  return { variant, services, objects, sliceIndex, vsIndex };
}

export function inputOf(mesh: GeneratedMesh): MeshInput {
  return meshInputFrom(mesh.objects);
}

/** A copy of `mesh` where service `i`'s EndpointSlice has the endpoints in `notReady` not ready. */
export function withEndpointChange(mesh: GeneratedMesh, i: number, notReady: ReadonlySet<number>): GeneratedMesh {
  const objects = [...mesh.objects];
  objects[mesh.sliceIndex[i]!] = { object: endpointSlice(i, mesh.variant, notReady) };
  return { ...mesh, objects };
}

/** A copy of `mesh` where service `i`'s VirtualService splits `v1Weight` / 100 - `v1Weight` between v1 and v2. */
export function withWeightEdit(mesh: GeneratedMesh, i: number, v1Weight: number): GeneratedMesh {
  const objects = [...mesh.objects];
  objects[mesh.vsIndex[i]!] = { object: virtualService(i, mesh.services, mesh.variant, v1Weight) };
  return { ...mesh, objects };
}

/** Run every object through the product's parser/validator; returns the problems found. */
export function validateAll(mesh: GeneratedMesh): string[] {
  const problems: string[] = [];
  for (const { object } of mesh.objects) {
    const r = parseObject({ value: JSON.parse(JSON.stringify(object)) as unknown });
    const where = `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`;
    if (r.status !== "valid") problems.push(`${where}: ${r.status}: ${r.diagnostics.map((d) => `${d.path ?? ""} ${d.message}`).join("; ")}`);
    else for (const d of r.diagnostics) if (d.severity !== "info") problems.push(`${where}: ${d.severity} ${d.path ?? ""} ${d.message}`);
  }
  return problems;
}
