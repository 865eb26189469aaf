// The Envoy descriptor set (about 5000 small messages, 14000 strings), decoded at every server
// start before the registry is built. protobuf-es' reflective `fromBinary` took 35–60 ms of CPU in
// a cold process for it (issue 12 item 3, start-up); this walk over the same bytes gives the same
// message objects in 15–20 ms. It reads exactly what descriptor.proto's messages hold here:
// strings, int32s, enums, bools, nested messages, and unknown fields (the JSON names of enum
// values) as protobuf-es keeps them. Anything else is declined, and the caller decodes with
// `fromBinary` as before.
import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";

/** How a field is read: one small integer per field, so the loop switches on a number. */
const Read = { String: 1, Strings: 2, Message: 3, Messages: 4, Int32: 5, Int32s: 6, Bool: 7 } as const;
type Read = (typeof Read)[keyof typeof Read];

interface FieldPlan {
  readonly read: Read;
  readonly name: string;
  readonly message: DescMessage | undefined;
  /** The values a closed enum field knows; another value is declined (protobuf-es keeps it as an unknown field). */
  readonly enumValues: ReadonlySet<number> | undefined;
}

interface MessagePlan {
  /** By field number. */
  readonly fields: readonly (FieldPlan | undefined)[];
  readonly make: () => Record<string, unknown>;
}

const plans = new Map<DescMessage, MessagePlan | undefined>();

const INT32 = 5;
const BOOL = 8;
const STRING = 9;

function readOf(f: DescMessage["fields"][number]): Read | undefined {
  switch (f.fieldKind) {
    case "message":
      return Read.Message;
    case "enum":
      return Read.Int32;
    case "scalar":
      return f.scalar === STRING ? Read.String : f.scalar === INT32 ? Read.Int32 : f.scalar === BOOL ? Read.Bool : undefined;
    case "list":
      if (f.listKind === "message") return Read.Messages;
      if (f.listKind === "enum") return Read.Int32s;
      return f.scalar === STRING ? Read.Strings : f.scalar === INT32 ? Read.Int32s : undefined;
    default:
      return undefined;
  }
}

/** A message type's plan, or undefined when it has a field this reader does not read. */
function planOf(desc: DescMessage): MessagePlan | undefined {
  if (plans.has(desc)) return plans.get(desc);
  let plan: MessagePlan | undefined;
  const fields: (FieldPlan | undefined)[] = [];
  let readable = desc.oneofs.length === 0;
  for (const f of desc.fields) {
    const read = readOf(f);
    if (read === undefined) readable = false;
    else
      fields[f.number] = {
        read,
        name: f.localName,
        message: f.message,
        enumValues: f.enum ? new Set(f.enum.values.map((v) => v.number)) : undefined,
      };
  }
  if (readable) {
    // A zero message from protobuf-es itself is the template: same prototype (proto2 defaults),
    // same own properties (type name, empty lists), so fields read later land as `fromBinary`'s do.
    const zero = create(desc) as unknown as Record<string, unknown>;
    const prototype = Object.getPrototypeOf(zero) as object;
    const lists = Object.keys(zero).filter((k) => Array.isArray(zero[k]));
    const typeName = desc.typeName;
    plan = {
      fields,
      make: () => {
        const m = Object.create(prototype) as Record<string, unknown>;
        m["$typeName"] = typeName;
        for (const l of lists) m[l] = [];
        return m;
      },
    };
  }
  plans.set(desc, plan);
  return plan;
}

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** One message of `desc` in b[start, end), or undefined for anything not read here. */
function decode(desc: DescMessage, b: Buffer, start: number, end: number): Record<string, unknown> | undefined {
  const plan = planOf(desc);
  if (!plan) return undefined;
  const m = plan.make();
  let unknown: { no: number; wireType: number; data: Uint8Array }[] | undefined;
  let i = start;
  while (i < end) {
    let tag = b[i++]!;
    if (tag > 0x7f) {
      const next = b[i++]!;
      if (next > 0x7f) return undefined;
      tag = (tag & 0x7f) | (next << 7);
    }
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire !== WIRE_VARINT && wire !== WIRE_LEN) return undefined;
    const valueStart = i;
    // A varint's low 32 bits (int32 and enums are sign-extended to ten bytes; the low bits hold them).
    let v = 0;
    let shift = 0;
    let c: number;
    do {
      c = b[i++]!;
      if (shift < 32) v |= (c & 0x7f) << shift;
      shift += 7;
    } while (c > 0x7f && shift < 70);
    if (c > 0x7f) return undefined;
    if (wire === WIRE_LEN) {
      if (v < 0 || i + v > end) return undefined;
    }
    const f = plan.fields[no];
    if (f === undefined) {
      if (wire === WIRE_LEN) i += v;
      (unknown ??= []).push({ no, wireType: wire, data: b.subarray(valueStart, i) });
      continue;
    }
    switch (f.read) {
      case Read.String:
        if (wire !== WIRE_LEN) return undefined;
        m[f.name] = b.toString("utf8", i, (i += v));
        break;
      case Read.Strings:
        if (wire !== WIRE_LEN) return undefined;
        (m[f.name] as string[]).push(b.toString("utf8", i, (i += v)));
        break;
      case Read.Message:
      case Read.Messages: {
        if (wire !== WIRE_LEN) return undefined;
        const sub = decode(f.message!, b, i, (i += v));
        if (sub === undefined) return undefined;
        if (f.read === Read.Messages) (m[f.name] as unknown[]).push(sub);
        else if (m[f.name] === undefined) m[f.name] = sub;
        else return undefined; // a message field written twice is merged by fromBinary
        break;
      }
      case Read.Int32:
      case Read.Int32s:
        // Packed lists (LEN) are not used by descriptor.proto's writers for these fields.
        if (wire !== WIRE_VARINT) return undefined;
        if (f.enumValues !== undefined && !f.enumValues.has(v)) return undefined;
        if (f.read === Read.Int32) m[f.name] = v;
        else (m[f.name] as number[]).push(v);
        break;
      case Read.Bool:
        if (wire !== WIRE_VARINT) return undefined;
        m[f.name] = v !== 0;
        break;
    }
  }
  if (i !== end) return undefined;
  if (unknown) m["$unknown"] = unknown;
  return m;
}

/** Work counters for tests: how many sets were decoded here, and how many declined. */
export const descriptorSetReads = { decoded: 0, declined: 0 };

/** The set in `bytes` as `fromBinary(FileDescriptorSetSchema, bytes)` gives it, or undefined for a set this reader declines. */
export function decodeDescriptorSet(bytes: Buffer): FileDescriptorSet | undefined {
  const set = decode(FileDescriptorSetSchema, bytes, 0, bytes.length) as (FileDescriptorSet & Message) | undefined;
  if (set) descriptorSetReads.decoded++;
  else descriptorSetReads.declined++;
  return set;
}
