/**
 * How a ServiceEntry host's cluster finds its endpoints, per resolution as in Istio 1.30: STATIC
 * over EDS (the default path), DNS as STRICT_DNS and DNS_ROUND_ROBIN as LOGICAL_DNS with the
 * endpoints inline (Envoy resolves them, honouring the records' TTL, IPv4 as for an IPv4 proxy,
 * refreshed at the mesh's default 60s), NONE as ORIGINAL_DST (the connection's own destination,
 * on the port's targetPort when set).
 */
import type { ServiceModel } from "../model/ir.js";
import type { ClusterScope } from "../model/scope.js";
import { clusterLoadAssignment, selectEndpoints } from "./endpoints.js";
import type { ClusterJson } from "./envoy.js";

/** Istio's mesh default `dnsRefreshRate`. */
const DNS_REFRESH_RATE = "60s";

export type Discovery = Pick<
  ClusterJson,
  "type" | "loadAssignment" | "dnsLookupFamily" | "dnsRefreshRate" | "respectDnsTtl" | "originalDstLbConfig" | "lbPolicy"
>;

/** The discovery fields of an entry's cluster; undefined for EDS clusters (STATIC entries and Kubernetes Services). */
export function entryDiscovery(svc: ServiceModel, cluster: ClusterScope): Discovery | undefined {
  const entry = svc.entry;
  if (!entry) return undefined;
  switch (entry.resolution) {
    case "STATIC":
      return undefined;
    case "NONE": {
      const target = typeof cluster.port.targetPort === "number" ? cluster.port.targetPort : undefined;
      return { type: "ORIGINAL_DST", lbPolicy: "CLUSTER_PROVIDED", ...(target ? { originalDstLbConfig: { upstreamPortOverride: target } } : {}) };
    }
    case "DNS":
    case "DNS_ROUND_ROBIN": {
      const endpoints = selectEndpoints(entry.dnsEndpoints?.get(cluster.port.port) ?? [], cluster.labels);
      return {
        type: entry.resolution === "DNS" ? "STRICT_DNS" : "LOGICAL_DNS",
        loadAssignment: clusterLoadAssignment(cluster.name, endpoints),
        dnsLookupFamily: "V4_ONLY",
        dnsRefreshRate: DNS_REFRESH_RATE,
        respectDnsTtl: true,
      };
    }
  }
}
