// A minimal protobuf wire reader for the bench clients. Decoding every response of 1000 clients
// with full message objects would cost the client process more than the server spends sending
// them, so the clients read only what an ADS client must know (names, nonces, the EDS service
// names of clusters, the RDS names of listeners) and skip everything else by length.
// Field numbers come from the generated schemas, not from literals.
import { DeltaDiscoveryResponseSchema, ResourceSchema } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { ClusterSchema, Cluster_DiscoveryType, Cluster_EdsClusterConfigSchema } from "../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ListenerSchema } from "../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { FilterChainSchema, FilterSchema } from "../../src/gen/envoy/config/listener/v3/listener_components_pb.js";
import { HttpConnectionManagerSchema, RdsSchema } from "../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { AnySchema } from "@bufbuild/protobuf/wkt";

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

/** Called per field: for LEN fields [start, end) is the payload; for varints `value` is set. */
type FieldFn = (no: number, wt: number, start: number, end: number, value: number) => void;

export function forEachField(buf: Uint8Array, start: number, end: number, f: FieldFn): void {
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= end) throw new Error("wire: truncated varint");
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (pos < end) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wt = key & 7;
    switch (wt) {
      case WT_VARINT: {
        const v = varint();
        f(no, wt, pos, pos, v);
        break;
      }
      case WT_LEN: {
        const len = varint();
        const s = pos;
        pos += len;
        if (pos > end) throw new Error("wire: truncated length-delimited field");
        f(no, wt, s, pos, len);
        break;
      }
      case WT_I64:
        pos += 8;
        break;
      case WT_I32:
        pos += 4;
        break;
      default:
        throw new Error(`wire: unsupported wire type ${wt}`);
    }
  }
}

const F = {
  resp: { typeUrl: DeltaDiscoveryResponseSchema.field.typeUrl.number, resources: DeltaDiscoveryResponseSchema.field.resources.number, nonce: DeltaDiscoveryResponseSchema.field.nonce.number, removed: DeltaDiscoveryResponseSchema.field.removedResources.number },
  res: { name: ResourceSchema.field.name.number, resource: ResourceSchema.field.resource.number },
  any: { typeUrl: AnySchema.field.typeUrl.number, value: AnySchema.field.value.number },
  cluster: { name: ClusterSchema.field.name.number, type: ClusterSchema.field.type.number, eds: ClusterSchema.field.edsClusterConfig.number },
  edsConfig: { serviceName: Cluster_EdsClusterConfigSchema.field.serviceName.number },
  listener: { filterChains: ListenerSchema.field.filterChains.number, defaultFilterChain: ListenerSchema.field.defaultFilterChain.number },
  chain: { filters: FilterChainSchema.field.filters.number },
  filter: { typedConfig: FilterSchema.field.typedConfig.number },
  hcm: { rds: HttpConnectionManagerSchema.field.rds.number },
  rds: { routeConfigName: RdsSchema.field.routeConfigName.number },
} as const;

const HCM_TYPE = `type.googleapis.com/${HttpConnectionManagerSchema.typeName}`;
const decoder = new TextDecoder();

function str(buf: Uint8Array, s: number, e: number): string {
  return decoder.decode(buf.subarray(s, e));
}

export interface DeltaResource {
  readonly name: string;
  /** The resource body (Any.value), a view into the response buffer. */
  readonly body: Uint8Array;
}

export interface DeltaSummary {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: DeltaResource[];
  readonly removed: string[];
}

export function readDeltaResponse(buf: Uint8Array): DeltaSummary {
  let typeUrl = "";
  let nonce = "";
  const resources: DeltaResource[] = [];
  const removed: string[] = [];
  forEachField(buf, 0, buf.length, (no, wt, s, e) => {
    if (wt !== WT_LEN) return;
    if (no === F.resp.typeUrl) typeUrl = str(buf, s, e);
    else if (no === F.resp.nonce) nonce = str(buf, s, e);
    else if (no === F.resp.removed) removed.push(str(buf, s, e));
    else if (no === F.resp.resources) {
      let name = "";
      let body: Uint8Array = new Uint8Array(0);
      forEachField(buf, s, e, (rno, rwt, rs, re) => {
        if (rwt !== WT_LEN) return;
        if (rno === F.res.name) name = str(buf, rs, re);
        else if (rno === F.res.resource)
          forEachField(buf, rs, re, (ano, awt, as, ae) => {
            if (ano === F.any.value && awt === WT_LEN) body = buf.subarray(as, ae);
          });
      });
      resources.push({ name, body });
    }
  });
  return { typeUrl, nonce, resources, removed };
}

/** The ClusterLoadAssignment name an EDS cluster asks for (service_name, else the cluster name); undefined for non-EDS clusters. */
export function edsServiceName(cluster: Uint8Array): string | undefined {
  let name = "";
  let type = 0;
  let service = "";
  forEachField(cluster, 0, cluster.length, (no, wt, s, e, v) => {
    if (no === F.cluster.name && wt === WT_LEN) name = str(cluster, s, e);
    else if (no === F.cluster.type && wt === WT_VARINT) type = v;
    else if (no === F.cluster.eds && wt === WT_LEN)
      forEachField(cluster, s, e, (eno, ewt, es, ee) => {
        if (eno === F.edsConfig.serviceName && ewt === WT_LEN) service = str(cluster, es, ee);
      });
  });
  if (type !== Cluster_DiscoveryType.EDS) return undefined;
  return service || name;
}

/** The RDS route configuration names the HTTP connection managers of a listener refer to. */
export function listenerRouteNames(listener: Uint8Array): string[] {
  const out: string[] = [];
  const chain = (s: number, e: number): void =>
    forEachField(listener, s, e, (cno, cwt, cs, ce) => {
      if (cno !== F.chain.filters || cwt !== WT_LEN) return;
      forEachField(listener, cs, ce, (fno, fwt, fs, fe) => {
        if (fno !== F.filter.typedConfig || fwt !== WT_LEN) return;
        let url = "";
        let vs = 0;
        let ve = 0;
        forEachField(listener, fs, fe, (ano, awt, as, ae) => {
          if (awt !== WT_LEN) return;
          if (ano === F.any.typeUrl) url = str(listener, as, ae);
          else if (ano === F.any.value) [vs, ve] = [as, ae];
        });
        if (url !== HCM_TYPE) return;
        forEachField(listener, vs, ve, (hno, hwt, hs, he) => {
          if (hno !== F.hcm.rds || hwt !== WT_LEN) return;
          forEachField(listener, hs, he, (rno, rwt, rs, re) => {
            if (rno === F.rds.routeConfigName && rwt === WT_LEN) out.push(str(listener, rs, re));
          });
        });
      });
    });
  forEachField(listener, 0, listener.length, (no, wt, s, e) => {
    if (wt === WT_LEN && (no === F.listener.filterChains || no === F.listener.defaultFilterChain)) chain(s, e);
  });
  return out;
}
