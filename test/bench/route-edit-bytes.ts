// Bytes a VirtualService weight edit sends each proxy, in both route delivery forms
// (src/xds/route-delivery.ts): the whole route configuration (SotW, and clients without VHDS)
// against the one VHDS virtual host a delta Envoy gets. For the targets table (issue 12 item 3):
// the VHDS figure scales with the edit, the whole one with the mesh.
import { pino } from "pino";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { mapDiff } from "../../src/xds/map-diff.js";
import { vhdsRoutes } from "../../src/xds/route-delivery.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import type { ResourceMap } from "../../src/xds/snapshot.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { benchNode, generateMesh, inputOf, withWeightEdit, type Variant } from "./mesh.js";

export interface RouteEditBytes {
  readonly services: number;
  /** Resource bytes of the route configurations the edit changed, sent whole. */
  readonly wholeBytes: number;
  /** Resource bytes a VHDS proxy gets: changed route configurations (VHDS form) and virtual hosts. */
  readonly vhdsBytes: number;
  readonly vhdsResources: number;
}

const bytesOf = (from: ResourceMap, to: ResourceMap): { bytes: number; count: number } => {
  const d = mapDiff(from, to);
  return { bytes: d.changed.reduce((a, r) => a + r.body.length, 0), count: d.changed.length };
};

/** One proxy's view of a `services`-service bench mesh before and after one weight edit. */
export function routeEditBytes(services: number, variant: Variant = "full"): RouteEditBytes {
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
  let mesh = generateMesh(services, variant);
  cp.update(inputOf(mesh), "all");
  const n = benchNode(0);
  const node = { id: n.id, cluster: n.cluster, metadata: n.metadata };
  const view = cp.viewKey(node);
  if ("error" in view) throw new Error(view.error);
  cp.activate(view.key, node);
  const before = cache.get(view.key)!;
  mesh = withWeightEdit(mesh, Math.min(7, services - 1), 30);
  cp.update(inputOf(mesh), new Set(["VirtualService"]));
  const after = cache.get(view.key)!;
  const routes = (s: typeof before) => s.resources.get(TYPE_URL.route) ?? new Map();
  const vhosts = (s: typeof before) => s.resources.get(TYPE_URL.virtualHost) ?? new Map();
  const whole = bytesOf(routes(before), routes(after));
  const split = bytesOf(vhdsRoutes(routes(before)), vhdsRoutes(routes(after)));
  const hosts = bytesOf(vhosts(before), vhosts(after));
  return { services, wholeBytes: whole.bytes, vhdsBytes: split.bytes + hosts.bytes, vhdsResources: split.count + hosts.count };
}
