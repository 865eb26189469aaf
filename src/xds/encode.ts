// Translator output (Envoy's canonical proto-JSON) → encoded Resources and Snapshots.
//
// Encoding is the expensive step of a push, so it happens here once per resource version and the
// bytes are shared by every proxy and every response (DESIGN.md "Fast by construction"). Versions
// are content hashes, so an unchanged resource keeps its version across rebuilds and restarts,
// which is what lets delta reconnects send only what changed.
import { hash } from "node:crypto";
import { fromJson, toBinary, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import type { EncodeCache } from "./encode-cache.js";
import { EncodedResource } from "./encoded-resource.js";
import { JsonBinaryEncoder } from "./json-binary.js";
import { envoyRegistry, envoySchema } from "./registry.js";
import type { Resource, ResourceMap, Snapshot } from "./snapshot.js";
import { TypeTable } from "./type-table.js";
import { PUSH_ORDER, SHORT_TYPE, TYPE_URL, type TypeUrl } from "./type-urls.js";
import { typeVersion } from "./type-version.js";

export { typeVersion };

const schemas = new Map<TypeUrl, DescMessage>();

/** The schema of an xDS type (its URL names the message), from the registry when first needed. */
export function schemaOf(typeUrl: TypeUrl): DescMessage {
  let schema = schemas.get(typeUrl);
  if (!schema) schemas.set(typeUrl, (schema = envoySchema(typeUrl.slice(typeUrl.lastIndexOf("/") + 1))));
  return schema;
}

/** The JSON field that carries a resource's own name (Envoy matches it against the xDS name). */
const NAME_FIELD: Readonly<Record<TypeUrl, string>> = {
  [TYPE_URL.cluster]: "name",
  [TYPE_URL.endpoint]: "clusterName",
  [TYPE_URL.listener]: "name",
  [TYPE_URL.route]: "name",
  [TYPE_URL.virtualHost]: "name",
  [TYPE_URL.secret]: "name",
};

/** JSON → bytes directly; what it declines goes through fromJson + toBinary (same bytes, or the error). */
const direct = new JsonBinaryEncoder(envoyRegistry);

/** Hex characters kept from SHA-256: 64 bits is plenty to tell versions of one resource apart. */
const VERSION_HEX = 16;

// One-shot hashing: a Hash object per call costs more than hashing a resource's few KiB.
export function contentVersion(bytes: Uint8Array | string): string {
  return hash("sha256", bytes, "hex").slice(0, VERSION_HEX);
}

/**
 * Remembers, per encoded Resource, the digest of its content, so that a rebuilt resource of the
 * same content is recognised and keeps its Resource object (what is keyed on identity downstream
 * stays). For resources encoded here that is the SHA-256 of the bytes themselves: encoding is
 * cheaper than stringifying and hashing the JSON it comes from, which it replaces (a rebuilt
 * JSON object is encoded before it is compared; one already seen is known by identity).
 * Resources with their bytes (EncodedResource) carry it themselves; this holds the assembled ones'.
 */
const contentDigest = new WeakMap<Resource, string>();

/** The digest of a Resource's content (undefined for one not made here). */
export function encodedDigest(r: Resource): string | undefined {
  return EncodedResource.digestOf(r) ?? contentDigest.get(r);
}

export interface EncodeItem {
  readonly name: string;
  readonly json: unknown;
}

/**
 * Encode one type's resources. `previous` (the same type's map from the last snapshot) lets an
 * unchanged resource keep its Resource object and bytes; `shared` finds (and keeps) what other
 * views encoded of the same content. The result keeps the order of `items`.
 * Throws (naming the resource) on JSON Envoy's schema does not accept: that is a translator bug.
 */
export function encodeResources(typeUrl: TypeUrl, items: readonly EncodeItem[], previous?: ResourceMap, shared?: EncodeCache): ResourceMap {
  const out = new Map<string, Resource>();
  // Unchanged (every item the previous map's, in its order): the previous map itself, so that what
  // is keyed on map identity downstream (type versions, diffs, composed views) stays as it was.
  let asBefore = previous !== undefined && previous.size === items.length;
  const prevNames = asBefore ? previous!.keys() : undefined;
  for (const item of items) {
    if (out.has(item.name)) throw new Error(`${SHORT_TYPE[typeUrl]} resource "${item.name}": duplicate name (Envoy rejects a response with repeated names)`);
    const old = previous?.get(item.name);
    const r = encodeOne(typeUrl, item, old, shared);
    out.set(item.name, r);
    if (asBefore && (r !== old || prevNames!.next().value !== item.name)) asBefore = false;
  }
  return asBefore ? previous! : out;
}

/** One resource: the one encoded from this very JSON object, else encoded now and the previous or a shared one kept if of equal content. */
function encodeOne(typeUrl: TypeUrl, item: EncodeItem, old: Resource | undefined, shared: EncodeCache | undefined): Resource {
  const same = shared?.ofJson(item.json);
  if (same?.name === item.name) return old !== undefined && encodedDigest(old) === encodedDigest(same) ? old : same;
  const where = `${SHORT_TYPE[typeUrl]} resource "${item.name}"`;
  if (item.json === undefined) throw new Error(`${where}: JSON is undefined`);
  const ownName = (item.json as Record<string, unknown> | null)?.[NAME_FIELD[typeUrl]];
  if (ownName !== item.name) throw new Error(`${where}: field ${NAME_FIELD[typeUrl]} is ${JSON.stringify(ownName)}, expected the resource name`);
  const resource = resourceOf(typeUrl, item.name, encodeMessage(typeUrl, item.json, where), old, shared);
  shared?.putJson(item.json, resource);
  return resource;
}

/**
 * The Resource `name` of `typeUrl` with these bytes: the previous one of that name or another
 * view's if either has the same content, else a new one (remembered in `shared`).
 */
export function resourceOf(typeUrl: TypeUrl, name: string, body: Uint8Array, previous: Resource | undefined, shared: EncodeCache | undefined): Resource {
  const full = hash("sha256", body, "hex");
  if (previous !== undefined && encodedDigest(previous) === full) return previous;
  const known = shared?.get(typeUrl, full);
  if (known?.name === name) return known;
  const resource = new EncodedResource(name, full.slice(0, VERSION_HEX), body, full);
  shared?.put(typeUrl, full, resource);
  return resource;
}

/**
 * Where a resource's JSON may carry its own encoding (non-enumerable, so invisible to JSON and to
 * the JSON encoder): a function giving the message's bytes, the same as its JSON's, or undefined
 * to have the JSON encoded, called on the JSON object. The translator sets it on what it can write cheaper from its model
 * (ClusterLoadAssignments, translate/assignment-bytes.ts; clusters, translate/cluster-bytes.ts); a
 * registered symbol, as xds/ imports nothing of translate/. It is given the JSON encoder for
 * parts of the same message type (undefined where that declines).
 */
const OWN_BYTES = Symbol.for("meshpilot.ownBytes");

type EncodeSame = (json: object) => Uint8Array | undefined;
type OwnBytes = (encode: EncodeSame) => Uint8Array | undefined;

/** Per type, the JSON encoder for parts of its message (what OWN_BYTES is given). */
const encodeSame = new Map<TypeUrl, EncodeSame>();

function encoderOf(typeUrl: TypeUrl): EncodeSame {
  let f = encodeSame.get(typeUrl);
  if (f === undefined) {
    const schema = schemaOf(typeUrl);
    encodeSame.set(typeUrl, (f = (json) => direct.encode(schema, json)));
  }
  return f;
}

/** One message of `typeUrl`'s schema (or `schema`) from its JSON; throws naming `where` if Envoy's schema rejects it. */
export function encodeMessage(typeUrl: TypeUrl, json: unknown, where: string): Uint8Array {
  // Called on the JSON object: one function may serve many resources.
  const own = typeof json === "object" && json !== null ? (json as { [OWN_BYTES]?: OwnBytes })[OWN_BYTES]?.(encoderOf(typeUrl)) : undefined;
  if (own !== undefined) return own;
  const schema = schemaOf(typeUrl);
  const body = direct.encode(schema, json);
  if (body !== undefined) return body;
  try {
    return toBinary(schema, fromJson(schema, json as JsonValue, { registry: envoyRegistry }));
  } catch (e) {
    throw new Error(`${where}: not a valid ${schema.typeName}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The Resource `name` of `typeUrl` whose content has `digest` (of a caller's choosing, e.g. of the
 * parts a message is assembled from): the previous one of that name or another view's if either
 * has that digest, else built (by `build`) and remembered.
 */
export function encodeOnce(typeUrl: TypeUrl, name: string, digest: string, build: () => Uint8Array, previous?: ResourceMap, shared?: EncodeCache): Resource {
  const old = previous?.get(name);
  if (old && encodedDigest(old) === digest) return old;
  const known = shared?.get(typeUrl, digest);
  if (known) return known;
  const body = build();
  const resource = new EncodedResource(name, contentVersion(body), body, digest);
  shared?.put(typeUrl, digest, resource);
  return resource;
}

/**
 * As encodeOnce, for a message assembled from parts whose digests are content hashes (a route
 * configuration from its virtual hosts): its version is the digest's, and its bytes are put
 * together when first read (`prepare`, called for a new resource only, encodes what it needs and
 * returns what copies the parts together). Delta streams that take the virtual hosts by VHDS never read them, so
 * a route edit copies no 1 MB route configuration per outbound part unless a stream takes it whole.
 */
export function assembledOnce(
  typeUrl: TypeUrl,
  name: string,
  digest: string,
  prepare: () => Assembler,
  previous?: ResourceMap,
  shared?: EncodeCache,
): Resource {
  const old = previous?.get(name);
  if (old && encodedDigest(old) === digest) return old;
  const known = shared?.get(typeUrl, digest);
  if (known) return known;
  let bytes: Uint8Array | undefined;
  // What can fail (the parts' encoding) is done now; `pending` only copies.
  const { assemble, keeps } = prepare();
  let pending: (() => Uint8Array) | undefined = assemble;
  const resource: Resource = {
    name,
    version: contentVersion(digest),
    get body(): Uint8Array {
      if (pending) {
        bytes = pending();
        pending = undefined;
        unassembled.delete(resource);
      }
      return bytes!;
    },
  };
  unassembled.set(resource, keeps);
  contentDigest.set(resource, digest);
  shared?.put(typeUrl, digest, resource);
  return resource;
}

/** What assembledOnce's `prepare` gives: what copies the parts together, and about how many bytes it keeps until then. */
export interface Assembler {
  readonly assemble: () => Uint8Array;
  readonly keeps: number;
}

/** Resources of assembledOnce whose bytes nobody asked for yet, and what each keeps until then. */
const unassembled = new WeakMap<Resource, number>();

/**
 * For an assembledOnce resource nobody read yet, about how many bytes it keeps until read (its
 * parts, not its bytes); undefined once its bytes are made, and for every other resource.
 */
export function unreadBytes(r: Resource): number | undefined {
  return unassembled.get(r);
}

/** A digest of JSON text (or of several digests joined), as encodeOnce keys content. */
export function digestText(text: string): string {
  return hash("sha256", text, "base64");
}

/** A type a snapshot has nothing of: one map for all (maps are never mutated). */
const EMPTY_MAP: ResourceMap = new Map();

/**
 * Assemble a Snapshot. Every known type is present (missing ones as empty maps): an empty LDS or
 * CDS is a real state ("no listeners"), and streams need a version to answer with.
 */
export function snapshotFrom(maps: Partial<Record<TypeUrl, ResourceMap>> | ReadonlyMap<TypeUrl, ResourceMap>): Snapshot {
  const get = (t: TypeUrl): ResourceMap | undefined =>
    maps instanceof Map || maps instanceof TypeTable ? (maps as ReadonlyMap<TypeUrl, ResourceMap>).get(t) : (maps as Partial<Record<TypeUrl, ResourceMap>>)[t];
  // A view's composed maps are such a table already, every type in it: the snapshot holds it.
  const resources = maps instanceof TypeTable && maps.size === PUSH_ORDER.length ? (maps as TypeTable<ResourceMap>) : TypeTable.of((t) => get(t) ?? EMPTY_MAP);
  return { resources, versions: TypeTable.of((t) => typeVersion(resources.get(t)!)), vhdsForm: undefined, wholeForm: undefined };
}
