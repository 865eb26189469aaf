// Envoy's canonical proto-JSON → protobuf bytes in one pass, driven by the protobuf-es
// descriptors: the same bytes as `toBinary(schema, fromJson(schema, json, { registry }))`
// without building the intermediate message (which was most of the encode time).
//
// Writers are compiled once per message type. Fields are written in field-number order, as
// protobuf-es's toBinary does; implicit-presence fields only when not the zero value. Anything
// this encoder does not handle exactly, and anything it finds invalid, makes it give up
// (`jsonToBinary` returns undefined): the caller then takes the generic path, which gives the same
// bytes or the same error. It never guesses.
//
// A frozen JSON object is a sub-message the translator shares between resources (constants, an
// endpoint held by a port's and its subsets' assignments): its bytes are kept by identity, per
// message type, and copied where it appears again instead of walking it again.
import {
  fromJson,
  protoInt64,
  ScalarType,
  toBinary,
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescOneof,
  type JsonValue,
  type Registry,
} from "@bufbuild/protobuf";
import { hasCustomJsonRepresentation, isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { base64Decode, WireType } from "@bufbuild/protobuf/wire";
import { ProtoWriter } from "../proto-writer.js";

/** Thrown (and caught in jsonToBinary) for input this encoder leaves to the generic path. */
class GiveUp extends Error {}
const giveUp = (): never => {
  throw new GiveUp();
};

/** Well below protobuf-es's recursion limit (100), which counts some levels twice. */
const MAX_DEPTH = 40;
const DURATION_SECONDS_MAX = 315576000000;
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;
/** protobuf-es's field presence for proto3 fields without `optional`. */
const IMPLICIT = 2;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Whether for-in lists exactly the object's own enumerable keys, in Object.keys' order: it needs
 * no array per object (a cluster's or route's metadata, a route's per-filter configs).
 */
function isPlain(o: object): boolean {
  const proto: unknown = Object.getPrototypeOf(o);
  return proto === Object.prototype || proto === null;
}

function isEmpty(o: object): boolean {
  for (const key in o) if (Object.prototype.hasOwnProperty.call(o, key)) return false;
  return true;
}

/** The check protobuf-es applies to strings (encodeURIComponent fails exactly on lone surrogates). */
const wellFormed = (s: string): boolean => (s as { isWellFormed?: () => boolean }).isWellFormed?.() ?? uriEncodable(s);
function uriEncodable(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

/** Writes a message's body (its fields, no tag or length) from its JSON. */
type KeptBytes = (json: object, depth: number) => Uint8Array;
type BodyWriter = (w: ProtoWriter, json: unknown, depth: number) => void;
/** Converts a JSON scalar to the value ProtoWriter takes, or gives up. */
type ScalarConvert = (json: unknown) => unknown;
type ScalarWrite = (w: ProtoWriter, v: unknown) => void;

interface FieldPlan {
  readonly field: DescField;
  readonly number: number;
  readonly oneof: DescOneof | undefined;
  /** What JSON null means for this field: skip it, set the oneof (nothing written), or give up. */
  readonly onNull: "skip" | "oneof" | "giveUp";
  readonly write: (w: ProtoWriter, json: unknown, depth: number) => void;
}

/** A generated writer's name (stack traces, profiles): the message type's, as an identifier. */
function writerName(desc: DescMessage): string {
  return `write_${desc.typeName.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The tag of a length-delimited field. */
function lengthDelimitedTag(number: number): number {
  return ((number << 3) | WireType.LengthDelimited) >>> 0;
}

/** Distinct `@type` URLs kept with their message types. */
const MAX_ANY_TYPES = 1000;

/** A writer whose output was larger than this is not kept for the next resource. */
const KEEP_WRITER_BYTES = 1 << 20;

export class JsonBinaryEncoder {
  private readonly bodies = new Map<DescMessage, BodyWriter>();
  /** Reused across resources (and Any payloads, by nesting level) so buffers are not grown again. */
  private writer = new ProtoWriter();
  private anyWriters: ProtoWriter[] = [];
  private anyLevel = 0;

  constructor(private readonly registry: Registry) {}

  /** The bytes of `json` as a `schema` message, or undefined to leave it to fromJson + toBinary. */
  encode(schema: DescMessage, json: unknown): Uint8Array | undefined {
    try {
      this.body(schema)(this.writer, json, 0);
      const bytes = this.writer.finish();
      if (bytes.length > KEEP_WRITER_BYTES) this.writer = new ProtoWriter();
      return bytes;
    } catch {
      // The writers may be mid-message.
      this.writer = new ProtoWriter();
      this.anyWriters = [];
      this.anyLevel = 0;
      return undefined;
    }
  }

  /** A message type's body writer, compiled when first called (so recursive types find themselves). */
  private body(desc: DescMessage): BodyWriter {
    let b = this.bodies.get(desc);
    if (b === undefined) {
      let compiled: BodyWriter | undefined;
      b = (w, json, depth) => (compiled ??= this.compiledBody(desc))(w, json, depth);
      this.bodies.set(desc, b);
    }
    return b;
  }

  private readonly compiled = new Map<DescMessage, BodyWriter>();

  /** The compiled body writer itself (generated writers call it directly, once resolved). */
  private compiledBody(desc: DescMessage): BodyWriter {
    let c = this.compiled.get(desc);
    if (c === undefined) {
      c = this.compileBody(desc);
      this.compiled.set(desc, c);
    }
    return c;
  }

  private compileBody(desc: DescMessage): BodyWriter {
    switch (desc.typeName) {
      case "google.protobuf.Any":
        return (w, json, depth) => this.writeAny(w, json, depth);
      case "google.protobuf.Duration":
        return writeDuration;
      case "google.protobuf.Struct":
        return writeStruct;
      case "google.protobuf.Value":
        return writeValue;
      case "google.protobuf.ListValue":
        return writeListValue;
      case "google.protobuf.Timestamp":
      case "google.protobuf.FieldMask":
        // Rare in our output: the generic path for just this value is exact by construction.
        return (w, json) => {
          w.raw(toBinary(desc, fromJson(desc, json as JsonValue)));
        };
    }
    if (isWrapperDesc(desc)) {
      const valueField = desc.fields[0]!;
      const convert = scalarConverter(valueField.scalar!);
      const write = scalarWriter(valueField.scalar!);
      const zero = isZero(valueField.scalar!);
      const wt = wireTypeOf(valueField.scalar!);
      return (w, json) => {
        if (json === null) giveUp();
        const v = convert(json);
        if (!zero(v)) write(w.tag(1, wt), v);
      };
    }
    if (hasCustomJsonRepresentation(desc)) return giveUp;
    return this.compileFields(desc);
  }

  /**
   * An ordinary message: JSON object keys by proto name or JSON name, written in field-number
   * order. Its writer is generated for the message type (one function per type): each field's
   * value in a variable of its own and each field written from a call site of its own, so that
   * V8 sees one callee per call and inlines it, where one generic loop over all types' fields
   * dispatched every write through a single megamorphic call.
   */
  private compileFields(desc: DescMessage, skipKey?: string): BodyWriter {
    const plans = desc.fields.map((field) => this.fieldPlan(field)).sort((x, y) => x.number - y.number);
    const byKey = new Map<string, number>();
    plans.forEach((plan, i) => byKey.set(plan.field.name, i).set(plan.field.jsonName, i));
    const v = (i: number): string => `v${i}`;
    const lines: string[] = [];
    lines.push(`if (typeof json !== "object" || json === null || Array.isArray(json) || depth > MAX_DEPTH) giveUp();`);
    // for-in, not Object.keys: no array per object. for-in would also list inherited keys, which
    // fromJson ignores: an object that is not plain goes to the generic path.
    lines.push(`if (Object.getPrototypeOf(json) !== OBJECT_PROTO) giveUp();`);
    if (plans.length) lines.push(`let ${plans.map((_, i) => v(i)).join(", ")};`);
    lines.push(`for (const key in json) {`);
    if (skipKey !== undefined) lines.push(`  if (key === SKIP_KEY) continue;`);
    lines.push(`  const value = json[key];`);
    lines.push(`  if (value === undefined) giveUp();`);
    lines.push(`  switch (byKey.get(key)) {`);
    // A field named twice (by proto and JSON name) is refused, also when one of them is null.
    plans.forEach((_, i) => lines.push(`    case ${i}: if (${v(i)} !== undefined) giveUp(); ${v(i)} = value; break;`));
    lines.push(`    default: giveUp();`);
    lines.push(`  }`);
    lines.push(`}`);
    plans.forEach((plan, i) => {
      if (plan.onNull === "giveUp") lines.push(`if (${v(i)} === null) giveUp();`);
    });
    // A oneof set twice is refused; null sets a oneof message or enum, not a oneof scalar ("skip").
    const oneofs = new Map<DescOneof, string[]>();
    plans.forEach((plan, i) => {
      if (plan.oneof === undefined) return;
      const set = plan.onNull === "skip" ? `(${v(i)} !== undefined && ${v(i)} !== null)` : `${v(i)} !== undefined`;
      oneofs.set(plan.oneof, [...(oneofs.get(plan.oneof) ?? []), set]);
    });
    for (const members of oneofs.values()) if (members.length > 1) lines.push(`if ((${members.map((m) => `(${m} ? 1 : 0)`).join(" + ")}) > 1) giveUp();`);
    // Per field: its generic writer, and for message fields the sub-message's body (resolved at
    // the first write) and kept bytes, written inline so that each call site has one callee.
    const args: Record<string, unknown> = { giveUp, MAX_DEPTH, OBJECT_PROTO: Object.prototype, SKIP_KEY: skipKey, byKey };
    const sub = (i: number, item: string): string =>
      `w.uint32(${lengthDelimitedTag(plans[i]!.number)}); ` +
      `if (typeof ${item} === "object" && Object.isFrozen(${item})) w.bytes(kept${i}(${item}, depth + 1)); ` +
      `else { w.fork(); (body${i} ??= resolve${i}())(w, ${item}, depth + 1); w.join(); }`;
    plans.forEach((plan, i) => {
      const f = plan.field;
      const message = (f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message")) && !f.delimitedEncoding ? f.message : undefined;
      if (message === undefined) {
        args[`write${i}`] = plan.write;
        lines.push(`if (${v(i)} !== undefined && ${v(i)} !== null) write${i}(w, ${v(i)}, depth);`);
        return;
      }
      args[`body${i}`] = undefined;
      args[`resolve${i}`] = () => this.compiledBody(message);
      args[`kept${i}`] = this.keptBytes(message);
      if (f.fieldKind === "message") {
        lines.push(`if (${v(i)} !== undefined && ${v(i)} !== null) { ${sub(i, v(i))} }`);
      } else {
        lines.push(`if (${v(i)} !== undefined && ${v(i)} !== null) {`);
        lines.push(`  if (!Array.isArray(${v(i)})) giveUp();`);
        lines.push(`  for (const item of ${v(i)}) { if (item === null) giveUp(); ${sub(i, "item")} }`);
        lines.push(`}`);
      }
    });
    const names = Object.keys(args);
    const factory = new Function(...names, `"use strict";\nreturn function ${writerName(desc)}(w, json, depth) {\n${lines.join("\n")}\n};`) as (
      ...a: unknown[]
    ) => BodyWriter;
    return factory(...names.map((n) => args[n]));
  }

  private fieldPlan(field: DescField): FieldPlan {
    const number = field.number;
    const oneof = field.oneof;
    const base = { field, number, oneof };
    switch (field.fieldKind) {
      case "scalar": {
        const convert = scalarConverter(field.scalar);
        const write = scalarWriter(field.scalar);
        const zero = oneof || field.presence !== IMPLICIT ? never : isZero(field.scalar);
        const wt = wireTypeOf(field.scalar);
        return {
          ...base,
          onNull: "skip",
          write: (w, json) => {
            const v = convert(json);
            if (!zero(v)) write(w.tag(number, wt), v);
          },
        };
      }
      case "enum": {
        const convert = enumConverter(field.enum);
        const zeroNumber = field.enum.values[0]!.number;
        const always = oneof !== undefined || field.presence !== IMPLICIT;
        return {
          ...base,
          onNull: field.enum.typeName === "google.protobuf.NullValue" ? "giveUp" : oneof ? "oneof" : "skip",
          write: (w, json) => {
            const v = convert(json);
            if (always || v !== zeroNumber) w.tag(number, WireType.Varint).int32(v);
          },
        };
      }
      case "message": {
        if (field.delimitedEncoding) return { ...base, onNull: "giveUp", write: giveUp };
        const sub = this.subMessage(field.message);
        return {
          ...base,
          onNull: field.message.typeName === "google.protobuf.Value" ? "giveUp" : oneof ? "oneof" : "skip",
          write: (w, json, depth) => sub(w.tag(number, WireType.LengthDelimited), json, depth + 1),
        };
      }
      case "list":
        return { ...base, onNull: "skip", write: this.listWriter(field) };
      case "map":
        return { ...base, onNull: "skip", write: this.mapWriter(field) };
    }
  }

  private listWriter(field: DescField & { fieldKind: "list" }): FieldPlan["write"] {
    const number = field.number;
    if (field.listKind === "message") {
      if (field.delimitedEncoding) return giveUp;
      const sub = this.subMessage(field.message);
      return (w, json, depth) => {
        if (!Array.isArray(json)) giveUp();
        for (const item of json as unknown[]) {
          if (item === null) giveUp();
          sub(w.tag(number, WireType.LengthDelimited), item, depth + 1);
        }
      };
    }
    const convert = field.listKind === "enum" ? enumConverter(field.enum) : scalarConverter(field.scalar);
    const write = field.listKind === "enum" ? scalarWriter(ScalarType.INT32) : scalarWriter(field.scalar);
    if (field.packed) {
      return (w, json) => {
        if (!Array.isArray(json)) giveUp();
        const items = json as unknown[];
        if (items.length === 0) return;
        const values = items.map((item) => (item === null ? giveUp() : convert(item)));
        w.tag(number, WireType.LengthDelimited).fork();
        for (const v of values) write(w, v);
        w.join();
      };
    }
    const wt = field.listKind === "enum" ? WireType.Varint : wireTypeOf(field.scalar);
    return (w, json) => {
      if (!Array.isArray(json)) giveUp();
      for (const item of json as unknown[]) {
        if (item === null) giveUp();
        write(w.tag(number, wt), convert(item));
      }
    };
  }

  private mapWriter(field: DescField & { fieldKind: "map" }): FieldPlan["write"] {
    // Keys of other types are converted and canonicalised by protobuf-es; none in our output.
    if (field.mapKey !== ScalarType.STRING) return giveUp;
    const number = field.number;
    let writeValue: (w: ProtoWriter, json: unknown, depth: number) => void;
    if (field.mapKind === "message") {
      const sub = this.subMessage(field.message);
      writeValue = (w, json, depth) => sub(w.tag(2, WireType.LengthDelimited), json, depth + 1);
    } else {
      const convert = field.mapKind === "enum" ? enumConverter(field.enum) : scalarConverter(field.scalar);
      const write = field.mapKind === "enum" ? scalarWriter(ScalarType.INT32) : scalarWriter(field.scalar);
      const wt = field.mapKind === "enum" ? WireType.Varint : wireTypeOf(field.scalar);
      writeValue = (w, json) => write(w.tag(2, wt), convert(json));
    }
    const entry = (w: ProtoWriter, obj: Record<string, unknown>, key: string, depth: number): void => {
      const value = obj[key];
      if (value === null || value === undefined || !wellFormed(key)) giveUp();
      w.tag(number, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(key);
      writeValue(w, value, depth);
      w.join();
    };
    return (w, json, depth) => {
      if (!isObject(json)) giveUp();
      const obj = json as Record<string, unknown>;
      if (isPlain(obj)) for (const key in obj) entry(w, obj, key, depth);
      else for (const key of Object.keys(obj)) entry(w, obj, key, depth);
    };
  }

  private readonly keptWriters = new Map<DescMessage, KeptBytes>();

  /**
   * A frozen object's body as `desc`, encoded once into bytes of its own and kept by identity:
   * what was encoded at a depth serves where it appears again at that depth or less (deeper,
   * MAX_DEPTH could make the walk give up).
   */
  private keptBytes(desc: DescMessage): KeptBytes {
    let f = this.keptWriters.get(desc);
    if (f === undefined) {
      const body = this.body(desc);
      const kept = new WeakMap<object, { readonly bytes: Uint8Array; readonly depth: number }>();
      f = (json, depth) => {
        let k = kept.get(json);
        if (k === undefined || depth > k.depth) {
          const inner = (this.anyWriters[this.anyLevel++] ??= new ProtoWriter());
          body(inner, json, depth);
          const bytes = inner.finish();
          this.anyLevel--;
          if (bytes.length > KEEP_WRITER_BYTES) this.anyWriters[this.anyLevel] = new ProtoWriter();
          k = { bytes, depth };
          kept.set(json, k);
        }
        return k.bytes;
      };
      this.keptWriters.set(desc, f);
    }
    return f;
  }

  /** A length-delimited sub-message (its tag already written); a frozen one from its kept bytes. */
  private subMessage(desc: DescMessage): (w: ProtoWriter, json: unknown, depth: number) => void {
    const body = this.body(desc);
    const kept = this.keptBytes(desc);
    return (w, json, depth) => {
      if (typeof json === "object" && json !== null && Object.isFrozen(json)) {
        w.bytes(kept(json, depth));
        return;
      }
      w.fork();
      body(w, json, depth);
      w.join();
    };
  }

  /** Per `@type`, its message type and the type URL written for it (bounded: the URLs come with the JSON). */
  private readonly anyTypes = new Map<string, { readonly desc: DescMessage; readonly url: string }>();

  private anyType(typeUrl: unknown): { readonly desc: DescMessage; readonly url: string } {
    if (typeof typeUrl !== "string" || typeUrl === "") giveUp();
    const url = typeUrl as string;
    let t = this.anyTypes.get(url);
    if (t === undefined) {
      const typeName = url.substring(url.lastIndexOf("/") + 1);
      const desc = (typeName !== "" ? this.registry.getMessage(typeName) : undefined) ?? giveUp();
      if (this.anyTypes.size >= MAX_ANY_TYPES) this.anyTypes.clear();
      this.anyTypes.set(url, (t = { desc, url: `type.googleapis.com/${desc.typeName}` }));
    }
    return t;
  }

  /** Any: `@type` and the payload's fields, or `value` for a payload with its own JSON form. */
  private writeAny(w: ProtoWriter, json: unknown, depth: number): void {
    if (!isObject(json) || depth > MAX_DEPTH) giveUp();
    const obj = json as Record<string, unknown>;
    if (isEmpty(obj)) return;
    const { desc, url } = this.anyType(obj["@type"]);
    w.tag(1, WireType.LengthDelimited).string(url);
    // An empty payload is left out, not written with length 0.
    const from = w.length;
    w.tag(2, WireType.LengthDelimited).fork();
    if (hasCustomJsonRepresentation(desc)) {
      if (!Object.prototype.hasOwnProperty.call(obj, "value")) giveUp();
      this.body(desc)(w, obj["value"], depth + 1);
    } else {
      this.anyFields(desc)(w, obj, depth + 1);
    }
    w.joinUnlessEmpty(from);
  }

  private readonly anyBodies = new Map<DescMessage, BodyWriter>();

  private anyFields(desc: DescMessage): BodyWriter {
    let b = this.anyBodies.get(desc);
    if (b === undefined) {
      b = this.compileFields(desc, "@type");
      this.anyBodies.set(desc, b);
    }
    return b;
  }
}

const never = (): boolean => false;

/** The implicit-presence zero test toBinary uses for each scalar type. */
function isZero(type: ScalarType): (v: unknown) => boolean {
  switch (type) {
    case ScalarType.BOOL:
      return (v) => v === false;
    case ScalarType.STRING:
      return (v) => v === "";
    case ScalarType.BYTES:
      return (v) => (v as Uint8Array).byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (v) => Object.is(v, 0);
    default:
      // 0, -0 and 0n.
      return (v) => v == 0;
  }
}

function wireTypeOf(type: ScalarType): WireType {
  switch (type) {
    case ScalarType.BYTES:
    case ScalarType.STRING:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

function scalarWriter(type: ScalarType): ScalarWrite {
  switch (type) {
    case ScalarType.STRING:
      return (w, v) => w.string(v as string);
    case ScalarType.BOOL:
      return (w, v) => w.bool(v as boolean);
    case ScalarType.DOUBLE:
      return (w, v) => w.double(v as number);
    case ScalarType.FLOAT:
      return (w, v) => w.float(v as number);
    case ScalarType.INT32:
      return (w, v) => w.int32(v as number);
    case ScalarType.UINT32:
      return (w, v) => w.uint32(v as number);
    case ScalarType.SINT32:
      return (w, v) => w.sint32(v as number);
    case ScalarType.FIXED32:
      return (w, v) => w.fixed32(v as number);
    case ScalarType.SFIXED32:
      return (w, v) => w.sfixed32(v as number);
    case ScalarType.INT64:
      return (w, v) => w.int64(v as bigint);
    case ScalarType.UINT64:
      return (w, v) => w.uint64(v as bigint);
    case ScalarType.SINT64:
      return (w, v) => w.sint64(v as bigint);
    case ScalarType.FIXED64:
      return (w, v) => w.fixed64(v as bigint);
    case ScalarType.SFIXED64:
      return (w, v) => w.sfixed64(v as bigint);
    case ScalarType.BYTES:
      return (w, v) => w.bytes(v as Uint8Array);
  }
}

/**
 * JSON → the value toBinary would see after fromJson, for the forms canonical proto-JSON uses.
 * Numbers given as strings for 32-bit and floating-point fields are left to the generic path.
 */
function scalarConverter(type: ScalarType): ScalarConvert {
  switch (type) {
    case ScalarType.STRING:
      return (j) => (typeof j === "string" && wellFormed(j) ? j : giveUp());
    case ScalarType.BOOL:
      return (j) => (typeof j === "boolean" ? j : giveUp());
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return (j) => (typeof j === "number" && Number.isInteger(j) && j <= INT32_MAX && j >= INT32_MIN ? j : giveUp());
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return (j) => (typeof j === "number" && Number.isInteger(j) && j <= UINT32_MAX && j >= 0 ? j : giveUp());
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return (j) => ((typeof j === "string" && j.length > 0) || typeof j === "number" ? protoInt64.parse(j) : giveUp());
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return (j) => ((typeof j === "string" && j.length > 0) || typeof j === "number" ? protoInt64.uParse(j) : giveUp());
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      const float = type === ScalarType.FLOAT;
      return (j) => {
        if (j === "NaN") return NaN;
        if (j === "Infinity") return Number.POSITIVE_INFINITY;
        if (j === "-Infinity") return Number.NEGATIVE_INFINITY;
        if (typeof j !== "number" || !Number.isFinite(j)) return giveUp();
        if (float && !Number.isFinite(Math.fround(j))) return giveUp();
        return j;
      };
    }
    case ScalarType.BYTES:
      return (j) => (typeof j !== "string" ? giveUp() : j === "" ? new Uint8Array(0) : base64Decode(j));
  }
}

function enumConverter(desc: DescEnum): (json: unknown) => number {
  const numbers = new Map<string, number>();
  for (const v of desc.values) numbers.set(v.jsonName, v.number);
  for (const v of desc.values) numbers.set(v.name, v.number);
  const declared = new Set(desc.values.map((v) => v.number));
  return (j) => {
    const n = typeof j === "string" ? numbers.get(j) : typeof j === "number" && Number.isInteger(j) ? j : undefined;
    if (n === undefined) return giveUp();
    if (desc.open ? n > INT32_MAX || n < INT32_MIN : !declared.has(n)) return giveUp();
    return n;
  };
}

/** Duration texts and their bodies' bytes: a few values ("0s", "10s") recur in every cluster and route. */
const durations = new Map<string, Uint8Array>();
/** Bounded: the texts come with the JSON. */
const MAX_DURATIONS = 1000;
const durationWriter = new ProtoWriter();

function writeDuration(w: ProtoWriter, json: unknown): void {
  if (typeof json !== "string") giveUp();
  let body = durations.get(json as string);
  if (body === undefined) {
    writeDurationBody(durationWriter, json as string);
    body = durationWriter.finish();
    if (durations.size >= MAX_DURATIONS) durations.clear();
    durations.set(json as string, body);
  }
  w.raw(body);
}

/** Duration: "1.5s", as protobuf-es reads it (the pattern is not anchored at the end there either). */
function writeDurationBody(w: ProtoWriter, json: string): void {
  const match = json.match(/^(-?[0-9]+)(?:\.([0-9]+))?s/) ?? giveUp();
  const longSeconds = Number(match[1]);
  if (longSeconds > DURATION_SECONDS_MAX || longSeconds < -DURATION_SECONDS_MAX) giveUp();
  const seconds = protoInt64.parse(longSeconds);
  let nanos = 0;
  const frac = match[2];
  if (frac !== undefined) {
    if (frac.length > 9) giveUp();
    nanos = parseInt(frac + "0".repeat(9 - frac.length));
    if (longSeconds < 0 || Object.is(longSeconds, -0)) nanos = -nanos;
  }
  if (seconds !== 0n) w.tag(1, WireType.Varint).int64(seconds);
  if (nanos != 0) w.tag(2, WireType.Varint).int32(nanos);
}

/** Struct: a map<string, Value> (field 1); its keys are not checked by protobuf-es. */
function writeStruct(w: ProtoWriter, json: unknown, depth: number): void {
  if (!isObject(json) || depth > MAX_DEPTH) giveUp();
  const obj = json as Record<string, unknown>;
  if (isPlain(obj)) for (const key in obj) writeStructField(w, obj, key, depth);
  else for (const key of Object.keys(obj)) writeStructField(w, obj, key, depth);
}

function writeStructField(w: ProtoWriter, obj: Record<string, unknown>, key: string, depth: number): void {
  w.tag(1, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string(key);
  w.tag(2, WireType.LengthDelimited).fork();
  writeValue(w, obj[key], depth + 1);
  w.join();
  w.join();
}

function writeListValue(w: ProtoWriter, json: unknown, depth: number): void {
  if (!Array.isArray(json) || depth > MAX_DEPTH) giveUp();
  for (const item of json as unknown[]) {
    w.tag(1, WireType.LengthDelimited).fork();
    writeValue(w, item, depth + 1);
    w.join();
  }
}

/** Value: its oneof `kind` from the JSON type (null_value 1, number 2, string 3, bool 4, struct 5, list 6). */
function writeValue(w: ProtoWriter, json: unknown, depth: number): void {
  if (depth > MAX_DEPTH) giveUp();
  switch (typeof json) {
    case "number":
      w.tag(2, WireType.Bit64).double(json);
      return;
    case "string":
      w.tag(3, WireType.LengthDelimited).string(json);
      return;
    case "boolean":
      w.tag(4, WireType.Varint).bool(json);
      return;
    case "object":
      if (json === null) {
        w.tag(1, WireType.Varint).int32(0);
      } else {
        w.tag(Array.isArray(json) ? 6 : 5, WireType.LengthDelimited).fork();
        (Array.isArray(json) ? writeListValue : writeStruct)(w, json, depth + 1);
        w.join();
      }
      return;
    default:
      giveUp();
  }
}
