// Which form of its view's route configurations a stream gets (route-delivery.ts): a view's
// snapshot holds them whole, plus the VHDS virtual hosts; a stream that takes VHDS sees the route
// configurations in their VHDS form, any other sees them whole and no virtual host resources.
// Both projections are made once per snapshot and shared by every stream of that form.
import { typeVersion } from "./encode.js";
import { vhdsRoutes } from "./route-delivery.js";
import type { NodeInfo, ResourceMap, Snapshot } from "./snapshot.js";
import { TypeTable } from "./type-table.js";
import { TYPE_URL } from "./type-urls.js";

const EMPTY: ResourceMap = new Map();

/**
 * Envoy takes VHDS over a delta ADS stream from 1.38 on: earlier versions refuse an `ads` config
 * source for VHDS ("vhds: only 'DELTA_GRPC' is supported as an api_type", envoy#34122; ADS was
 * allowed in early 2026, envoy PR #42812). Other clients get route configurations whole.
 */
const FIRST_VHDS_ENVOY: readonly [number, number] = [1, 38];

export function takesVhds(node: NodeInfo): boolean {
  // Gateways keep whole route configurations: with VHDS, the Gateway API conformance test
  // HTTPRouteRedirectPortAndScheme fails on its HTTPS listener (not yet understood).
  if (node.id.startsWith("router~")) return false;
  if (node.userAgentName !== "envoy" || node.userAgentVersion === undefined) return false;
  const [major = NaN, minor = NaN] = node.userAgentVersion.split(".").map(Number);
  return major > FIRST_VHDS_ENVOY[0] || (major === FIRST_VHDS_ENVOY[0] && minor >= FIRST_VHDS_ENVOY[1]);
}

/** `snapshot` as a stream that takes VHDS (`vhds`) or one that does not sees it. */
export function routeForm(snapshot: Snapshot, vhds: boolean): Snapshot {
  const vhosts = snapshot.resources.get(TYPE_URL.virtualHost);
  if (vhosts === undefined || vhosts.size === 0) return snapshot; // nothing is split
  const known = vhds ? snapshot.vhdsForm : snapshot.wholeForm;
  if (known) return known;
  const type = vhds ? TYPE_URL.route : TYPE_URL.virtualHost;
  const map = vhds ? vhdsRoutes(snapshot.resources.get(TYPE_URL.route) ?? EMPTY) : EMPTY;
  const form = { resources: TypeTable.from(snapshot.resources).with(type, map), versions: TypeTable.from(snapshot.versions).with(type, typeVersion(map)) };
  if (vhds) snapshot.vhdsForm = form;
  else snapshot.wholeForm = form;
  return form;
}
