import type { EndpointModel } from "../model/ir.js";
import type { ClusterLoadAssignmentJson, LocalityLbEndpointsJson } from "./envoy.js";

/** Endpoints whose labels include every subset label (no labels: all endpoints). */
export function selectEndpoints(endpoints: readonly EndpointModel[], labels: Readonly<Record<string, string>>): EndpointModel[] {
  const entries = Object.entries(labels);
  return endpoints.filter((ep) => entries.every(([k, v]) => ep.labels[k] === v));
}

/** One ClusterLoadAssignment; grouped by zone so locality-aware balancing has the data. */
export function clusterLoadAssignment(clusterName: string, endpoints: readonly EndpointModel[]): ClusterLoadAssignmentJson {
  const byZone = new Map<string, EndpointModel[]>();
  for (const ep of endpoints) {
    const zone = ep.zone ?? "";
    byZone.set(zone, [...(byZone.get(zone) ?? []), ep]);
  }
  const localities: LocalityLbEndpointsJson[] = [...byZone.keys()].sort().map((zone) => ({
    ...(zone ? { locality: { zone } } : {}),
    lbEndpoints: (byZone.get(zone) ?? []).map((ep) => ({
      endpoint: { address: { socketAddress: { address: ep.address, portValue: ep.port } } },
      healthStatus: "HEALTHY",
      loadBalancingWeight: 1,
      ...(ep.podName ? { metadata: { filterMetadata: { istio: { workload: `${ep.podName};${ep.namespace};${ep.labels["app"] ?? ""};${ep.labels["version"] ?? ""};Kubernetes` } } } } : {}),
    })),
  }));
  return { clusterName, endpoints: localities };
}
