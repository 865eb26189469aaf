// The EDS fast path for one view: after an endpoint-only change, only the ClusterLoadAssignments
// of services whose endpoints changed are rebuilt and encoded; every other one keeps its encoded
// Resource (and so its version: delta streams send nothing for it).
import { endpointKey, type MeshModel } from "../model/ir.js";
import { edsTargetEndpoints, type EdsTarget } from "../translate/proxy.js";
import { encodeResources } from "../xds/encode.js";
import type { EncodeCache } from "../xds/encode-cache.js";
import { patchMap } from "../xds/map-patch.js";
import type { ResourceMap } from "../xds/snapshot.js";
import { TYPE_URL } from "../xds/type-urls.js";

/** A view's EDS clusters by the `mesh.endpoints` key they read. */
export type EdsTargets = ReadonlyMap<string, readonly EdsTarget[]>;

export function groupTargets(targets: readonly EdsTarget[]): EdsTargets {
  const out = new Map<string, EdsTarget[]>();
  for (const t of targets) {
    const list = out.get(t.endpoints);
    if (list) list.push(t);
    else out.set(t.endpoints, [t]);
  }
  return out;
}

/**
 * The view's EDS resources after the endpoints of `changedHosts` changed (from rebuildEndpoints;
 * the services themselves did not). `previous` holds every target's CLA; the result keeps its
 * order and, when nothing the view uses changed, is `previous` itself. With `shared`, a CLA another
 * view already re-encoded in this change is taken from there.
 */
export function refreshEndpoints(
  targets: EdsTargets,
  changedHosts: ReadonlySet<string>,
  mesh: MeshModel,
  previous: ResourceMap,
  shared?: EncodeCache,
): ResourceMap {
  const stale: EdsTarget[] = [];
  for (const host of changedHosts) {
    for (const port of mesh.services.get(host)?.ports ?? []) stale.push(...(targets.get(endpointKey(host, port.port)) ?? []));
  }
  if (stale.length === 0) return previous;
  const fresh = encodeResources(
    TYPE_URL.endpoint,
    stale.map((t) => ({ name: t.cluster, json: edsTargetEndpoints(t, mesh.endpoints) })),
    previous,
    shared,
  );
  // The part's type version and the encode cache's retained set then follow the few replaced.
  return patchMap(previous, fresh.values());
}
