// Hand-assembled DiscoveryResponse / DeltaDiscoveryResponse bytes.
//
// A response is mostly the already-encoded resource bodies; building a protobuf-es message and
// re-serializing it would copy and re-walk every resource for every proxy. Instead we write the
// few envelope fields ourselves and splice the cached bodies in (field numbers from
// envoy/service/discovery/v3/discovery.proto). Protobuf parsers accept fields in any order, so a
// shared body can be followed by a per-stream nonce field.
import { ByteArena } from "./byte-arena.js";
import { typeVersion } from "./encode.js";
import { LayeredMap } from "./layered-map.js";
import { lenHeader } from "./proto-fields.js";
import type { Resource, ResourceMap } from "./snapshot.js";

function stringField(field: number, value: string): Buffer[] {
  if (value === "") return []; // proto3 default: omitted
  const b = Buffer.from(value, "utf8");
  return [lenHeader(field, b.length), b];
}

/**
 * The type URL, which every response of a type repeats, encoded once per type: each response to
 * each of 2000 streams allocated a few small buffers for its fields. Versions change with every
 * snapshot and are written like the nonce (a cache of them kept slabs of Buffer's pool alive).
 */
const typeUrlFieldsOfResponses = new Map<string, Buffer[]>();

function typeUrlField(typeUrl: string): Buffer[] {
  let f = typeUrlFieldsOfResponses.get(typeUrl);
  if (!f) {
    f = typeUrl === "" ? [] : [Buffer.concat(stringField(4, typeUrl))]; // type_url = 4 in both responses
    typeUrlFieldsOfResponses.set(typeUrl, f);
  }
  return f;
}

/** A short field of one response (its version, its nonce) as one buffer. */
function ownField(field: number, value: string): Buffer[] {
  if (value === "") return [];
  const ascii = asciiField(field, value);
  if (ascii) return [ascii];
  const n = Buffer.byteLength(value, "utf8");
  if (n >= 0x80 || field >= 16) return stringField(field, value);
  const b = Buffer.allocUnsafe(2 + n);
  b[0] = field * 8 + 2; // wire type 2: length-delimited
  b[1] = n;
  b.write(value, 2, "utf8");
  return [b];
}

/**
 * The field of a short ASCII value (every nonce, most versions) written a byte per character:
 * measuring its UTF-8 length first was, per response, a call into the runtime.
 */
function asciiField(field: number, value: string): Buffer | undefined {
  const n = value.length;
  if (n >= 0x80 || field >= 16) return undefined;
  for (let i = 0; i < n; i++) if (value.charCodeAt(i) >= 0x80) return undefined;
  const b = Buffer.allocUnsafe(2 + n);
  b[0] = field * 8 + 2; // wire type 2: length-delimited
  b[1] = n;
  for (let i = 0; i < n; i++) b[2 + i] = value.charCodeAt(i);
  return b;
}

function chunksLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/**
 * A message as the pieces it is made of, in order: a stream's response is mostly bodies shared by
 * every proxy of its view, plus a few bytes of its own (the nonce). Written as pieces
 * (gather-write.ts), the shared bytes are never copied per stream.
 */
export interface Pieces {
  readonly chunks: readonly Uint8Array[];
  readonly length: number;
}

function pieces(chunks: readonly Uint8Array[]): Pieces {
  return { chunks, length: chunksLength(chunks) };
}

/** The message in one buffer. */
export function joined(p: Pieces): Buffer {
  return Buffer.concat(p.chunks, p.length);
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

const controlPlanes = new Map<string, Buffer[]>();
function controlPlaneChunks(field: number, identifier: string): Buffer[] {
  if (!identifier) return [];
  const key = `${field} ${identifier}`;
  let f = controlPlanes.get(key);
  if (!f) {
    const inner = Buffer.concat(stringField(1, identifier)); // ControlPlane.identifier = 1
    f = [Buffer.concat([lenHeader(field, inner.length), inner])];
    controlPlanes.set(key, f);
  }
  return f;
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
/** Where framings' bytes live: kept as long as their resource, not among the pool's garbage. */
const framingBytes = new ByteArena();

/** DiscoveryResponse.resources entry (field 2, an Any): header and type_url before the body. */
function sotwFraming(typeUrl: string, r: Resource): Framing {
  const hit = sotwFramings.get(r);
  if (hit?.typeUrl === typeUrl) return hit;
  const any = anyChunks(anyTypeUrlField(typeUrl), r.body);
  const framing = { typeUrl, head: framingBytes.copy([lenHeader(2, chunksLength(any)), ...any.slice(0, -1)]) };
  sotwFramings.set(r, framing);
  return framing;
}

/** DeltaDiscoveryResponse.resources entry (field 2): Resource{version = 1, resource = 2 (Any), name = 3}. */
function deltaFraming(typeUrl: string, r: Resource): Framing {
  const hit = deltaFramings.get(r);
  if (hit?.typeUrl === typeUrl) return hit;
  const any = anyChunks(anyTypeUrlField(typeUrl), r.body);
  const inner: Uint8Array[] = [...stringField(1, r.version), lenHeader(2, chunksLength(any)), ...any.slice(0, -1)];
  const tail = framingBytes.copy(stringField(3, r.name));
  const framing = { typeUrl, head: framingBytes.copy([lenHeader(2, chunksLength(inner) + r.body.length + tail.length), ...inner]), tail };
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
  return Buffer.concat(sotwBodyChunks(typeUrl, version, resources, controlPlaneId));
}

function sotwBodyChunks(typeUrl: string, version: string, resources: Iterable<Resource>, controlPlaneId: string): Uint8Array[] {
  const chunks: Uint8Array[] = [...ownField(1, version)];
  for (const r of resources) pushFramed(chunks, sotwFraming(typeUrl, r), r.body);
  chunks.push(...typeUrlField(typeUrl), ...controlPlaneChunks(6, controlPlaneId));
  return chunks;
}

/** A SotW response with the given resources (not a whole map: see wholeSotwPieces), for one stream. */
export function sotwPieces(typeUrl: string, version: string, resources: Iterable<Resource>, controlPlaneId: string, nonce: string): Pieces {
  return pieces([...sotwBodyChunks(typeUrl, version, resources, controlPlaneId), ...ownField(5, nonce)]);
}

/** DiscoveryResponse.nonce = 5. */
export function withNonce(body: Uint8Array, nonce: string): Buffer {
  return joined(noncePieces(body, nonce));
}

/** A shared body and a stream's nonce after it (DiscoveryResponse and DeltaDiscoveryResponse both number it 5). */
function noncePieces(body: Uint8Array, nonce: string): Pieces {
  return pieces([body, ...ownField(5, nonce)]);
}

/**
 * DeltaDiscoveryResponse: system_version_info = 1, resources = 2 (Resource{version = 1,
 * resource = 2 (Any), name = 3}), type_url = 4, nonce = 5, removed_resources = 6,
 * control_plane = 7.
 */
export function deltaResponse(...args: Parameters<typeof deltaPieces>): Buffer {
  return joined(deltaPieces(...args));
}

/** deltaResponse as pieces. */
export function deltaPieces(
  typeUrl: string,
  systemVersion: string,
  resources: Iterable<Resource>,
  removed: Iterable<string>,
  nonce: string,
  controlPlaneId: string,
): Pieces {
  const chunks: Uint8Array[] = [...ownField(1, systemVersion)];
  for (const r of resources) pushFramed(chunks, deltaFraming(typeUrl, r), r.body);
  chunks.push(...typeUrlField(typeUrl), ...ownField(5, nonce), ...removedChunks(removed, controlPlaneId));
  return pieces(chunks);
}

/**
 * The bytes of a delta response on either side of its nonce, for one step between two resource
 * maps (map-diff.ts): every proxy of a view that makes the step is sent the same resources and
 * removals, so those are framed once, keyed by the diff's own arrays, and each stream only adds
 * its nonce. Framed per stream, an endpoint change to 2000 streams built 2000 equal copies.
 */
interface StepHead {
  readonly typeUrl: string;
  readonly version: string;
  readonly bytes: Buffer;
}
interface StepTail {
  readonly controlPlaneId: string;
  readonly bytes: Buffer;
}
const stepHeads = new WeakMap<readonly Resource[], StepHead>();
const stepTails = new WeakMap<readonly string[], StepTail>();

/**
 * `chunks` joined in a buffer of their own, for bytes kept as long as what they frame lives: cut
 * out of Node's shared pool (Buffer.concat, Buffer.from), each would pin an 8 KiB slab of other
 * buffers' garbage.
 */
export function ownCopy(chunks: readonly Uint8Array[]): Buffer {
  const n = chunksLength(chunks);
  const b = Buffer.allocUnsafeSlow(n);
  let at = 0;
  for (const c of chunks) {
    b.set(c, at);
    at += c.length;
  }
  return b;
}

/**
 * deltaPieces for resources and removals that are shared, immutable arrays (a diff's), with the
 * same bytes: what comes before the nonce and after it is built once per array and reused.
 */
export function stepDeltaPieces(
  typeUrl: string,
  systemVersion: string,
  resources: readonly Resource[],
  removed: readonly string[],
  nonce: string,
  controlPlaneId: string,
): Pieces {
  let head = stepHeads.get(resources);
  if (head?.typeUrl !== typeUrl || head.version !== systemVersion) {
    const chunks: Uint8Array[] = [...ownField(1, systemVersion)];
    for (const r of resources) pushFramed(chunks, deltaFraming(typeUrl, r), r.body);
    chunks.push(...typeUrlField(typeUrl));
    head = { typeUrl, version: systemVersion, bytes: ownCopy(chunks) };
    stepHeads.set(resources, head);
  }
  let tail = stepTails.get(removed);
  if (tail?.controlPlaneId !== controlPlaneId) {
    tail = { controlPlaneId, bytes: ownCopy(removedChunks(removed, controlPlaneId)) };
    stepTails.set(removed, tail);
  }
  // As pieces() would make it, without the arrays in between: every stream of a push comes here.
  const nonceField = nonce === "" ? undefined : (asciiField(5, nonce) ?? joined(pieces(stringField(5, nonce))));
  return nonceField
    ? { chunks: [head.bytes, nonceField, tail.bytes], length: head.bytes.length + nonceField.length + tail.bytes.length }
    : { chunks: [head.bytes, tail.bytes], length: head.bytes.length + tail.bytes.length };
}

/** removed_resources = 6 (every element, even "", is written) and control_plane = 7. */
function removedChunks(removed: Iterable<string>, controlPlaneId: string): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (const name of removed) {
    const b = Buffer.from(name, "utf8");
    chunks.push(lenHeader(6, b.length), b);
  }
  chunks.push(...controlPlaneChunks(7, controlPlaneId));
  return chunks;
}

/**
 * Whole-map response bodies without a nonce, built once per (immutable) resource map and shared by
 * every stream that is sent all of it: SotW wildcard responses, and a delta proxy's first response
 * of a type. Streams append their own nonce (`withNonce`; protobuf accepts fields in any order).
 * Held weakly: a body is needed while streams are sent it (a full sync, reconnects) and is made
 * again from the kept framings when asked for after a collection. Held for the map's life, the
 * bodies of every type (at 1000 services EDS 2.5 MiB, each namespace's virtual hosts 1.3 MiB)
 * stayed on the heap of a synced server that no longer needed them.
 */
interface SharedBody {
  readonly key: string;
  readonly body: WeakRef<Buffer>;
}
const sotwBodies = new WeakMap<ResourceMap, SharedBody>();
const deltaBodies = new WeakMap<ResourceMap, SharedBody>();

/**
 * Built bodies and runs by content, as long as something holds them: the outbound sides of different
 * namespaces hold equal maps (every ClusterLoadAssignment, most clusters) as distinct Map objects,
 * and each kept its own megabytes of equal bytes. Content is the map's type version (its sorted
 * name and version pairs) under the caller's key.
 */
class Twins {
  private readonly byContent = new Map<string, WeakRef<object>>();
  private swept = 0;

  find<T extends object>(key: string, resources: ResourceMap, build: () => T): T {
    const k = `${key} ${typeVersion(resources)}`;
    const known = this.byContent.get(k)?.deref() as T | undefined;
    if (known) return known;
    const made = build();
    this.byContent.set(k, new WeakRef(made));
    if (this.byContent.size > 2 * this.swept + 64) this.sweep();
    return made;
  }

  /** Forget what no map holds any more. */
  private sweep(): void {
    for (const [k, ref] of this.byContent) if (ref.deref() === undefined) this.byContent.delete(k);
    this.swept = this.byContent.size;
  }
}
const twins = new Twins();

/**
 * A map's resources framed one after the other, with where each begins: the middle of every whole
 * response of that map, and the runs a view's own resources are laid between (layeredChunks).
 * Held weakly, as shared bodies are.
 */
interface FramedRun {
  readonly typeUrl: string;
  readonly bytes: Buffer;
  readonly names: readonly string[];
  /** offsets[i]: where the i-th resource begins; offsets[names.length]: the end. */
  readonly offsets: readonly number[];
}
const sotwRuns = new WeakMap<ResourceMap, WeakRef<FramedRun>>();
const deltaRuns = new WeakMap<ResourceMap, WeakRef<FramedRun>>();

type Framer = (typeUrl: string, r: Resource) => Framing;

function framedRun(cache: WeakMap<ResourceMap, WeakRef<FramedRun>>, frame: Framer, typeUrl: string, resources: ResourceMap): FramedRun {
  const hit = cache.get(resources)?.deref();
  if (hit?.typeUrl === typeUrl) return hit;
  const run = twins.find(`${cache === sotwRuns ? "sotw" : "delta"} run ${typeUrl}`, resources, () => buildRun(frame, typeUrl, resources));
  cache.set(resources, new WeakRef(run));
  return run;
}

function buildRun(frame: Framer, typeUrl: string, resources: ResourceMap): FramedRun {
  const chunks: Uint8Array[] = [];
  const names: string[] = [];
  const offsets: number[] = [0];
  let at = 0;
  for (const r of resources.values()) {
    const f = frame(typeUrl, r);
    pushFramed(chunks, f, r.body);
    at += f.head.length + r.body.length + (f.tail?.length ?? 0);
    names.push(r.name);
    offsets.push(at);
  }
  return { typeUrl, bytes: Buffer.concat(chunks, at), names, offsets };
}

/**
 * A view's own resources laid over a shared map, framed in the map's order (LayeredMap.entries):
 * the shared map's framed run, cut where an own resource goes in or hides a shared one. Each view
 * then copies its bytes once per response instead of framing thousands of resources again.
 */
function layeredChunks(cache: WeakMap<ResourceMap, WeakRef<FramedRun>>, frame: Framer, typeUrl: string, map: LayeredMap): Uint8Array[] {
  const run = framedRun(cache, frame, typeUrl, map.shared);
  const chunks: Uint8Array[] = [];
  const own = map.own.entries();
  let o = own.next();
  let start = 0;
  const flush = (end: number): void => {
    if (end > start) chunks.push(run.bytes.subarray(run.offsets[start], run.offsets[end]));
  };
  for (let i = 0; i < run.names.length; i++) {
    const name = run.names[i]!;
    if (!o.done && o.value[0] <= name) {
      flush(i);
      start = i;
      for (; !o.done && o.value[0] <= name; o = own.next()) pushFramed(chunks, frame(typeUrl, o.value[1]), o.value[1].body);
    }
    if (map.own.has(name)) {
      flush(i); // hidden by an own resource of its name
      start = i + 1;
    }
  }
  flush(run.names.length);
  for (; !o.done; o = own.next()) pushFramed(chunks, frame(typeUrl, o.value[1]), o.value[1].body);
  return chunks;
}

/**
 * Every resource of `resources`, framed. A plain map's are framed here, not kept as a run: its
 * whole body is kept instead (sharedBody), and a run besides would hold its bytes twice.
 */
function wholeChunks(cache: WeakMap<ResourceMap, WeakRef<FramedRun>>, frame: Framer, typeUrl: string, resources: ResourceMap): Uint8Array[] {
  if (resources instanceof LayeredMap) return layeredChunks(cache, frame, typeUrl, resources);
  const chunks: Uint8Array[] = [];
  for (const r of resources.values()) pushFramed(chunks, frame(typeUrl, r), r.body);
  return chunks;
}

/**
 * A whole response around framed resources: version = 1, resources = 2, type_url = 4, nonce = 5
 * (last, as withNonce appends it), and control_plane, which is field 6 of DiscoveryResponse and 7
 * of DeltaDiscoveryResponse.
 */
function envelope(controlPlaneField: 6 | 7, typeUrl: string, version: string, resources: readonly Uint8Array[], controlPlaneId: string, nonce = ""): Buffer {
  return joined(envelopePieces(controlPlaneField, typeUrl, version, resources, controlPlaneId, nonce));
}

function envelopePieces(
  controlPlaneField: 6 | 7,
  typeUrl: string,
  version: string,
  resources: readonly Uint8Array[],
  controlPlaneId: string,
  nonce: string,
): Pieces {
  return pieces([
    ...ownField(1, version),
    ...resources,
    ...typeUrlField(typeUrl),
    ...controlPlaneChunks(controlPlaneField, controlPlaneId),
    ...ownField(5, nonce),
  ]);
}
const SOTW_CONTROL_PLANE = 6;
const DELTA_CONTROL_PLANE = 7;

function sharedBody(cache: WeakMap<ResourceMap, SharedBody>, key: string, resources: ResourceMap, build: () => Buffer): Buffer {
  const hit = cache.get(resources);
  const known = hit?.key === key ? hit.body.deref() : undefined;
  if (known) return known;
  const body = twins.find(`${cache === sotwBodies ? "sotw" : "delta"} ${key}`, resources, build);
  cache.set(resources, { key, body: new WeakRef(body) });
  return body;
}

/** A SotW response (no nonce) with every resource of a map that is not a view's own layering. */
export function sharedSotwBody(typeUrl: string, version: string, resources: ResourceMap, controlPlaneId: string): Buffer {
  return sharedBody(sotwBodies, `${typeUrl} ${version} ${controlPlaneId}`, resources, () =>
    envelope(SOTW_CONTROL_PLANE, typeUrl, version, wholeChunks(sotwRuns, sotwFraming, typeUrl, resources), controlPlaneId),
  );
}

/** DeltaDiscoveryResponse with every resource of `resources`, no removals, no nonce. */
export function deltaBody(typeUrl: string, systemVersion: string, resources: ResourceMap, controlPlaneId: string): Buffer {
  return sharedBody(deltaBodies, `${typeUrl} ${systemVersion} ${controlPlaneId}`, resources, () =>
    envelope(DELTA_CONTROL_PLANE, typeUrl, systemVersion, wholeChunks(deltaRuns, deltaFraming, typeUrl, resources), controlPlaneId),
  );
}

/**
 * A SotW response with every resource of `resources`, for one stream. A view's own resources over
 * a shared map (LayeredMap) are held by one workload's proxies: a body kept per view would cost
 * every view a copy of all it shares, so theirs is assembled from the shared map's framed run.
 */
export function wholeSotwPieces(typeUrl: string, version: string, resources: ResourceMap, controlPlaneId: string, nonce: string): Pieces {
  if (resources instanceof LayeredMap)
    return envelopePieces(SOTW_CONTROL_PLANE, typeUrl, version, layeredChunks(sotwRuns, sotwFraming, typeUrl, resources), controlPlaneId, nonce);
  return noncePieces(sharedSotwBody(typeUrl, version, resources, controlPlaneId), nonce);
}

export function wholeSotwResponse(typeUrl: string, version: string, resources: ResourceMap, controlPlaneId: string, nonce: string): Buffer {
  return joined(wholeSotwPieces(typeUrl, version, resources, controlPlaneId, nonce));
}

/** A delta response with every resource of `resources` and no removals, for one stream (see wholeSotwPieces). */
export function wholeDeltaPieces(typeUrl: string, systemVersion: string, resources: ResourceMap, controlPlaneId: string, nonce: string): Pieces {
  if (resources instanceof LayeredMap)
    return envelopePieces(DELTA_CONTROL_PLANE, typeUrl, systemVersion, layeredChunks(deltaRuns, deltaFraming, typeUrl, resources), controlPlaneId, nonce);
  return noncePieces(deltaBody(typeUrl, systemVersion, resources, controlPlaneId), nonce);
}

export function wholeDeltaResponse(typeUrl: string, systemVersion: string, resources: ResourceMap, controlPlaneId: string, nonce: string): Buffer {
  return joined(wholeDeltaPieces(typeUrl, systemVersion, resources, controlPlaneId, nonce));
}
