// A ClusterLoadAssignment's protobuf bytes written straight from the endpoint models: a view holds
// thousands of assignments over tens of thousands of endpoints, and building their JSON only to
// walk it again in the encoder was most of their cost. The JSON (endpoints.ts) stays the
// reference: tests hold these bytes equal to the generic encoder's for that JSON.
import type { EndpointModel } from "../model/ir.js";
import { ISTIO_TLS_MODE, TRANSPORT_SOCKET_MATCH_KEY } from "../model/names.js";
import { splitLocality } from "../model/locality.js";
import { NotWellFormed, ProtoWriter } from "../proto-writer.js";

/**
 * The key of an object's own encoding: a function giving its message bytes, or undefined to have
 * its JSON encoded. The xDS encoder looks for it under the same registered symbol (xds/ may not
 * import translate/).
 */
export const OWN_BYTES: unique symbol = Symbol.for("meshpilot.ownBytes") as never;

/** One locality group of an assignment, as endpoints.ts weighs and orders them. */
export interface AssignmentGroup {
  readonly locality: string;
  readonly endpoints: readonly EndpointModel[];
  readonly weight: number;
  readonly priority: number;
  readonly emptied?: boolean;
}

type PodEndpoint = EndpointModel & { readonly podName: string };

/** One array for every endpoint's parts: each is used (written or joined) before the next is made. */
const parts = ["", ";", "", ";", "", ";", "", ";Kubernetes"];

/** The parts of the `istio` filter metadata's workload, joined by ";": what Istio's telemetry reads. */
function workloadParts(ep: PodEndpoint): readonly string[] {
  parts[0] = ep.podName;
  parts[2] = ep.namespace;
  parts[4] = ep.labels["app"] ?? "";
  parts[6] = ep.labels["version"] ?? "";
  return parts;
}

export function istioWorkload(ep: PodEndpoint): string {
  return workloadParts(ep).join("");
}

/** A value the JSON encoder would refuse or write otherwise: the JSON path decides. */
class NotMine extends Error {}

const UINT32_MAX = 0xffffffff;
const HEALTHY = 1;

function uint32(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > UINT32_MAX) throw new NotMine();
  return n;
}

/**
 * An LbEndpoint (its tag included). Fields in number order, as the JSON encoder writes them:
 * endpoint 1, health_status 2, metadata 3, load_balancing_weight 4. Written in place each time:
 * caching each endpoint's bytes costs a typed array and a map entry per endpoint, more than
 * writing it again.
 */
function writeLbEndpoint(w: ProtoWriter, ep: EndpointModel, mtls: boolean): void {
  const weight = uint32(ep.weight ?? 1);
  w.delimited(2).fork();
  // Endpoint { address: Address { socket_address: SocketAddress { address 2, port_value 3 (a oneof: always) } } }
  w.delimited(1).fork().delimited(1).fork().delimited(1).fork();
  if (ep.address !== "") w.delimited(2).checkedString(ep.address);
  w.varint(3).uint32(uint32(ep.port));
  w.join().join().join();
  w.varint(2).uint32(HEALTHY);
  if (ep.podName || mtls) {
    // Metadata { filter_metadata: map<string, Struct> }, in the JSON's key order: each entry
    // { key 1, value 2: Struct { fields 1: { key 1, value 2: Value { string_value 3 } } } }.
    w.delimited(3).fork();
    if (mtls) {
      w.delimited(1).fork().delimited(1).checkedString(TRANSPORT_SOCKET_MATCH_KEY).delimited(2).fork();
      w.delimited(1).fork().delimited(1).checkedString("tlsMode").delimited(2).fork().delimited(3).checkedString(ISTIO_TLS_MODE).join().join();
      w.join().join();
    }
    if (ep.podName) {
      w.delimited(1).fork().delimited(1).checkedString("istio").delimited(2).fork();
      w.delimited(1).fork().delimited(1).checkedString("workload").delimited(2).fork().delimited(3);
      w.strings(workloadParts(ep as PodEndpoint));
      w.join().join();
      w.join().join();
    }
    w.join();
  }
  w.delimited(4).fork();
  if (weight !== 0) w.varint(1).uint32(weight);
  w.join();
  w.join();
}

const writer = new ProtoWriter();

/**
 * The ClusterLoadAssignment message (cluster_name 1, endpoints 2) of these groups, each endpoint
 * marked for mTLS by `mtls`; undefined when some value is left to the JSON path (which then
 * gives the same bytes or the error).
 */
export function assignmentBytes(clusterName: string, groups: readonly AssignmentGroup[], mtls: (ep: EndpointModel) => boolean): Uint8Array | undefined {
  const w = writer;
  try {
    if (clusterName !== "") w.delimited(1).checkedString(clusterName);
    for (const g of groups) {
      // LocalityLbEndpoints { locality 1, lb_endpoints 2, load_balancing_weight 3, priority 5 }
      w.delimited(2).fork();
      if (g.locality) {
        // Locality { region 1, zone 2, sub_zone 3 }, empty parts left out.
        const { region, zone, subZone } = splitLocality(g.locality);
        w.delimited(1).fork();
        if (region) w.delimited(1).checkedString(region);
        if (zone) w.delimited(2).checkedString(zone);
        if (subZone) w.delimited(3).checkedString(subZone);
        w.join();
      }
      if (!g.emptied) for (const ep of g.endpoints) writeLbEndpoint(w, ep, mtls(ep));
      const weight = uint32(g.weight);
      w.delimited(3).fork();
      if (weight !== 0) w.varint(1).uint32(weight);
      w.join();
      if (uint32(g.priority) !== 0) w.varint(5).uint32(g.priority);
      w.join();
    }
    return w.finish();
  } catch (e) {
    w.finish();
    if (e instanceof NotMine || e instanceof NotWellFormed) return undefined;
    throw e;
  }
}
