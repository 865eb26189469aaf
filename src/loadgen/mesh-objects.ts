// The objects of a synthetic mesh, as a user would write them: N services spread over a few
// namespaces, each with one HTTP port, a VirtualService (header match to v2, then a 90/10 v1/v2
// split), a DestinationRule with subsets v1/v2, and one EndpointSlice of 10 endpoints whose
// targetRefs name 10 Pods (7 labelled version=v1, 3 version=v2).
//
// The "full" variant also sets retries, timeout, fault, mirror, corsPolicy, headers and rewrite on
// the routes, and consistentHash, connectionPool, outlierDetection, localityLbSetting (failover)
// and portLevelSettings on the rules, with Nodes in three localities under the Pods, so that a
// server's heavier paths (locality priorities per proxy included) run too.
// Shared by the load generator (which writes them to files or a kube-apiserver) and the benchmarks.
import type { DestinationRule, HTTPRoute, TrafficPolicy, VirtualService } from "../api/istio-types.js";
import type { Endpoint, EndpointSlice, Namespace, Node, Pod, Service } from "../api/kube-types.js";
import { SERVICE_NAME_LABEL } from "../api/kube-types.js";

export type Variant = "basic" | "full";

export const NAMESPACES = 4;
export const ENDPOINTS_PER_SERVICE = 10;
export const SERVICE_PORT = 8080;
const V2_FROM = 7; // endpoints 0..6 are v1, 7..9 are v2
const CREATED = "2025-01-01T00:00:00Z";
/** The request header whose value marks a VirtualService edit (see changes.ts). */
export const MARK_HEADER = "x-loadgen-change";

export function namespaceOf(i: number): string {
  return `bench-${i % NAMESPACES}`;
}

export function serviceName(i: number): string {
  return `svc-${i}`;
}

function ipOf(base: number, n: number): string {
  return `10.${base + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

export function podName(i: number, j: number): string {
  return `svc-${i}-${j}`;
}

export function podIp(i: number, j: number): string {
  return ipOf(128, i * ENDPOINTS_PER_SERVICE + j + 1);
}

export function service(i: number): Service {
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

/** Where endpoint `j` of a service runs after its pod was replaced. */
export interface MovedEndpoint {
  readonly pod: string;
  readonly ip: string;
}

/** What the sidecar injector labels a pod with: it is a mesh member, reached with mTLS. */
export const INJECTED_LABELS: Readonly<Record<string, string>> = { "security.istio.io/tlsMode": "istio" };

/** Pod `j` of service `i` (or the pod that replaced it), `injected` with a sidecar or not. */
export function pod(i: number, j: number, moved?: MovedEndpoint, injected = false): Pod {
  const ip = moved?.ip ?? podIp(i, j);
  const labels = { app: serviceName(i), version: j < V2_FROM ? "v1" : "v2", ...(injected ? INJECTED_LABELS : {}) };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: moved?.pod ?? podName(i, j), namespace: namespaceOf(i), labels },
    spec: { nodeName: `node-${j % 3}`, containers: [{ name: "app", ports: [{ name: "http", containerPort: SERVICE_PORT, protocol: "TCP" }] }] },
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
  };
}

/**
 * The EndpointSlice of service `i`; endpoints listed in `notReady` are marked not ready;
 * those in `moved` run in pods that replaced the generated ones.
 */
export function endpointSlice(
  i: number,
  variant: Variant,
  notReady: ReadonlySet<number> = new Set(),
  moved: ReadonlyMap<number, MovedEndpoint> = new Map(),
): EndpointSlice {
  const endpoints: Endpoint[] = [];
  for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) {
    endpoints.push({
      addresses: [moved.get(j)?.ip ?? podIp(i, j)],
      conditions: { ready: !notReady.has(j), serving: !notReady.has(j), terminating: false },
      nodeName: `node-${j % 3}`,
      ...(variant === "full" ? { zone: `zone-${j % 3}` } : {}),
      targetRef: { kind: "Pod", name: moved.get(j)?.pod ?? podName(i, j), namespace: namespaceOf(i) },
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

/** Service `i`'s VirtualService; `mark` sets MARK_HEADER on the split route's requests. */
export function virtualService(i: number, n: number, variant: Variant, v1Weight = 90, mark?: string): VirtualService {
  const host = serviceName(i);
  const full = variant === "full";
  const extras = full ? fullRouteExtras(i, n) : {};
  const marked: Partial<HTTPRoute> =
    mark === undefined
      ? extras
      : { ...extras, headers: { ...extras.headers, request: { ...extras.headers?.request, set: { ...extras.headers?.request?.set, [MARK_HEADER]: mark } } } };
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
      ...marked,
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

export function destinationRule(i: number, variant: Variant): DestinationRule {
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
export function node(n: number): Node {
  const labels = { "topology.kubernetes.io/region": n < 2 ? "region-a" : "region-b", "topology.kubernetes.io/zone": `zone-${n}` };
  return { apiVersion: "v1", kind: "Node", metadata: { name: `node-${n}`, labels } };
}

export function namespace(k: number): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: `bench-${k}`, labels: { "istio-injection": "enabled" } } };
}
