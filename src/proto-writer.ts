// A protobuf writer: the bytes of protobuf-es's BinaryWriter for the same calls (the methods the
// encoders use, of the same names), in one growing buffer. Strings of any length are copied as
// ASCII when they are: BinaryWriter encodes those over 32 characters with TextEncoder into a
// fresh subarray each, and cluster names, hosts and metadata in xDS are mostly longer.
// The JSON encoder (xds/json-binary.ts) and the translator's own writers
// (translate/assignment-bytes.ts) share it, so it sits below both layers.

const VARINT = 0;
const BIT64 = 1;
const LENGTH_DELIMITED = 2;
const BIT32 = 5;
const encoder = new TextEncoder();

/** Text with a lone surrogate: the generic encoder's to refuse. */
export class NotWellFormed extends Error {}

/** A value BinaryWriter would throw on (out of its type's range). */
export class OutOfRange extends Error {}

export class ProtoWriter {
  private buf = new Uint8Array(1 << 12);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  /** Open forks' positions (the first `depth` entries): kept across finish(), not emptied and grown again per message. */
  private readonly forks: number[] = [];
  private depth = 0;

  /** Bytes written so far (since the last finish). */
  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** An unsigned 32-bit varint (the caller checks the range). */
  uint32(v: number): this {
    this.ensure(5);
    const b = this.buf;
    while (v > 0x7f) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
    return this;
  }

  /** A field's tag. */
  tag(field: number, wireType: number): this {
    return this.uint32(((field << 3) | wireType) >>> 0);
  }

  /** The tag of a length-delimited field. */
  delimited(field: number): this {
    return this.uint32((field << 3) | LENGTH_DELIMITED);
  }

  /** The tag of a varint field. */
  varint(field: number): this {
    return this.uint32((field << 3) | VARINT);
  }

  /** A signed 32-bit varint: a negative one sign-extended to 64 bits (10 bytes). */
  int32(v: number): this {
    if (v >= 0) return this.uint32(v);
    this.ensure(10);
    const b = this.buf;
    for (let i = 0; i < 9; i++) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>= 7;
    }
    b[this.pos++] = 1;
    return this;
  }

  sint32(v: number): this {
    return this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  fixed32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  sfixed32(v: number): this {
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  float(v: number): this {
    // BinaryWriter refuses a finite value that float32 rounds to infinity.
    if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) throw new OutOfRange();
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  double(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  /** A 64-bit varint of a value already in range (two's complement for a negative one). */
  int64(v: bigint): this {
    if (v >= 0n && v <= 0xffffffffn) return this.uint32(Number(v));
    const u = BigInt.asUintN(64, v);
    return this.varint64(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  uint64(v: bigint): this {
    return this.int64(v);
  }

  sint64(v: bigint): this {
    return this.int64(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)));
  }

  fixed64(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    this.ensure(8);
    this.view.setUint32(this.pos, Number(u & 0xffffffffn), true);
    this.view.setUint32(this.pos + 4, Number(u >> 32n), true);
    this.pos += 8;
    return this;
  }

  sfixed64(v: bigint): this {
    return this.fixed64(v);
  }

  /** The varint of the unsigned 64-bit value hi·2^32 + lo. */
  private varint64(lo: number, hi: number): this {
    this.ensure(10);
    const b = this.buf;
    while (hi !== 0 || lo > 0x7f) {
      b[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[this.pos++] = lo;
    return this;
  }

  /** A string's UTF-8 bytes with their length; a lone surrogate becomes U+FFFD, as with BinaryWriter. */
  string(s: string): this {
    const p = this.asciiString(s);
    return p ? this : this.bytes(encoder.encode(s));
  }

  /** As string(), but throws NotWellFormed for text with a lone surrogate, which protobuf-es refuses in a string field. */
  checkedString(s: string): this {
    return this.asciiString(s) ? this : this.utf8(s);
  }

  /** Writes an ASCII `s` with its length and says so; writes nothing for other text. */
  private asciiString(s: string): boolean {
    this.ensure(s.length + 5);
    const start = this.pos;
    this.uint32(s.length);
    const p = this.ascii(s, this.pos);
    if (p < 0) {
      this.pos = start;
      return false;
    }
    this.pos = p;
    return true;
  }

  /**
   * The UTF-8 bytes of `parts` joined, with their length: an ASCII text (the usual) is copied
   * character by character, without joining it first. Throws NotWellFormed for text with a lone
   * surrogate, which protobuf-es refuses to encode.
   */
  strings(parts: readonly string[]): this {
    let n = 0;
    for (let i = 0; i < parts.length; i++) n += parts[i]!.length;
    this.ensure(n + 5);
    const start = this.pos;
    this.uint32(n);
    let p = this.pos;
    for (let i = 0; i < parts.length && p >= 0; i++) p = this.ascii(parts[i]!, p);
    if (p < 0) {
      this.pos = start;
      return this.utf8(parts.join(""));
    }
    this.pos = p;
    return this;
  }

  /** Copies an ASCII `s` at `p` (room ensured), giving the position after it; -1 if `s` is not ASCII. */
  private ascii(s: string, p: number): number {
    const b = this.buf;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return -1;
      b[p++] = c;
    }
    return p;
  }

  private utf8(s: string): this {
    if (!(s as { isWellFormed?: () => boolean }).isWellFormed!()) throw new NotWellFormed();
    return this.bytes(encoder.encode(s));
  }

  bytes(v: Uint8Array): this {
    this.uint32(v.length);
    return this.raw(v);
  }

  /** Bytes as they are, without a length. */
  raw(v: Uint8Array): this {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  /** Starts a length-delimited body; one byte is kept for its length, which join() widens if needed. */
  fork(): this {
    this.ensure(1);
    this.forks[this.depth++] = this.pos++;
    return this;
  }

  join(): this {
    const at = this.forks[--this.depth]!;
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return this;
    }
    let size = 1;
    while (len >>> (7 * size) !== 0) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    const end = this.pos + size - 1;
    this.pos = at;
    this.uint32(len);
    this.pos = end;
    return this;
  }

  /** As join(), except that an empty body is taken back with what was written from `from` (its tag). */
  joinUnlessEmpty(from: number): this {
    if (this.pos === this.forks[this.depth - 1]! + 1) {
      this.depth--;
      this.pos = from;
      return this;
    }
    return this.join();
  }

  /** What was written, in a copy of its own; the writer starts over (open forks dropped). */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    this.depth = 0;
    return out;
  }
}

export const WIRE = { VARINT, BIT64, LENGTH_DELIMITED, BIT32 } as const;
