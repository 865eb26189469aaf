// The mesh a load run drives: the generated objects (mesh-objects.ts) plus what churn changed so
// far (replaced pods, edited splits). Pure: drivers write what it returns.
import type { InputObject } from "../api/objects.js";
import {
  ENDPOINTS_PER_SERVICE,
  NAMESPACES,
  SERVICE_PORT,
  destinationRule,
  endpointSlice,
  namespace,
  namespaceOf,
  node,
  pod,
  podIp,
  podName,
  service,
  serviceName,
  virtualService,
  type MovedEndpoint,
  type Variant,
} from "./mesh-objects.js";
import type { ProxyWorkload } from "./node.js";

export interface MeshShape {
  readonly services: number;
  readonly variant: Variant;
  /**
   * The pods run injected sidecars (label `security.istio.io/tlsMode: istio`), so that clients
   * reach them with auto mTLS and the workload certificates of a secure port (default false: the
   * plaintext figures stay comparable, without the mTLS endpoint metadata).
   */
  readonly injected?: boolean;
}

/** Istio's name of the cluster of service `i`'s port (no subset), which every sidecar of the mesh receives. */
export function serviceClusterName(i: number): string {
  return `outbound|${SERVICE_PORT}||${serviceName(i)}.${namespaceOf(i)}.svc.cluster.local`;
}

export class LoadMesh {
  /** "i/j" → the pod that replaced endpoint j of service i. */
  private readonly moved = new Map<number, Map<number, MovedEndpoint>>();
  private readonly splits = new Map<number, { readonly v1Weight: number; readonly mark: string }>();

  constructor(readonly shape: MeshShape) {
    if (!Number.isInteger(shape.services) || shape.services < 1) throw new Error(`services must be a positive integer, got ${shape.services}`);
  }

  /** The cluster-scoped objects: namespaces (and Nodes for the full variant). */
  globalObjects(): InputObject[] {
    const out: InputObject[] = [];
    for (let k = 0; k < Math.min(NAMESPACES, this.shape.services); k++) out.push(namespace(k));
    if (this.shape.variant === "full") for (let n = 0; n < 3; n++) out.push(node(n));
    return out;
  }

  /**
   * Service `i`'s objects as they are now. The EndpointSlice and the VirtualService come last:
   * the objects churn edits, so that an edit does not move the others within a file.
   */
  serviceObjects(i: number): InputObject[] {
    const moved = this.moved.get(i) ?? new Map<number, MovedEndpoint>();
    const split = this.splits.get(i);
    const out: InputObject[] = [service(i), destinationRule(i, this.shape.variant)];
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) out.push(pod(i, j, moved.get(j), this.shape.injected ?? false));
    out.push(endpointSlice(i, this.shape.variant, new Set(), moved));
    out.push(virtualService(i, this.shape.services, this.shape.variant, split?.v1Weight, split?.mark));
    return out;
  }

  /** The pod now behind endpoint `j` of service `i`. */
  podAt(i: number, j: number): MovedEndpoint {
    return this.moved.get(i)?.get(j) ?? { pod: podName(i, j), ip: podIp(i, j) };
  }

  /** Endpoint `j` of service `i` now runs in `to` (a new pod). */
  moveEndpoint(i: number, j: number, to: MovedEndpoint): void {
    let m = this.moved.get(i);
    if (!m) this.moved.set(i, (m = new Map()));
    m.set(j, to);
  }

  /** Service `i`'s VirtualService now splits v1Weight / 100 - v1Weight, marked with `mark`. */
  editSplit(i: number, v1Weight: number, mark: string): void {
    this.splits.set(i, { v1Weight, mark });
  }

  /** Clusters every sidecar of this mesh receives (one per service). */
  expectedClusters(): Set<string> {
    const out = new Set<string>();
    for (let i = 0; i < this.shape.services; i++) out.add(serviceClusterName(i));
    return out;
  }

  /** Proxy `k` as a pod of one of the mesh's services (meshWorkload). */
  workloadOf(k: number): ProxyWorkload {
    return meshWorkload(k, this.shape.services);
  }
}

/**
 * Proxy `k` as a pod of one of the services of a mesh of `services` (the workloads label mode):
 * the generated pods first, service by service; beyond those, extra pods of the services with
 * addresses outside the mesh's endpoints.
 */
export function meshWorkload(k: number, services: number): ProxyWorkload {
  const i = k % services;
  const j = Math.floor(k / services);
  const ns = namespaceOf(i);
  const name = serviceName(i);
  const labels = { app: name, version: j % ENDPOINTS_PER_SERVICE < 7 ? "v1" : "v2" };
  const inMesh = j < ENDPOINTS_PER_SERVICE;
  return {
    pod: inMesh ? podName(i, j) : `${name}-x${k}`,
    namespace: ns,
    ip: inMesh ? podIp(i, j) : `10.${208 + ((k >> 16) & 7)}.${(k >> 8) & 255}.${k & 255}`,
    labels,
    workload: `${name}-${labels.version}`,
    serviceAccount: "default",
  };
}
