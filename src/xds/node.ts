// The Envoy `Node` of a stream's first request, reduced to what views and status need. Envoy
// sends it only on the first request (`set_node_on_first_message_only`), so it is read once and
// kept for the life of the stream.
import type { Node } from "../gen/envoy/config/core/v3/base_pb.js";
import type { NodeInfo } from "./snapshot.js";

export function nodeInfo(node: Node): NodeInfo {
  const v = node.userAgentVersionType;
  let userAgentVersion: string | undefined;
  if (v.case === "userAgentVersion") userAgentVersion = v.value;
  else if (v.case === "userAgentBuildVersion" && v.value.version) {
    const sv = v.value.version;
    userAgentVersion = `${sv.majorNumber}.${sv.minorNumber}.${sv.patch}`;
  }
  return {
    id: node.id,
    cluster: node.cluster,
    metadata: node.metadata ?? {},
    ...(node.locality && (node.locality.region || node.locality.zone || node.locality.subZone)
      ? { locality: { region: node.locality.region, zone: node.locality.zone, subZone: node.locality.subZone } }
      : {}),
    ...(node.userAgentName ? { userAgentName: node.userAgentName } : {}),
    ...(userAgentVersion !== undefined ? { userAgentVersion } : {}),
  };
}
