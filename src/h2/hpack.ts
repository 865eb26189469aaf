// HPACK (RFC 7541) for the load clients' HTTP/2: requests are encoded as literals never indexed
// (a few headers per stream, nothing worth a dynamic table), responses are decoded in full, as a
// server may use its dynamic table and Huffman-code any string.

/** RFC 7541 Appendix A: the static table (index 1 is the first entry). */
const STATIC: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/**
 * RFC 7541 Appendix B: the code length of each symbol (0–255, then EOS), as a letter ('A' = 5
 * bits). The code is canonical: codes are consecutive in order of (length, symbol), so the
 * lengths define it.
 */
const HUFFMAN_LENGTHS =
  "ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIXPRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRSVVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWVZ";
const EOS = 256;
const MAX_CODE_BITS = 30;

/** Canonical decoding tables: per length, the first code, and where its symbols start in `sorted`. */
const huffman = (() => {
  const lengths = [...HUFFMAN_LENGTHS].map((c) => c.charCodeAt(0) - 65 + 5);
  const sorted = lengths.map((_, s) => s).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const count = new Array<number>(MAX_CODE_BITS + 1).fill(0);
  for (const l of lengths) count[l]!++;
  const first = new Array<number>(MAX_CODE_BITS + 1).fill(0);
  const offset = new Array<number>(MAX_CODE_BITS + 1).fill(0);
  let code = 0;
  let at = 0;
  for (let l = 1; l <= MAX_CODE_BITS; l++) {
    first[l] = code;
    offset[l] = at;
    code = (code + count[l]!) * 2;
    at += count[l]!;
  }
  return { sorted, count, first, offset };
})();

export class HpackError extends Error {}

/** A Huffman-coded string (RFC 7541 §5.2). */
export function huffmanDecode(b: Buffer, start: number, end: number): string {
  const { sorted, count, first, offset } = huffman;
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    const byte = b[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const k = code - first[len]!;
      if (k < count[len]!) {
        const sym = sorted[offset[len]! + k]!;
        if (sym === EOS) throw new HpackError("Huffman string holds EOS");
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len >= MAX_CODE_BITS) throw new HpackError("bad Huffman code");
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (len > 7 || code !== 2 ** len - 1) throw new HpackError("bad Huffman padding");
  return Buffer.from(out).toString("latin1");
}

/** The bytes of one request header block: every field a literal never indexed, names lower case. */
export function encodeHeaders(headers: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name.toLowerCase(), "latin1");
    const v = Buffer.from(value, "latin1");
    parts.push(Buffer.from([0x10]), integer(n.length, 7, 0), n, integer(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

/** An integer with an N-bit prefix (RFC 7541 §5.1); `flags` fills the bits above it. */
function integer(value: number, prefixBits: number, flags: number): Buffer {
  const max = 2 ** prefixBits - 1;
  if (value < max) return Buffer.from([flags | value]);
  const bytes = [flags | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** The header size of an entry (RFC 7541 §4.1). */
const entrySize = (name: string, value: string): number => Buffer.byteLength(name) + Buffer.byteLength(value) + 32;

/** Decodes a connection's header blocks, in order (the dynamic table lives across them). */
export class HpackDecoder {
  /** Newest first. */
  private readonly dynamic: [string, string][] = [];
  private size = 0;

  constructor(
    /** SETTINGS_HEADER_TABLE_SIZE we announced: the most the encoder may resize the table to. */
    private readonly maxSize = 4096,
    private tableSize = maxSize,
  ) {}

  /** The fields of one complete header block. */
  decode(b: Buffer): [string, string][] {
    const fields: [string, string][] = [];
    let pos = 0;
    const int = (prefixBits: number): number => {
      if (pos >= b.length) throw new HpackError("header block ends inside an integer");
      const max = 2 ** prefixBits - 1;
      let v = b[pos++]! & max;
      if (v < max) return v;
      let shift = 1;
      for (let i = 0; ; i++) {
        if (pos >= b.length || i > 4) throw new HpackError("bad integer");
        const byte = b[pos++]!;
        v += (byte & 127) * shift;
        shift *= 128;
        if ((byte & 128) === 0) return v;
      }
    };
    const str = (): string => {
      if (pos >= b.length) throw new HpackError("header block ends before a string");
      const huff = (b[pos]! & 0x80) !== 0;
      const len = int(7);
      if (pos + len > b.length) throw new HpackError("string runs past the header block");
      const s = huff ? huffmanDecode(b, pos, pos + len) : b.toString("latin1", pos, pos + len);
      pos += len;
      return s;
    };
    const entry = (index: number): readonly [string, string] => {
      const e = index <= STATIC.length ? STATIC[index - 1] : this.dynamic[index - STATIC.length - 1];
      if (index === 0 || !e) throw new HpackError(`no header table entry ${index}`);
      return e;
    };
    while (pos < b.length) {
      const first = b[pos]!;
      if (first & 0x80) {
        const [n, v] = entry(int(7));
        fields.push([n, v]);
      } else if (first & 0x40) {
        const index = int(6);
        const name = index ? entry(index)[0] : str();
        const value = str();
        fields.push([name, value]);
        this.add(name, value);
      } else if (first & 0x20) {
        const size = int(5);
        if (size > this.maxSize) throw new HpackError(`table size ${size} above ${this.maxSize}`);
        this.tableSize = size;
        this.evict(0);
      } else {
        // Literal without indexing / never indexed: 4-bit prefix.
        const index = int(4);
        const name = index ? entry(index)[0] : str();
        fields.push([name, str()]);
      }
    }
    return fields;
  }

  private add(name: string, value: string): void {
    const size = entrySize(name, value);
    this.evict(size);
    if (size > this.tableSize) return;
    this.dynamic.unshift([name, value]);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.size + room > this.tableSize) {
      const [n, v] = this.dynamic.pop()!;
      this.size -= entrySize(n, v);
    }
  }
}
