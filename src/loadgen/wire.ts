// A minimal protobuf wire reader for load clients. Decoding every response of 1000 clients with
// full message objects would cost the client process more than the server spends sending them, so
// the clients read only what an ADS client must know (names, versions, nonces, the EDS service
// names of clusters, the RDS names of listeners) and skip everything else by length. It reads
// Envoy's messages only, so it works against any xDS server.
// Field numbers come from the generated schemas, not from literals.
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  DiscoveryResponseSchema,
  ResourceSchema,
} from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { ClusterSchema, Cluster_DiscoveryType, Cluster_EdsClusterConfigSchema } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { ClusterLoadAssignmentSchema } from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ListenerSchema } from "../gen/envoy/config/listener/v3/listener_pb.js";
import { FilterChainSchema, FilterSchema } from "../gen/envoy/config/listener/v3/listener_components_pb.js";
import { RouteConfigurationSchema } from "../gen/envoy/config/route/v3/route_pb.js";
import { HttpConnectionManagerSchema, RdsSchema } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { Cluster_TransportSocketMatchSchema } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { TransportSocketSchema } from "../gen/envoy/config/core/v3/base_pb.js";
import { ConfigSourceSchema } from "../gen/envoy/config/core/v3/config_source_pb.js";
import {
  CommonTlsContext_CombinedCertificateValidationContextSchema,
  CommonTlsContextSchema,
  DownstreamTlsContextSchema,
  UpstreamTlsContextSchema,
} from "../gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import { SdsSecretConfigSchema, SecretSchema } from "../gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { lenField } from "../xds/proto-fields.js";

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

/**
 * A cursor over the fields of one message (or sub-message) in [start, end): `next()` reads the
 * next field into `no`, `wt` and, for LEN fields, its payload [`s`, `e`), for varints `value`
 * (`at`: where the field's key starts).
 * A cursor object, not a callback per field: the bench runs under tsx, which wraps every closure
 * created in a loop with a naming helper, and that alone made the client process the bottleneck.
 */
export class FieldReader {
  /** Where the current field (its key) starts. */
  at = 0;
  no = 0;
  wt = 0;
  s = 0;
  e = 0;
  value = 0;
  private pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    private end: number,
  ) {
    this.pos = start;
  }

  /** Read [start, end) of the same buffer from now on (one reader serves many sub-messages). */
  reset(start: number, end: number): void {
    this.pos = start;
    this.end = end;
  }

  private varint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error("wire: truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  }

  next(): boolean {
    if (this.pos >= this.end) return false;
    this.at = this.pos;
    const key = this.varint();
    this.no = Math.floor(key / 8);
    this.wt = key & 7;
    switch (this.wt) {
      case WT_VARINT:
        this.value = this.varint();
        this.s = this.e = this.pos;
        return true;
      case WT_LEN: {
        const len = this.varint();
        this.s = this.pos;
        this.pos += len;
        if (this.pos > this.end) throw new Error("wire: truncated length-delimited field");
        this.e = this.pos;
        this.value = len;
        return true;
      }
      case WT_I64:
        this.pos += 8;
        return true;
      case WT_I32:
        this.pos += 4;
        return true;
      default:
        throw new Error(`wire: unsupported wire type ${this.wt}`);
    }
  }

  /** The payload of the current LEN field as a reader. */
  sub(): FieldReader {
    return new FieldReader(this.buf, this.s, this.e);
  }

  /** Is the current field LEN-typed field `no`? */
  isLen(no: number): boolean {
    return this.wt === WT_LEN && this.no === no;
  }
}

const F = {
  resp: {
    typeUrl: DeltaDiscoveryResponseSchema.field.typeUrl.number,
    resources: DeltaDiscoveryResponseSchema.field.resources.number,
    nonce: DeltaDiscoveryResponseSchema.field.nonce.number,
    removed: DeltaDiscoveryResponseSchema.field.removedResources.number,
  },
  sotw: {
    versionInfo: DiscoveryResponseSchema.field.versionInfo.number,
    resources: DiscoveryResponseSchema.field.resources.number,
    typeUrl: DiscoveryResponseSchema.field.typeUrl.number,
    nonce: DiscoveryResponseSchema.field.nonce.number,
  },
  res: { name: ResourceSchema.field.name.number, version: ResourceSchema.field.version.number, resource: ResourceSchema.field.resource.number },
  any: { typeUrl: AnySchema.field.typeUrl.number, value: AnySchema.field.value.number },
  cluster: { name: ClusterSchema.field.name.number, type: ClusterSchema.field.type.number, eds: ClusterSchema.field.edsClusterConfig.number },
  edsConfig: { serviceName: Cluster_EdsClusterConfigSchema.field.serviceName.number },
  listener: { filterChains: ListenerSchema.field.filterChains.number, defaultFilterChain: ListenerSchema.field.defaultFilterChain.number },
  chain: { filters: FilterChainSchema.field.filters.number },
  filter: { typedConfig: FilterSchema.field.typedConfig.number },
  hcm: { rds: HttpConnectionManagerSchema.field.rds.number },
  rds: { routeConfigName: RdsSchema.field.routeConfigName.number },
  route: { vhds: RouteConfigurationSchema.field.vhds.number },
  tls: {
    clusterSocket: ClusterSchema.field.transportSocket.number,
    clusterMatches: ClusterSchema.field.transportSocketMatches.number,
    matchSocket: Cluster_TransportSocketMatchSchema.field.transportSocket.number,
    chainSocket: FilterChainSchema.field.transportSocket.number,
    socketConfig: TransportSocketSchema.field.typedConfig.number,
    upstreamCommon: UpstreamTlsContextSchema.field.commonTlsContext.number,
    downstreamCommon: DownstreamTlsContextSchema.field.commonTlsContext.number,
    certificates: CommonTlsContextSchema.field.tlsCertificateSdsSecretConfigs.number,
    validation: CommonTlsContextSchema.field.validationContextSdsSecretConfig.number,
    combined: CommonTlsContextSchema.field.combinedValidationContext.number,
    combinedValidation: CommonTlsContext_CombinedCertificateValidationContextSchema.field.validationContextSdsSecretConfig.number,
    sdsName: SdsSecretConfigSchema.field.name.number,
    sdsConfig: SdsSecretConfigSchema.field.sdsConfig.number,
    ads: ConfigSourceSchema.field.ads.number,
  },
} as const;

const UPSTREAM_TLS_TYPE = `type.googleapis.com/${UpstreamTlsContextSchema.typeName}`;
const DOWNSTREAM_TLS_TYPE = `type.googleapis.com/${DownstreamTlsContextSchema.typeName}`;

const HCM_TYPE = `type.googleapis.com/${HttpConnectionManagerSchema.typeName}`;
/** SotW may wrap a resource in discovery.v3.Resource (TTL, heartbeats). */
const RESOURCE_WRAPPER_TYPE = `type.googleapis.com/${ResourceSchema.typeName}`;
/** The name field of each resource type a sidecar receives (Cluster, ClusterLoadAssignment, Listener, RouteConfiguration). */
const NAME_FIELD: ReadonlySet<number> = new Set([
  ClusterSchema.field.name.number,
  ClusterLoadAssignmentSchema.field.clusterName.number,
  ListenerSchema.field.name.number,
  RouteConfigurationSchema.field.name.number,
  SecretSchema.field.name.number,
]);
if (NAME_FIELD.size !== 1) throw new Error("wire: the resource types no longer share one name field number");
const RESOURCE_NAME_FIELD = [...NAME_FIELD][0]!;

/** Node's UTF-8 decoder of a byte range, without toString's argument handling (undocumented, present since Node 0.x). */
type Utf8Slicer = Buffer & { utf8Slice?(start: number, end: number): string };
const DIRECT_SLICE = typeof (Buffer.prototype as Utf8Slicer).utf8Slice === "function";

/**
 * A string field's text. Buffer's own decoding, not TextDecoder on a subarray: half the cost per
 * name; and its native slice directly where there is one, as toString's wrappers cost as much
 * again over the thousands of names of every response.
 */
function str(buf: Buffer, s: number, e: number): string {
  return DIRECT_SLICE ? (buf as Utf8Slicer).utf8Slice!(s, e) : buf.toString("utf8", s, e);
}

/** The bytes as a Buffer without copying (gRPC hands Buffers; tests may hand plain arrays). */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * One resource of a response: its name, and where its body (Any.value) and version lie in the
 * response. Nothing else is decoded: a load client only needs names to subscribe and ACK, and a
 * body is read only where Envoy's flow needs something from it (a cluster's EDS name, a
 * listener's RDS names, a route configuration's VHDS), and then only that field; what was read is
 * kept with the resource, which every proxy that got the same bytes shares (ResponseMemo).
 */
export class WireResource {
  private versionText: string | undefined;
  /** clusterRefs, listenerRouteNames, routeUsesVhds of the body, once read. */
  refs: ClusterRefs | undefined;
  routeNames: readonly string[] | undefined;
  vhds: boolean | undefined;

  constructor(
    readonly name: string,
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    private readonly versionStart = 0,
    private readonly versionEnd = 0,
  ) {}

  /** A resource over a body of its own (tests, SotW's unwrapped Resource). */
  static of(name: string, body: Uint8Array, version = ""): WireResource {
    const v = Buffer.from(version, "utf8");
    const b = Buffer.concat([asBuffer(body), v]);
    return new WireResource(name, b, 0, body.length, body.length, b.length);
  }

  /** The per-resource version (delta only; "" in SotW). */
  get version(): string {
    return (this.versionText ??= str(this.buf, this.versionStart, this.versionEnd));
  }

  /** The body, a view into the response. */
  get body(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }
}

export interface DeltaSummary {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: WireResource[];
  readonly removed: string[];
  /** The resource bodies' bytes, summed. */
  readonly resourceBytes: number;
  /** `resources` is one array handed to every response of the same resource bytes (DeltaResources.shared). */
  readonly shared: boolean;
}

export interface SotwSummary {
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly nonce: string;
  readonly resources: WireResource[];
  readonly resourceBytes: number;
}

/** The resources of a response, read. */
export interface DeltaResources {
  readonly resources: WireResource[];
  /** Their bodies' bytes, summed. */
  readonly resourceBytes: number;
  /**
   * The same object (resources and all) is handed for every span of the same bytes, and its
   * resources point into bytes of their own: what is derived from it may be kept by its identity.
   */
  readonly shared?: boolean;
}

/** Reads the resources that lie in [start, end) of `buf`, a response of `typeUrl`. */
export type ResourceReader = (buf: Buffer, start: number, end: number, typeUrl: string) => DeltaResources;

const NO_RESOURCES: DeltaResources = { resources: [], resourceBytes: 0, shared: true };

/**
 * A DeltaDiscoveryResponse. Its resources are read from the span that holds them all (from the
 * first to the last), by `resources` if given: a reader that knows those bytes already may
 * answer with what it read then (ResponseMemo).
 */
export function readDeltaResponse(bytes: Uint8Array, resources: ResourceReader = readDeltaResources): DeltaSummary {
  const buf = asBuffer(bytes);
  let typeUrl = "";
  let nonce = "";
  const removed: string[] = [];
  let first = -1;
  let last = -1;
  const r = new FieldReader(buf, 0, buf.length);
  while (r.next()) {
    if (r.wt !== WT_LEN) continue;
    if (r.no === F.resp.typeUrl) typeUrl = str(buf, r.s, r.e);
    else if (r.no === F.resp.nonce) nonce = str(buf, r.s, r.e);
    else if (r.no === F.resp.removed) removed.push(str(buf, r.s, r.e));
    else if (r.no === F.resp.resources) {
      if (first < 0) first = r.at;
      last = r.e;
    }
  }
  const read = first < 0 ? NO_RESOURCES : resources(buf, first, last, typeUrl);
  return { typeUrl, nonce, resources: read.resources, removed, resourceBytes: read.resourceBytes, shared: read.shared === true };
}

/** The `resources` fields of a DeltaDiscoveryResponse in [start, end) of `buf` (other fields there are skipped). */
export function readDeltaResources(buf: Buffer, start: number, end: number): DeltaResources {
  let resourceBytes = 0;
  const resources: WireResource[] = [];
  const r = new FieldReader(buf, start, end);
  // Two readers reused for every resource: thousands of resources per response.
  const res = new FieldReader(buf, 0, 0);
  const any = new FieldReader(buf, 0, 0);
  while (r.next()) {
    if (!r.isLen(DELTA_RESOURCES_FIELD)) continue;
    const x = readResource(r.s, r.e, res, any);
    resourceBytes += x.end - x.start;
    resources.push(x);
  }
  return { resources, resourceBytes };
}

/** The field of a DeltaDiscoveryResponse that holds its resources (one discovery.v3.Resource each). */
export const DELTA_RESOURCES_FIELD = F.resp.resources;
/** The fields of a discovery.v3.Resource that are a name and a version. */
export const RESOURCE_NAME = F.res.name;
export const RESOURCE_VERSION = F.res.version;

/**
 * The discovery.v3.Resource in [s, e) of the readers' buffer: its name, its version and where its
 * body lies. `res` and `any` are scratch readers over that buffer (reused: thousands per response).
 */
export function readResource(s: number, e: number, res: FieldReader, any: FieldReader): WireResource {
  const buf = res.buf;
  let name = "";
  let vs = 0;
  let ve = 0;
  let bs = 0;
  let be = 0;
  res.reset(s, e);
  while (res.next()) {
    if (res.isLen(F.res.name)) name = str(buf, res.s, res.e);
    else if (res.isLen(F.res.version)) {
      vs = res.s;
      ve = res.e;
    } else if (res.isLen(F.res.resource)) {
      any.reset(res.s, res.e);
      while (any.next())
        if (any.isLen(F.any.value)) {
          bs = any.s;
          be = any.e;
        }
    }
  }
  return new WireResource(name, buf, bs, be, vs, ve);
}

export function readSotwResponse(bytes: Uint8Array): SotwSummary {
  const buf = asBuffer(bytes);
  let typeUrl = "";
  let versionInfo = "";
  let nonce = "";
  let resourceBytes = 0;
  const resources: WireResource[] = [];
  const r = new FieldReader(buf, 0, buf.length);
  while (r.next()) {
    if (r.wt !== WT_LEN) continue;
    if (r.no === F.sotw.typeUrl) typeUrl = str(buf, r.s, r.e);
    else if (r.no === F.sotw.versionInfo) versionInfo = str(buf, r.s, r.e);
    else if (r.no === F.sotw.nonce) nonce = str(buf, r.s, r.e);
    else if (r.no === F.sotw.resources) {
      const body = anyValue(r.sub());
      if (!body) continue;
      resourceBytes += body.length;
      resources.push(new WireResource(resourceName(body), body, 0, body.length));
    }
  }
  return { typeUrl, versionInfo, nonce, resources, resourceBytes };
}

/** The value of an Any, unwrapping discovery.v3.Resource; undefined for a wrapper without a resource (a heartbeat). */
function anyValue(any: FieldReader): Buffer | undefined {
  let url = "";
  let value: Buffer | undefined;
  while (any.next()) {
    if (any.isLen(F.any.typeUrl)) url = str(any.buf, any.s, any.e);
    else if (any.isLen(F.any.value)) value = any.buf.subarray(any.s, any.e);
  }
  if (url !== RESOURCE_WRAPPER_TYPE || !value) return value;
  const res = new FieldReader(value, 0, value.length);
  while (res.next()) if (res.isLen(F.res.resource)) return anyValue(res.sub());
  return undefined;
}

/** The name of a Cluster, ClusterLoadAssignment, Listener, RouteConfiguration or Secret body. */
export function resourceName(body: Uint8Array): string {
  const b = asBuffer(body);
  const r = new FieldReader(b, 0, b.length);
  while (r.next()) if (r.isLen(RESOURCE_NAME_FIELD)) return str(b, r.s, r.e);
  return "";
}

/**
 * The ClusterLoadAssignment name an EDS cluster asks for (service_name, else the cluster's name,
 * which is its resource name); undefined for non-EDS clusters.
 */
export function edsServiceName(cluster: WireResource): string | undefined {
  return clusterRefs(cluster).eds;
}

/** What a Cluster body refers Envoy to over ADS: the EDS name it asks for, and its secrets. */
export interface ClusterRefs {
  /** The ClusterLoadAssignment an EDS cluster asks for (its service_name, else its own name); undefined for other types. */
  readonly eds: string | undefined;
  /** As sdsSecretNames(cluster, "cluster"). */
  readonly secrets: readonly string[];
}

/** edsServiceName and sdsSecretNames of a cluster in one pass over its fields (thousands per response). */
export function clusterRefs(cluster: WireResource): ClusterRefs {
  return (cluster.refs ??= readClusterRefs(cluster));
}

function readClusterRefs(cluster: WireResource): ClusterRefs {
  let type = 0;
  let service = "";
  const names = new SecretNames();
  const c = new FieldReader(cluster.buf, cluster.start, cluster.end);
  while (c.next()) {
    if (c.no === F.cluster.type && c.wt === WT_VARINT) type = c.value;
    else if (c.isLen(F.cluster.eds)) {
      const eds = c.sub();
      while (eds.next()) if (eds.isLen(F.edsConfig.serviceName)) service = str(cluster.buf, eds.s, eds.e);
    } else if (c.isLen(F.tls.clusterSocket)) socketSecrets(c.sub(), names);
    else if (c.isLen(F.tls.clusterMatches)) {
      const m = c.sub();
      while (m.next()) if (m.isLen(F.tls.matchSocket)) socketSecrets(m.sub(), names);
    }
  }
  return { eds: type === Cluster_DiscoveryType.EDS ? service || cluster.name : undefined, secrets: names.sorted() };
}

/** A typed config (an Any): its type URL, and its value as a reader. */
function readAny(any: FieldReader): { url: string; value: FieldReader | undefined } {
  let url = "";
  let value: FieldReader | undefined;
  while (any.next()) {
    if (any.isLen(F.any.typeUrl)) url = str(any.buf, any.s, any.e);
    else if (any.isLen(F.any.value)) value = any.sub();
  }
  return { url, value };
}

/** The RDS route configuration names the HTTP connection managers of a listener refer to. */
export function listenerRouteNames(listener: WireResource): readonly string[] {
  return (listener.routeNames ??= readListenerRouteNames(listener));
}

function readListenerRouteNames(listener: WireResource): readonly string[] {
  const out: string[] = [];
  const buf = listener.buf;
  const l = new FieldReader(buf, listener.start, listener.end);
  while (l.next()) {
    if (!l.isLen(F.listener.filterChains) && !l.isLen(F.listener.defaultFilterChain)) continue;
    const chain = l.sub();
    while (chain.next()) {
      if (!chain.isLen(F.chain.filters)) continue;
      const filter = chain.sub();
      while (filter.next()) {
        if (!filter.isLen(F.filter.typedConfig)) continue;
        const { url, value: hcm } = readAny(filter.sub());
        if (url !== HCM_TYPE || !hcm) continue;
        while (hcm.next()) {
          if (!hcm.isLen(F.hcm.rds)) continue;
          const rds = hcm.sub();
          while (rds.next()) if (rds.isLen(F.rds.routeConfigName)) out.push(str(buf, rds.s, rds.e));
        }
      }
    }
  }
  return out;
}

/** Does a RouteConfiguration body name VHDS (its virtual hosts then come as VirtualHost resources)? */
export function routeUsesVhds(route: WireResource): boolean {
  return (route.vhds ??= readRouteUsesVhds(route));
}

function readRouteUsesVhds(route: WireResource): boolean {
  const r = new FieldReader(route.buf, route.start, route.end);
  while (r.next()) if (r.isLen(F.route.vhds)) return true;
  return false;
}

/**
 * The secrets a Cluster or Listener body asks for over ADS, as Envoy's TLS transport sockets do:
 * the SdsSecretConfigs of its certificates and validation context (plain or combined) whose
 * sds_config is `ads`, in its transport socket, its transport socket matches (a cluster's) or its
 * filter chains' (a listener's). A secret from another config source (a file, an agent's SDS
 * server) or inline is not the ADS server's to send. Sorted, without duplicates.
 */
export function sdsSecretNames(resource: WireResource, kind: "cluster" | "listener"): readonly string[] {
  const names = new SecretNames();
  const r = new FieldReader(resource.buf, resource.start, resource.end);
  while (r.next()) {
    if (kind === "cluster") {
      if (r.isLen(F.tls.clusterSocket)) socketSecrets(r.sub(), names);
      else if (r.isLen(F.tls.clusterMatches)) {
        const m = r.sub();
        while (m.next()) if (m.isLen(F.tls.matchSocket)) socketSecrets(m.sub(), names);
      }
    } else if (r.isLen(F.listener.filterChains) || r.isLen(F.listener.defaultFilterChain)) {
      const chain = r.sub();
      while (chain.next()) if (chain.isLen(F.tls.chainSocket)) socketSecrets(chain.sub(), names);
    }
  }
  return names.sorted();
}

const NO_NAMES: readonly string[] = [];

/** The secret names found; no set is made for the many resources that name none. */
class SecretNames {
  private set: Set<string> | undefined;
  add(name: string): void {
    (this.set ??= new Set()).add(name);
  }
  sorted(): readonly string[] {
    return this.set ? [...this.set].sort() : NO_NAMES;
  }
}

function socketSecrets(socket: FieldReader, names: SecretNames): void {
  while (socket.next()) {
    if (!socket.isLen(F.tls.socketConfig)) continue;
    const { url, value: ctx } = readAny(socket.sub());
    if (!ctx || (url !== UPSTREAM_TLS_TYPE && url !== DOWNSTREAM_TLS_TYPE)) continue;
    const common = url === UPSTREAM_TLS_TYPE ? F.tls.upstreamCommon : F.tls.downstreamCommon;
    while (ctx.next()) {
      if (!ctx.isLen(common)) continue;
      const c = ctx.sub();
      while (c.next()) {
        if (c.isLen(F.tls.certificates) || c.isLen(F.tls.validation)) adsSecret(c.sub(), names);
        else if (c.isLen(F.tls.combined)) {
          const v = c.sub();
          while (v.next()) if (v.isLen(F.tls.combinedValidation)) adsSecret(v.sub(), names);
        }
      }
    }
  }
}

/** The name of an SdsSecretConfig whose config source is ADS. */
function adsSecret(sds: FieldReader, names: SecretNames): void {
  let name = "";
  let ads = false;
  while (sds.next()) {
    if (sds.isLen(F.tls.sdsName)) name = str(sds.buf, sds.s, sds.e);
    else if (sds.isLen(F.tls.sdsConfig)) {
      const src = sds.sub();
      while (src.next()) if (src.isLen(F.tls.ads)) ads = true;
    }
  }
  if (ads && name) names.add(name);
}

const REQ = {
  node: DeltaDiscoveryRequestSchema.field.node.number,
  typeUrl: DeltaDiscoveryRequestSchema.field.typeUrl.number,
  subscribe: DeltaDiscoveryRequestSchema.field.resourceNamesSubscribe.number,
  unsubscribe: DeltaDiscoveryRequestSchema.field.resourceNamesUnsubscribe.number,
  nonce: DeltaDiscoveryRequestSchema.field.responseNonce.number,
  initialVersions: DeltaDiscoveryRequestSchema.field.initialResourceVersions.number,
} as const;
/** A map field is a repeated entry message: key 1, value 2. */
const MAP_KEY = 1;
const MAP_VALUE = 2;

// Every proxy subscribes to the same thousands of names: each name's field is encoded once.
const subscribeFields = new Map<string, Buffer>();
const typeUrlFields = new Map<string, Buffer>();
function cachedField(cache: Map<string, Buffer>, field: number, s: string): Buffer {
  let b = cache.get(s);
  if (!b) {
    b = lenField(field, Buffer.from(s, "utf8"));
    cache.set(s, b);
  }
  return b;
}

/** Lists of at least this many names are encoded once per list (proxies of a shared state send the same list). */
const LONG_LIST = 16;
const subscribeLists = new WeakMap<readonly string[], Buffer>();
function subscribeList(names: readonly string[]): Buffer {
  let b = subscribeLists.get(names);
  if (!b) {
    b = Buffer.concat(names.map((n) => cachedField(subscribeFields, REQ.subscribe, n)));
    subscribeLists.set(names, b);
  }
  return b;
}

export interface DeltaRequestFields {
  readonly typeUrl?: string;
  readonly resourceNamesSubscribe?: readonly string[];
  readonly resourceNamesUnsubscribe?: readonly string[];
  readonly responseNonce?: string;
  /** What the proxy holds of the type, name → version: a resumed stream's first request (Envoy's reconnect). */
  readonly initialResourceVersions?: ReadonlyMap<string, string>;
}

/**
 * The bytes of a DeltaDiscoveryRequest with these fields (and the node, already encoded, on a
 * stream's first request): what a load client sends, without building and serializing a message
 * per request.
 */
export function deltaRequestBytes(r: DeltaRequestFields, node?: Uint8Array): Buffer {
  const chunks: Buffer[] = [];
  if (node) chunks.push(lenField(REQ.node, node));
  if (r.typeUrl) chunks.push(cachedField(typeUrlFields, REQ.typeUrl, r.typeUrl));
  const subscribe = r.resourceNamesSubscribe ?? [];
  if (subscribe.length >= LONG_LIST) chunks.push(subscribeList(subscribe));
  else for (const n of subscribe) chunks.push(cachedField(subscribeFields, REQ.subscribe, n));
  for (const n of r.resourceNamesUnsubscribe ?? []) chunks.push(lenField(REQ.unsubscribe, Buffer.from(n, "utf8")));
  if (r.responseNonce) chunks.push(lenField(REQ.nonce, Buffer.from(r.responseNonce, "utf8")));
  for (const [name, version] of r.initialResourceVersions ?? []) {
    const entry = Buffer.concat([lenField(MAP_KEY, Buffer.from(name, "utf8")), lenField(MAP_VALUE, Buffer.from(version, "utf8"))]);
    chunks.push(lenField(REQ.initialVersions, entry));
  }
  return Buffer.concat(chunks);
}
