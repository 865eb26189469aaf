// A protobuf writer for the few messages the translator writes itself (assignment-bytes.ts): the
// bytes of protobuf-es's BinaryWriter for the same calls, with strings of any length copied as
// ASCII when they are (BinaryWriter goes through TextEncoder past 32 characters, and an
// endpoint's workload metadata is longer).

const LENGTH_DELIMITED = 2;
const VARINT = 0;
const encoder = new TextEncoder();

/** Text with a lone surrogate: the generic encoder's to refuse. */
export class NotWellFormed extends Error {}

export class ProtoWriter {
  private buf = new Uint8Array(1 << 12);
  private pos = 0;
  private readonly forks: number[] = [];

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
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

  /** The tag of a length-delimited field. */
  delimited(field: number): this {
    return this.uint32((field << 3) | LENGTH_DELIMITED);
  }

  /** The tag of a varint field. */
  varint(field: number): this {
    return this.uint32((field << 3) | VARINT);
  }

  /** A string's UTF-8 bytes with their length. */
  string(s: string): this {
    this.ensure(s.length + 5);
    const start = this.pos;
    this.uint32(s.length);
    const p = this.ascii(s, this.pos);
    if (p < 0) {
      this.pos = start;
      return this.utf8(s);
    }
    this.pos = p;
    return this;
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
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  /** Starts a length-delimited body; one byte is kept for its length, which join() widens if needed. */
  fork(): this {
    this.ensure(1);
    this.forks.push(this.pos++);
    return this;
  }

  join(): this {
    const at = this.forks.pop()!;
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

  /** What was written, in a copy of its own; the writer starts over (open forks dropped). */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    this.forks.length = 0;
    return out;
  }
}
