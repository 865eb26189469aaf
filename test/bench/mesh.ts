// Synthetic meshes for the benchmarks, built as typed objects (no YAML) from the load generator's
// object builders (src/loadgen/mesh-objects.ts: what the services, routes and rules hold). Every
// object is valid: `validateAll` runs them through the product's parser, and the bench refuses to
// measure invalid input.
import { parseObject } from "../../src/api/parse.js";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import {
  ENDPOINTS_PER_SERVICE,
  NAMESPACES,
  destinationRule,
  endpointSlice,
  namespace,
  node,
  pod,
  service,
  virtualService,
  type Variant,
} from "../../src/loadgen/mesh-objects.js";
import { meshWorkload } from "../../src/loadgen/mesh.js";
import { ENVOY_VERSION, istioNode, proxyWorkload, type FleetShape, type LabelMode, type XdsNode } from "../../src/loadgen/node.js";
import type { MeshInput } from "../../src/model/input.js";
import { meshInputFrom } from "../../src/pipeline/mesh-input.js";

export { LABEL_MODES, type LabelMode } from "../../src/loadgen/node.js";
export { ENDPOINTS_PER_SERVICE, NAMESPACES, SERVICE_PORT, endpointSlice, namespaceOf, serviceName, type Variant } from "../../src/loadgen/mesh-objects.js";

/** The namespace of the bench's proxies: by default every bench client shares one view. */
export const CLIENT_NAMESPACE = "bench-0";
/** Pod name prefix and app label of the bench's proxies (other than in the workloads mode). */
const CLIENT_NAME = "bench-client";
/** Deployments in the groups label mode. */
export const LABEL_GROUPS = 10;

/**
 * The xDS node of bench client `k` in a mesh of `services` services (only the workloads mode
 * reads it): the load generator's sidecar node (src/loadgen/node.ts), claiming the Envoy of the
 * project's tests, so that the server treats it as it treats a real sidecar (VHDS on delta).
 * The label modes are the load generator's: the generated meshes select on none of the labels of
 * identical, distinct and groups, so those get the same config; in workloads, client k is a pod
 * of service k mod N (so that Service selects it: it has inbound listeners and a view of its own).
 */
export function benchNode(k: number, mode: LabelMode = "identical", services = 1): XdsNode {
  const shape: FleetShape = { mode, namespace: CLIENT_NAMESPACE, name: CLIENT_NAME, groups: LABEL_GROUPS, workloadOf: (x) => meshWorkload(x, services) };
  return istioNode(proxyWorkload(k, shape), ENVOY_VERSION);
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
