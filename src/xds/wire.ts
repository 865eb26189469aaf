// Hand-assembled DiscoveryResponse / DeltaDiscoveryResponse bytes.
//
// A response is mostly the already-encoded resource bodies; building a protobuf-es message and
// re-serializing it would copy and re-walk every resource for every proxy. Instead we write the
// few envelope fields ourselves and splice the cached bodies in (field numbers from
// envoy/service/discovery/v3/discovery.proto). Protobuf parsers accept fields in any order, so a
// shared body can be followed by a per-stream nonce field.
import { LayeredMap } from "./layered-map.js";
import type { Resource, ResourceMap } from "./snapshot.js";

const WIRE_LEN = 2;

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

function tag(field: number, wire: number): Buffer {
  return varint((field << 3) | wire);
}

/** Tag + length prefix of a length-delimited field whose payload is `len` bytes. */
function lenHeader(field: number, len: number): Buffer {
  return Buffer.concat([tag(field, WIRE_LEN), varint(len)]);
}

function stringField(field: number, value: string): Buffer[] {
  if (value === "") return []; // proto3 default: omitted
  const b = Buffer.from(value, "utf8");
  return [lenHeader(field, b.length), b];
}

function chunksLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** Bytes of `google.protobuf.Any{type_url, value}` as chunks (no outer header). */
function anyChunks(typeUrlField: Buffer, body: Uint8Array): Uint8Array[] {
  return [typeUrlField, lenHeader(2, body.length), body];
}

// Any.type_url (field 1) is the same for every resource of a type: encode it once per type.
const typeUrlFields = new Map<string, Buffer>();
function anyTypeUrlField(typeUrl: string): Buffer {
  let f = typeUrlFields.get(typeUrl);
  if (!f) {
    f = Buffer.concat(stringField(1, typeUrl));
    typeUrlFields.set(typeUrl, f);
  }
  return f;
}

function controlPlaneChunks(field: number, identifier: string): Buffer[] {
  if (!identifier) return [];
  const inner = Buffer.concat(stringField(1, identifier)); // ControlPlane.identifier = 1
  return [lenHeader(field, inner.length), inner];
}

/**
 * The framing around one resource's body, built once per resource (per type URL and transport)
 * and reused by every response that carries it: before, a response allocated several small
 * buffers per resource, for every proxy.
 */
interface Framing {
  readonly typeUrl: string;
  readonly head: Buffer;
  readonly tail?: Buffer;
}
const sotwFramings = new WeakMap<Resource, Framing>();
const deltaFramings = new WeakMap<Resource, Framing>();

/** DiscoveryResponse.resources entry (field 2, an Any): header and type_url before the body. */
function sotwFraming(typeUrl: string, r: Resource): Framing {
  const hit = sotwFramings.get(r);
  if (hit?.typeUrl === typeUrl) return hit;
  const any = anyChunks(anyTypeUrlField(typeUrl), r.body);
  const framing = { typeUrl, head: Buffer.concat([lenHeader(2, chunksLength(any)), ...any.slice(0, -1)]) };
  sotwFramings.set(r, framing);
  return framing;
}

/** DeltaDiscoveryResponse.resources entry (field 2): Resource{version = 1, resource = 2 (Any), name = 3}. */
function deltaFraming(typeUrl: string, r: Resource): Framing {
  const hit = deltaFramings.get(r);
  if (hit?.typeUrl === typeUrl) return hit;
  const any = anyChunks(anyTypeUrlField(typeUrl), r.body);
  const inner: Uint8Array[] = [...stringField(1, r.version), lenHeader(2, chunksLength(any)), ...any.slice(0, -1)];
  const tail = Buffer.concat(stringField(3, r.name));
  const framing = { typeUrl, head: Buffer.concat([lenHeader(2, chunksLength(inner) + r.body.length + tail.length), ...inner]), tail };
  deltaFramings.set(r, framing);
  return framing;
}

function pushFramed(chunks: Uint8Array[], framing: Framing, body: Uint8Array): void {
  chunks.push(framing.head, body);
  if (framing.tail) chunks.push(framing.tail);
}

/**
 * DiscoveryResponse without its nonce: version_info = 1, resources = 2 (Any), type_url = 4,
 * control_plane = 6. Shareable between streams; append `nonceField` per stream.
 */
export function sotwBody(typeUrl: string, version: string, resources: Iterable<Resource>, controlPlaneId: string): Buffer {
  const chunks: Uint8Array[] = [...stringField(1, version)];
  for (const r of resources) pushFramed(chunks, sotwFraming(typeUrl, r), r.body);
  chunks.push(...stringField(4, typeUrl), ...controlPlaneChunks(6, controlPlaneId));
  return Buffer.concat(chunks);
}

/** DiscoveryResponse.nonce = 5. */
export function withNonce(body: Uint8Array, nonce: string): Buffer {
  return Buffer.concat([body, ...stringField(5, nonce)]);
}

/**
 * DeltaDiscoveryResponse: system_version_info = 1, resources = 2 (Resource{version = 1,
 * resource = 2 (Any), name = 3}), type_url = 4, nonce = 5, removed_resources = 6,
 * control_plane = 7.
 */
export function deltaResponse(
  typeUrl: string,
  systemVersion: string,
  resources: Iterable<Resource>,
  removed: Iterable<string>,
  nonce: string,
  controlPlaneId: string,
): Buffer {
  const chunks: Uint8Array[] = [...stringField(1, systemVersion)];
  for (const r of resources) pushFramed(chunks, deltaFraming(typeUrl, r), r.body);
  chunks.push(...stringField(4, typeUrl), ...stringField(5, nonce));
  for (const name of removed) {
    const b = Buffer.from(name, "utf8");
    chunks.push(lenHeader(6, b.length), b); // repeated string: every element, even "", is written
  }
  chunks.push(...controlPlaneChunks(7, controlPlaneId));
  return Buffer.concat(chunks);
}

/**
 * Whole-map response bodies without a nonce, built once per (immutable) resource map and shared by
 * every stream that is sent all of it: SotW wildcard responses, and a delta proxy's first response
 * of a type. Streams append their own nonce (`withNonce`; protobuf accepts fields in any order).
 */
interface SharedBody {
  readonly key: string;
  readonly body: Buffer;
}
const sotwBodies = new WeakMap<ResourceMap, SharedBody>();
const deltaBodies = new WeakMap<ResourceMap, SharedBody>();

function shared(cache: WeakMap<ResourceMap, SharedBody>, key: string, resources: ResourceMap, build: () => Buffer): Buffer {
  // A view's own resources over a shared map: held by one workload's proxies, and alive as long as
  // the view, so a cached body would cost every view a copy of all it shares, for a gain to few.
  if (resources instanceof LayeredMap) return build();
  const hit = cache.get(resources);
  if (hit?.key === key) return hit.body;
  const body = build();
  cache.set(resources, { key, body });
  return body;
}

export function sharedSotwBody(typeUrl: string, version: string, resources: ResourceMap, controlPlaneId: string): Buffer {
  return shared(sotwBodies, `${typeUrl} ${version} ${controlPlaneId}`, resources, () => sotwBody(typeUrl, version, resources.values(), controlPlaneId));
}

/** DeltaDiscoveryResponse with every resource of `resources`, no removals, no nonce. */
export function deltaBody(typeUrl: string, systemVersion: string, resources: ResourceMap, controlPlaneId: string): Buffer {
  return shared(deltaBodies, `${typeUrl} ${systemVersion} ${controlPlaneId}`, resources, () => {
    const chunks: Uint8Array[] = [...stringField(1, systemVersion)];
    for (const r of resources.values()) pushFramed(chunks, deltaFraming(typeUrl, r), r.body);
    chunks.push(...stringField(4, typeUrl), ...controlPlaneChunks(7, controlPlaneId));
    return Buffer.concat(chunks);
  });
}
