// An outbound cluster's protobuf bytes, put together from what it shares with other clusters and
// what is its own: clusters of one policy (a service's port and its subsets; every service of a
// mesh whose rules say the same) differ in their name, EDS service name and metadata only. The
// shared fields are encoded once per template (cluster.ts) and copied; the own ones are written
// here. The JSON stays the reference: tests hold these bytes equal to the generic encoder's for
// the cluster's JSON.
import { ADS_CONFIG_SOURCE, type ClusterJson } from "./envoy.js";
import { NotWellFormed, ProtoWriter } from "../proto-writer.js";

/** The generic encoder for a JSON object of the resource's own message type (a partial Cluster); undefined where it declines. */
export type EncodeSame = (json: object) => Uint8Array | undefined;

/** A cluster's fields that a template fixes: the same values (by identity) in every cluster made from it. */
export interface ClusterTemplate {
  readonly fields: Readonly<Record<string, unknown>>;
  /** How many keys `fields` has. */
  readonly size: number;
  /** The fields' bytes, encoded when first needed (null: the generic encoder declined them). */
  bytes?: Uint8Array | null;
  /** Where in `bytes` the fields numbered above the EDS config and above the metadata start. */
  splits?: readonly [number, number];
}

/** A value the generic encoder would refuse or write otherwise: the JSON path decides. */
class NotMine extends Error {}

const CLUSTER_NAME = 1;
const EDS_CLUSTER_CONFIG = 3;
const METADATA = 25;
const EDS_SERVICE_NAME = 2;
const MAX_DEPTH = 20;

const writer = new ProtoWriter();
const EMPTY = new Uint8Array(0);

/** EdsClusterConfig.eds_config (its tag included) for ADS_CONFIG_SOURCE, from the generic encoder once. */
let adsEdsConfig: Uint8Array | undefined;

function edsConfigBytes(encode: EncodeSame): Uint8Array {
  if (adsEdsConfig === undefined) {
    const b = encode({ edsClusterConfig: { edsConfig: ADS_CONFIG_SOURCE } });
    if (b === undefined) throw new NotMine();
    // Field 3's tag and length, then its body: eds_config with its tag.
    const at = skipVarint(b, skipVarint(b, 0));
    adsEdsConfig = b.subarray(at);
  }
  return adsEdsConfig;
}

/**
 * The Cluster message of `json`, made from `template` (whose fields it must hold, unchanged);
 * undefined when some value is left to the JSON path (which then gives the same bytes or the error).
 */
export function clusterBytes(json: ClusterJson, template: ClusterTemplate, encode: EncodeSame): Uint8Array | undefined {
  if (!isPlainObject(json)) return undefined;
  const own = json as Record<string, unknown>;
  let extras: Record<string, unknown> | undefined;
  let shared = 0;
  for (const key in own) {
    const value = own[key];
    if (value === undefined) return undefined;
    if (key === "name" || key === "metadata") continue;
    if (key === "edsClusterConfig") {
      if (isAdsEds(value)) continue;
      return undefined;
    }
    if (Object.prototype.hasOwnProperty.call(template.fields, key) && template.fields[key] === value) {
      shared++;
      continue;
    }
    // A cluster's own TLS: fields of no oneof, which no template holds.
    if (key !== "transportSocket" && key !== "transportSocketMatches") return undefined;
    (extras ??= {})[key] = value;
  }
  if (shared !== template.size) return undefined;
  if (template.bytes === undefined) template.bytes = encode(template.fields) ?? null;
  const fixed = template.bytes;
  if (fixed === null) return undefined;
  const more = extras === undefined ? EMPTY : encode(extras);
  if (more === undefined) return undefined;
  const w = writer;
  try {
    const name = own["name"];
    const eds = own["edsClusterConfig"] as { serviceName: string } | undefined;
    // Without fields of its own beyond those written here (the usual), the template's bytes go in
    // three pieces around them; else both runs, each in field-number order, are merged.
    const splits = more.length === 0 ? (template.splits ??= [fieldsBelow(fixed, EDS_CLUSTER_CONFIG), fieldsBelow(fixed, METADATA)]) : undefined;
    const run: Run = { w, fixed, more, splits, a: 0, b: 0 };
    if (name !== undefined) {
      if (typeof name !== "string") throw new NotMine();
      if (name !== "") w.delimited(CLUSTER_NAME).checkedString(name);
    }
    copyBelow(run, EDS_CLUSTER_CONFIG);
    if (eds !== undefined) {
      w.delimited(EDS_CLUSTER_CONFIG).fork().raw(edsConfigBytes(encode));
      if (eds.serviceName !== "") w.delimited(EDS_SERVICE_NAME).checkedString(eds.serviceName);
      w.join();
    }
    copyBelow(run, METADATA);
    const metadata = own["metadata"];
    if (metadata !== undefined) writeMetadata(w, metadata);
    copyBelow(run, Infinity);
    return w.finish();
  } catch (e) {
    w.finish();
    if (e instanceof NotMine || e instanceof NotWellFormed) return undefined;
    throw e;
  }
}

/** The template's bytes and the cluster's other encoded fields, and how far each is copied. */
interface Run {
  readonly w: ProtoWriter;
  readonly fixed: Uint8Array;
  readonly more: Uint8Array;
  readonly splits: readonly [number, number] | undefined;
  a: number;
  b: number;
}

/** Copies the fields numbered below `limit` (a field written here), of both runs in field-number order. */
function copyBelow(r: Run, limit: number): void {
  const { w, fixed, more, splits } = r;
  if (splits !== undefined) {
    const end = limit === EDS_CLUSTER_CONFIG ? splits[0] : limit === METADATA ? splits[1] : fixed.length;
    if (end > r.a) w.raw(fixed.subarray(r.a, end));
    r.a = end;
    return;
  }
  for (;;) {
    const na = r.a < fixed.length ? fieldNumber(fixed, r.a) : Infinity;
    const nb = r.b < more.length ? fieldNumber(more, r.b) : Infinity;
    const n = Math.min(na, nb);
    if (n >= limit) {
      // A field written here as well (which the generic encoder would refuse).
      if (n === limit && n !== Infinity) throw new NotMine();
      return;
    }
    if (na === nb) throw new NotMine();
    if (na < nb) {
      const end = fieldEnd(fixed, r.a);
      w.raw(fixed.subarray(r.a, end));
      r.a = end;
    } else {
      const end = fieldEnd(more, r.b);
      w.raw(more.subarray(r.b, end));
      r.b = end;
    }
  }
}

/** Where the fields of `b` numbered `limit` or more start (its fields in number order). */
function fieldsBelow(b: Uint8Array, limit: number): number {
  let at = 0;
  while (at < b.length && fieldNumber(b, at) < limit) at = fieldEnd(b, at);
  return at;
}

/** `{ serviceName, edsConfig: ADS_CONFIG_SOURCE }` and nothing else, the service name a string. */
function isAdsEds(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  let n = 0;
  for (const key in value) {
    n++;
    if (key === "edsConfig" ? value[key] !== ADS_CONFIG_SOURCE : key !== "serviceName" || typeof value[key] !== "string") return false;
  }
  return n === 2;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Metadata { filter_metadata 1: map<string, Struct> }, each entry { key 1, value 2 }. */
function writeMetadata(w: ProtoWriter, metadata: unknown): void {
  if (!isPlainObject(metadata)) throw new NotMine();
  w.delimited(METADATA).fork();
  for (const key in metadata) {
    if (key !== "filterMetadata") throw new NotMine();
    const fm = metadata[key];
    if (fm === null) continue;
    if (!isPlainObject(fm)) throw new NotMine();
    for (const ns in fm) {
      const struct = fm[ns];
      if (struct === null || struct === undefined) throw new NotMine();
      w.delimited(1).fork().delimited(1).checkedString(ns).delimited(2).fork();
      writeStruct(w, struct, 1);
      w.join().join();
    }
  }
  w.join();
}

/** Struct { fields 1: map<string, Value> }: keys are not checked for well-formed text (as protobuf-es). */
function writeStruct(w: ProtoWriter, json: unknown, depth: number): void {
  if (!isPlainObject(json) || depth > MAX_DEPTH) throw new NotMine();
  for (const key in json) {
    w.delimited(1).fork().delimited(1).string(key).delimited(2).fork();
    writeValue(w, json[key], depth + 1);
    w.join().join();
  }
}

/**
 * A frozen list or object is shared by clusters (a service's `services` entry): its Value's bytes
 * are kept by identity and copied where it appears again at that depth or less.
 */
const keptValues = new WeakMap<object, { readonly bytes: Uint8Array; readonly depth: number }>();
const scratch: ProtoWriter[] = [];
let scratchLevel = 0;

/** Value: null_value 1, number_value 2, string_value 3, bool_value 4, struct_value 5, list_value 6. */
function writeValue(w: ProtoWriter, json: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new NotMine();
  if (typeof json === "object" && json !== null && Object.isFrozen(json)) {
    let k = keptValues.get(json);
    if (k === undefined || depth > k.depth) {
      const inner = (scratch[scratchLevel] ??= new ProtoWriter());
      scratchLevel++;
      try {
        writeValueFields(inner, json, depth);
        k = { bytes: inner.finish(), depth };
      } catch (e) {
        inner.finish();
        throw e;
      } finally {
        scratchLevel--;
      }
      keptValues.set(json, k);
    }
    w.raw(k.bytes);
    return;
  }
  writeValueFields(w, json, depth);
}

function writeValueFields(w: ProtoWriter, json: unknown, depth: number): void {
  switch (typeof json) {
    case "string":
      w.delimited(3).string(json);
      return;
    case "number":
      w.tag(2, 1).double(json);
      return;
    case "boolean":
      w.varint(4).bool(json);
      return;
    case "object":
      if (json === null) {
        w.varint(1).uint32(0);
        return;
      }
      if (Array.isArray(json)) {
        w.delimited(6).fork();
        for (const item of json as unknown[]) {
          w.delimited(1).fork();
          writeValue(w, item, depth + 2);
          w.join();
        }
        w.join();
        return;
      }
      w.delimited(5).fork();
      writeStruct(w, json, depth + 1);
      w.join();
      return;
    default:
      throw new NotMine();
  }
}

function skipVarint(b: Uint8Array, at: number): number {
  while (b[at]! & 0x80) at++;
  return at + 1;
}

function readVarint(b: Uint8Array, at: number): number {
  let v = 0;
  let shift = 0;
  for (;;) {
    const byte = b[at++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return v;
    shift += 7;
  }
}

/** The field number of the top-level field at `at`. */
function fieldNumber(b: Uint8Array, at: number): number {
  return Math.floor(readVarint(b, at) / 8);
}

/** Where the top-level field at `at` (its tag included) ends. */
function fieldEnd(b: Uint8Array, at: number): number {
  const wireType = readVarint(b, at) % 8;
  const p = skipVarint(b, at);
  switch (wireType) {
    case 0:
      return skipVarint(b, p);
    case 1:
      return p + 8;
    case 2:
      return skipVarint(b, p) + readVarint(b, p);
    case 5:
      return p + 4;
    default:
      throw new NotMine();
  }
}
