// Synthetic meshes for the benchmarks, built as typed objects (no YAML) from the load generator's
// object builders (src/loadgen/mesh-objects.ts: what the services, routes and rules hold). Every
// object is valid: `validateAll` runs them through the product's parser, and the bench refuses to
// measure invalid input.
import { parseObject } from "../../src/api/parse.js";
import { ISTIO_TLS_MODE, TLS_MODE_LABEL } from "../../src/model/names.js";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import {
  ENDPOINTS_PER_SERVICE,
  NAMESPACES,
  destinationRule,
  endpointSlice,
  namespace,
  namespaceOf,
  node,
  pod,
  service,
  serviceName,
  virtualService,
  type Variant,
} from "../../src/loadgen/mesh-objects.js";
import type { MeshInput } from "../../src/model/input.js";
import { meshInputFrom } from "../../src/pipeline/mesh-input.js";

export { ENDPOINTS_PER_SERVICE, NAMESPACES, SERVICE_PORT, endpointSlice, namespaceOf, serviceName, type Variant } from "../../src/loadgen/mesh-objects.js";

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

export interface GeneratedMesh {
  readonly variant: Variant;
  readonly services: number;
  readonly objects: StoredObject<InputObject>[];
  /** Index of each service's EndpointSlice in `objects`, to swap in a changed one. */
  readonly sliceIndex: readonly number[];
  /** Index of each service's VirtualService in `objects`. */
  readonly vsIndex: readonly number[];
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
