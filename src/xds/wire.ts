// Hand-assembled DiscoveryResponse / DeltaDiscoveryResponse bytes.
//
// A response is mostly the already-encoded resource bodies; building a protobuf-es message and
// re-serializing it would copy and re-walk every resource for every proxy. Instead we write the
// few envelope fields ourselves and splice the cached bodies in (field numbers from
// envoy/service/discovery/v3/discovery.proto). Protobuf parsers accept fields in any order, so a
// shared body can be followed by a per-stream nonce field.
import type { Resource } from "./snapshot.js";

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
 * DiscoveryResponse without its nonce: version_info = 1, resources = 2 (Any), type_url = 4,
 * control_plane = 6. Shareable between streams; append `nonceField` per stream.
 */
export function sotwBody(typeUrl: string, version: string, resources: Iterable<Resource>, controlPlaneId: string): Buffer {
  const chunks: Uint8Array[] = [...stringField(1, version)];
  const urlField = anyTypeUrlField(typeUrl);
  for (const r of resources) {
    const any = anyChunks(urlField, r.body);
    chunks.push(lenHeader(2, chunksLength(any)), ...any);
  }
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
  const urlField = anyTypeUrlField(typeUrl);
  for (const r of resources) {
    const any = anyChunks(urlField, r.body);
    const inner: Uint8Array[] = [...stringField(1, r.version), lenHeader(2, chunksLength(any)), ...any, ...stringField(3, r.name)];
    chunks.push(lenHeader(2, chunksLength(inner)), ...inner);
  }
  chunks.push(...stringField(4, typeUrl), ...stringField(5, nonce));
  for (const name of removed) {
    const b = Buffer.from(name, "utf8");
    chunks.push(lenHeader(6, b.length), b); // repeated string: every element, even "", is written
  }
  chunks.push(...controlPlaneChunks(7, controlPlaneId));
  return Buffer.concat(chunks);
}
