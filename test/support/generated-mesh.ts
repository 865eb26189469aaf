// The load generator's mesh (src/loadgen/mesh-objects.ts, its "full" variant) as input objects, for
// tests that edit it object by object and compare with a build from scratch.
import type { InputObject } from "../../src/api/objects.js";
import { destinationRule, endpointSlice, namespace, pod, service, virtualService, ENDPOINTS_PER_SERVICE } from "../../src/loadgen/mesh-objects.js";

/** Four namespaces, then per service its Service, its Pods, its EndpointSlice, its VirtualService and its DestinationRule. */
export function generatedObjects(n: number): InputObject[] {
  const out: InputObject[] = [];
  for (let k = 0; k < 4; k++) out.push(namespace(k));
  for (let i = 0; i < n; i++) {
    out.push(service(i));
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) out.push(pod(i, j));
    out.push(endpointSlice(i, "full"), virtualService(i, n, "full"), destinationRule(i, "full"));
  }
  return out;
}
