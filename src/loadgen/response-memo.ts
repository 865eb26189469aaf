// The resources of responses already read, by their bytes. A server sends the same resources to
// every proxy of a view (the full sync's megabytes, each push's change), and one process simulates
// thousands of proxies: reading each copy again would cost the load generator, per proxy, more than
// the server spends sending it. A response's resources are read once; another response whose
// resource bytes are equal, byte for byte, gets what that reading found (the same names, versions,
// EDS names, route names, VHDS), which is what reading it would give. Nothing is taken on trust:
// the bytes are compared whole (memcmp), so a server that sends different bytes gets them read.
import { readDeltaResources, type DeltaResources } from "./wire.js";

/** Bytes spread over a span that pick an entry before the whole span is compared. */
const SAMPLES = 64;
/** Spans of fewer bytes are read each time (the lookup would cost about what it saves). */
const MIN_BYTES = 256;

interface Entry {
  /** A copy of the span read: what a response must equal, and what its resources point into. */
  readonly bytes: Buffer;
  readonly read: DeltaResources;
}

export interface ResponseMemoStats {
  readonly hits: number;
  readonly misses: number;
  /** Bytes of the spans kept. */
  readonly bytes: number;
}

export class ResponseMemo {
  /** By type URL, length and sampled bytes; oldest first (evicted first). */
  private readonly entries = new Map<string, Entry>();
  private kept = 0;
  private hits = 0;
  private misses = 0;

  constructor(
    /** The most bytes of spans kept; the oldest go first. */
    private readonly maxBytes = 256 * 1024 * 1024,
  ) {}

  get stats(): ResponseMemoStats {
    return { hits: this.hits, misses: this.misses, bytes: this.kept };
  }

  /** The resources in [start, end) of `buf`, a response of `typeUrl` (a ResourceReader). */
  readonly resources = (buf: Buffer, start: number, end: number, typeUrl: string): DeltaResources => {
    const length = end - start;
    if (length < MIN_BYTES) return readDeltaResources(buf, start, end);
    const key = `${typeUrl} ${length} ${sample(buf, start, end)}`;
    const found = this.entries.get(key);
    if (found && buf.compare(found.bytes, 0, length, start, end) === 0) {
      this.hits++;
      return found.read;
    }
    this.misses++;
    // The resources point into a copy of the span, not into the response's buffer: the entry
    // outlives the response, and must not keep the chunk it came in.
    const bytes = Buffer.allocUnsafeSlow(length);
    buf.copy(bytes, 0, start, end);
    const read = readDeltaResources(bytes, 0, length);
    if (found) this.drop(key, found);
    if (length <= this.maxBytes) {
      this.entries.set(key, { bytes, read });
      this.kept += length;
      for (const [k, e] of this.entries) {
        if (this.kept <= this.maxBytes) break;
        this.drop(k, e);
      }
    }
    return read;
  };

  private drop(key: string, e: Entry): void {
    this.entries.delete(key);
    this.kept -= e.bytes.length;
  }
}

/** A hash of SAMPLES bytes spread evenly over [start, end) and of its last bytes (FNV-1a). */
function sample(buf: Buffer, start: number, end: number): number {
  const length = end - start;
  const step = Math.max(1, Math.floor(length / SAMPLES));
  let h = 0x811c9dc5;
  for (let i = start; i < end; i += step) h = Math.imul(h ^ buf[i]!, 0x01000193);
  for (let i = Math.max(start, end - 16); i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}
