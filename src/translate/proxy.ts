/**
 * The translator's one contract: a proxy's view of the mesh → everything that proxy gets, in one
 * shape for every proxy kind. The pipeline and `/debug` depend on this module only; which kind is
 * composed how (sidecar outbound and inbound, gateway) stays behind `translateProxy`.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { MeshModel } from "../model/ir.js";
import type { ProxyView } from "../model/proxy.js";
import type { ClusterJson, ClusterLoadAssignmentJson, ListenerJson, RouteConfigurationJson } from "./envoy.js";
import type { EndpointTls, LocalityLb } from "./endpoints.js";
import { withAccessLogs } from "./access-log.js";
import { translateRouter } from "./gateway.js";
import {
  composeSidecar,
  outboundTwins,
  translateSidecar,
  translateSidecarInbound,
  translateSidecarOutbound,
  type InboundTranslation,
} from "./sidecar/sidecar.js";
import type { SecretJson } from "./tls.js";

/** Everything one proxy gets, each list sorted by name. */
export interface ProxyResources {
  readonly clusters: readonly ClusterJson[];
  readonly endpoints: readonly ClusterLoadAssignmentJson[];
  readonly listeners: readonly ListenerJson[];
  readonly routes: readonly RouteConfigurationJson[];
  /** SDS Secrets the clusters reference (DestinationRule credentialName), by name. */
  readonly secrets: readonly SecretJson[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Where a ClusterLoadAssignment's endpoints come from: one service port's, narrowed to subset labels. */
export interface EdsTarget {
  readonly cluster: string;
  /** The `mesh.endpoints` key. */
  readonly endpoints: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Locality load balancing of this cluster for the view's proxy (its CLA is relative to it). */
  readonly locality?: LocalityLb;
  /** What decides which endpoints are marked for mTLS (auto mTLS's transport socket match). */
  readonly tls?: EndpointTls;
}

/** A proxy's resources, and where its ClusterLoadAssignments come from (for endpoint-only rebuilds). */
export interface ProxyTranslation extends ProxyResources {
  /** Sorted by cluster name, as `endpoints` is. */
  readonly edsTargets: readonly EdsTarget[];
}

/** What `proxy` gets from `mesh`, whatever its kind. */
export function translateProxy(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  return proxy.type === "router" ? translateGateway(mesh, proxy) : translateSidecar(mesh, proxy);
}

/**
 * The part of a proxy's resources that many proxies share: a sidecar's outbound side (pass the view
 * projected through outboundLabels: every proxy of that projection gets the same objects), all of a
 * router's. `composeProxy(shared, translateOwn(…))` is what translateProxy gives.
 */
export function translateShared(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  return proxy.type === "router" ? translateGateway(mesh, proxy) : translateSidecarOutbound(mesh, proxy);
}

const NOTHING_OWN: InboundTranslation = { clusters: [], listeners: [], diagnostics: [] };

/** What only proxies of this view get: a sidecar's inbound side; nothing for a router. */
export function translateOwn(mesh: MeshModel, proxy: ProxyView): InboundTranslation {
  return proxy.type === "router" ? NOTHING_OWN : translateSidecarInbound(mesh, proxy);
}

export { composeSidecar as composeProxy, outboundTwins, type InboundTranslation };

function translateGateway(mesh: MeshModel, proxy: ProxyView): ProxyTranslation {
  const t = translateRouter(mesh, proxy);
  // Access logs go on every listener's connection managers and TCP proxies.
  const listeners = withAccessLogs(t.listeners, mesh, proxy);
  return listeners === t.listeners ? t : { ...t, listeners };
}

export { edsTargetEndpoints } from "./shared-endpoints.js";
