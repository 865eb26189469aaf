// ClusterLoadAssignments by what they are made of. The outbound sides of different namespaces
// (and views translated again on the EDS fast path) hold the same CLA for a cluster over the same
// endpoints: one JSON object for all of them, which the encoder then recognises by identity
// instead of stringifying and hashing it once per outbound side.
import type { EndpointModel, MeshModel } from "../model/ir.js";
import type { ClusterLoadAssignmentJson } from "./envoy.js";
import { edsTargetEndpoints as buildEndpoints } from "./endpoints.js";
import type { EdsTarget } from "./proxy.js";

/** Per endpoint list (one service port's, for one build), by its PeerAuthentications and the rest of the target. */
const built = new WeakMap<readonly EndpointModel[], Map<string, ClusterLoadAssignmentJson>>();
const NO_PEER_AUTHENTICATIONS = {};

/** An id per object (not per content): a map per endpoint list keyed on it cost more than the id. */
const objectIds = new WeakMap<object, string>();
let nextObjectId = 0;
function objectId(o: object): string {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = (nextObjectId++).toString(36)));
  return id;
}

/**
 * A short id of an object's content (its JSON text), once per object: a view's clusters share
 * their subset labels and locality settings (localityLbFor gives one object per view and
 * setting), and equal content in other views gets the same id. An id, not the text, goes into
 * each CLA's key: a locality setting's text holds the proxy's labels (about 2 KB), which every
 * key would copy.
 */
const contentIds = new WeakMap<object, string>();
const idsByText = new Map<string, string>();
/** Bounded: the texts come from user input. Ids are never reused, so forgetting one only costs a miss. */
const MAX_CONTENT_IDS = 1000;
let nextContentId = 0;
function contentId(o: object): string {
  let id = contentIds.get(o);
  if (id === undefined) {
    const text = JSON.stringify(o);
    id = idsByText.get(text);
    if (id === undefined) {
      if (idsByText.size >= MAX_CONTENT_IDS) idsByText.clear();
      idsByText.set(text, (id = (nextContentId++).toString(36)));
    }
    contentIds.set(o, id);
  }
  return id;
}

/** The target's ClusterLoadAssignment; equal targets over the same endpoints give the same object (never mutate it). */
export function edsTargetEndpoints(target: EdsTarget, endpoints: MeshModel["endpoints"]): ClusterLoadAssignmentJson {
  const list = endpoints.get(target.endpoints);
  if (!list) return buildEndpoints(target, endpoints);
  // A target kept across builds (outbound.ts edsTargets) over the same endpoint list: its last CLA.
  const last = byTarget.get(target);
  if (last?.list === list) return last.cla;
  const cla = sharedCla(target, list, endpoints);
  byTarget.set(target, { list, cla });
  return cla;
}

const byTarget = new WeakMap<EdsTarget, { readonly list: readonly EndpointModel[]; readonly cla: ClusterLoadAssignmentJson }>();

function sharedCla(target: EdsTarget, list: readonly EndpointModel[], endpoints: MeshModel["endpoints"]): ClusterLoadAssignmentJson {
  let byKey = built.get(list);
  if (!byKey) built.set(list, (byKey = new Map()));
  // The PeerAuthentications by identity; everything else a CLA is made of is small: the cluster,
  // subset labels, locality settings and the proxy's side of them.
  const policies = objectId(target.tls?.peerAuthentications ?? NO_PEER_AUTHENTICATIONS);
  const key = `${policies}\0${target.cluster}\0${contentId(target.labels)}\0${target.locality ? contentId(target.locality) : ""}\0${target.tls?.ruleMode ?? ""}`;
  let cla = byKey.get(key);
  if (!cla) byKey.set(key, (cla = buildEndpoints(target, endpoints)));
  return cla;
}
