// The resources of responses already read, by their bytes. A server sends the same resources to
// every proxy of a view (the full sync's megabytes, each push's change), and one process simulates
// thousands of proxies: reading each copy again would cost the load generator, per proxy, more than
// the server spends sending it. Nothing is taken on trust: whatever is reused was compared with
// what arrived, byte for byte (memcmp), so a server that sends different bytes gets them read.
//
// Two levels. A span of resources (all of a response's) equal to one read before gets that
// reading whole: one comparison, when proxies of a view get the same response. Otherwise each
// resource is matched by its own bytes, and only those not seen before are read: proxies whose
// views differ in a few resources (their own inbound listener and cluster, their namespace's
// virtual hosts) then cost what those few cost, not what their whole responses do. A resource
// read is shared by every proxy that gets its bytes (the same name, version, EDS name, route
// names, VHDS), which is what reading it again would give.
//
// Matching resource by resource must itself cost much less than reading: a comparison is a call
// into C++ that costs about what reading a small resource does. So resources are kept, field and
// all, in the order they came, and a response is matched in runs: after a resource found, the
// next one is guessed to be the one kept after it (same length), and a run of guesses is
// compared at once, halved where it differs (a response that differs from a kept one in k
// resources costs about k·log n comparisons). A resource no guess covers is looked up by a hash of
// its name, version and sampled bytes, and compared.
import {
  DELTA_RESOURCES_FIELD,
  FieldReader,
  readDeltaResources,
  readResource,
  RESOURCE_NAME,
  RESOURCE_VERSION,
  type DeltaResources,
  type WireResource,
} from "./wire.js";
import { GatherPool } from "../xds/gather-pool.js";

/** Bytes spread over a span that pick an entry before the whole span is compared. */
const SAMPLES = 64;
/** Spans of fewer bytes are looked up by their bytes whole. */
const MIN_BYTES = 256;
/** The most small spans kept (the table starts over when full). */
const MAX_SMALL = 4096;
/** Spans on probation: how many, and the largest. */
const MAX_TRIALS = 16;
const MAX_TRIAL_BYTES = 16 * 1024 * 1024;
/** Spans kept under one key (type URL, length, sampled bytes) at most. */
const SPAN_WAYS = 4;
/** A span not found whole is kept if at least 1/SPAN_NEW of its resources were new. */
const SPAN_NEW = 8;
/** Bytes spread over a resource that, with its name and version, pick an entry before it is compared. */
const RESOURCE_SAMPLES = 16;

/** A span of resources read: a copy of its bytes (what a response must equal) and what was read. */
interface SpanEntry {
  readonly bytes: Buffer;
  readonly read: DeltaResources;
  readonly key: string;
}

/**
 * One resource read. Its field (key, length and the Resource message) lies in [start, end) of
 * `bytes`, a copy shared by the resources of one response that were read together, in the order
 * they came; `resource` points into it.
 */
interface ResourceEntry {
  readonly bytes: Buffer;
  readonly start: number;
  readonly end: number;
  readonly resource: WireResource;
  readonly hash: number;
  /** The next entry of the same hash. */
  chain: ResourceEntry | undefined;
  /** The entry kept right after this one in `bytes` (the resource that followed it). */
  after: ResourceEntry | undefined;
  dropped: boolean;
}

export interface ResponseMemoStats {
  /** Spans found whole. */
  readonly hits: number;
  /** Spans not found whole (their resources were matched one by one). */
  readonly misses: number;
  /** Resources found by their bytes in spans not found whole. */
  readonly resourceHits: number;
  /** Resources read (not found). */
  readonly resourcesRead: number;
  /** Calls comparing bytes of resources (a run of them counts once). */
  readonly comparisons: number;
  /** Bytes kept (spans and resources). */
  readonly bytes: number;
}

export class ResponseMemo {
  /** By type URL, length and sampled bytes. */
  private readonly spans = new Map<string, SpanEntry[]>();
  /** By resourceHash: the head of a chain of entries. */
  private readonly byHash = new Map<number, ResourceEntry>();
  /** Small spans by type URL and bytes. */
  private readonly smallSpans = new Map<string, DeltaResources>();
  /** Spans read and not kept, by key: one that comes again is kept. */
  private readonly probation = new Map<string, { bytes: Buffer; pooled: Buffer; read: DeltaResources }>();
  private readonly trialBuffers = new GatherPool(MAX_TRIALS * MAX_TRIAL_BYTES);
  /** Every entry kept, oldest first (evicted first). */
  private readonly order = new Set<SpanEntry | ResourceEntry>();
  private kept = 0;
  private hits = 0;
  private misses = 0;
  private resourceHits = 0;
  private resourcesRead = 0;
  private comparisons = 0;
  // Per response, by the index of its resource: where its field starts and ends, and the entry
  // matched or guessed (scratch, reused: one memo serves every proxy, one response at a time).
  private at: number[] = [];
  private end: number[] = [];
  private found: (ResourceEntry | undefined)[] = [];
  /** Whether `found` is a guess not yet compared. */
  private guessed: boolean[] = [];

  constructor(
    /** The most bytes kept; the oldest entries go first. */
    private readonly maxBytes = 256 * 1024 * 1024,
  ) {}

  get stats(): ResponseMemoStats {
    return {
      hits: this.hits,
      misses: this.misses,
      resourceHits: this.resourceHits,
      resourcesRead: this.resourcesRead,
      comparisons: this.comparisons,
      bytes: this.kept,
    };
  }

  /** Forgets everything (benches: each round starts as a new process would). */
  clear(): void {
    for (const e of this.order) if (!("key" in e)) e.dropped = true;
    this.spans.clear();
    this.smallSpans.clear();
    this.probation.clear();
    this.byHash.clear();
    this.order.clear();
    this.kept = 0;
  }

  /** The resources in [start, end) of `buf`, a response of `typeUrl` (a ResourceReader). */
  readonly resources = (buf: Buffer, start: number, end: number, typeUrl: string): DeltaResources => {
    const length = end - start;
    if (length < MIN_BYTES) return this.small(buf, start, end, typeUrl);
    const key = `${typeUrl} ${length} ${sample(buf, start, end, SAMPLES)}`;
    const ways = this.spans.get(key);
    if (ways)
      for (const e of ways)
        if (buf.compare(e.bytes, 0, length, start, end) === 0) {
          this.hits++;
          return e.read;
        }
    this.misses++;
    // Spans of one key that differ (responses of the same length that differ in a few bytes, as
    // when a push split a type's resources differently for some proxies) are kept side by side:
    // one replacing the other would make each of them read resource by resource every time.
    if (ways && ways.length >= SPAN_WAYS) this.drop(ways[0]!);
    // A span with many new resources is likely to come again whole (the first proxy of a view, or
    // of a namespace); one that varies a few known ones is likely one proxy's own (its inbound
    // cluster), and kept would only push others out, unless it comes again: it waits on probation
    // (a copy of its bytes, not counted as kept) for a second span of the same bytes.
    const trial = this.probation.get(key);
    if (trial && length <= this.maxBytes && buf.compare(trial.bytes, 0, length, start, end) === 0) {
      this.probation.delete(key);
      return this.keepSpan(key, trial.bytes, trial.read);
    }
    const readBefore = this.resourcesRead;
    const read = this.byResource(buf, start, end);
    if (SPAN_NEW * (this.resourcesRead - readBefore) >= read.resources.length && length <= this.maxBytes) {
      const bytes = Buffer.allocUnsafeSlow(length);
      buf.copy(bytes, 0, start, end);
      return this.keepSpan(key, bytes, read);
    }
    if (length <= MAX_TRIAL_BYTES) {
      // Every proxy's own span passes here (workloads: one per proxy and type): the copies are
      // taken from and given back to a pool, not new pages each time.
      let bytes = trial?.bytes;
      if (!bytes) {
        if (this.probation.size >= MAX_TRIALS) {
          const [oldest, out] = this.probation.entries().next().value!;
          this.probation.delete(oldest);
          this.trialBuffers.give(out.pooled);
        }
        const pooled = this.trialBuffers.take(length);
        bytes = pooled.subarray(0, length);
        this.probation.set(key, { bytes, pooled, read });
      } else this.probation.set(key, { ...trial!, read });
      buf.copy(bytes, 0, start, end);
    }
    this.evict();
    return read;
  };

  /** Keeps a span read: what it read is handed, by reference, for every span of the same bytes. */
  private keepSpan(key: string, bytes: Buffer, read: DeltaResources): DeltaResources {
    const entry: SpanEntry = { bytes, read: { ...read, shared: true }, key };
    const ways = this.spans.get(key);
    if (ways) ways.push(entry);
    else this.spans.set(key, [entry]);
    this.keep(entry, bytes.length);
    this.evict();
    return entry.read;
  }

  /** A small span: its bytes are its key (a span of its own bytes read, kept). */
  private small(buf: Buffer, start: number, end: number, typeUrl: string): DeltaResources {
    const key = `${typeUrl} ${buf.toString("latin1", start, end)}`;
    const found = this.smallSpans.get(key);
    if (found) {
      this.hits++;
      return found;
    }
    this.misses++;
    const bytes = Buffer.from(buf.subarray(start, end));
    const read: DeltaResources = { ...readDeltaResources(bytes, 0, bytes.length), shared: true };
    if (this.smallSpans.size >= MAX_SMALL) this.smallSpans.clear();
    this.smallSpans.set(key, read);
    return read;
  }

  /** The resources of the span, each matched by its bytes or else read (from a copy kept). */
  private byResource(buf: Buffer, start: number, end: number): DeltaResources {
    const { at, end: ends, found, guessed } = this;
    const r = new FieldReader(buf, start, end);
    const fields = new FieldReader(buf, 0, 0);
    let n = 0;
    // Guess each resource from the one before, else look it up.
    while (r.next()) {
      if (!r.isLen(DELTA_RESOURCES_FIELD)) continue;
      at[n] = r.at;
      ends[n] = r.e;
      const prev = n > 0 ? found[n - 1] : undefined;
      const next = prev?.after;
      if (next && !next.dropped && next.end - next.start === r.e - r.at && ends[n - 1] === r.at) {
        found[n] = next;
        guessed[n] = true;
      } else {
        found[n] = this.lookup(buf, r.at, r.e, fields);
        guessed[n] = false;
      }
      n++;
    }
    // Compare the runs of guesses, each with the entry it follows; what differs is looked up.
    for (let i = 0; i < n;) {
      if (!guessed[i]) {
        i++;
        continue;
      }
      const first = i - 1;
      let last = i;
      while (last + 1 < n && guessed[last + 1]) last++;
      this.verify(buf, first, last, fields);
      i = last + 1;
    }
    const resources = new Array<WireResource>(n);
    let resourceBytes = 0;
    let copyBytes = 0;
    for (let i = 0; i < n; i++) {
      const e = found[i];
      if (e) {
        this.resourceHits++;
        resources[i] = e.resource;
        resourceBytes += e.resource.end - e.resource.start;
      } else copyBytes += ends[i]! - at[i]!;
    }
    if (copyBytes > 0) resourceBytes += this.readMissing(buf, n, copyBytes, resources, fields);
    for (let i = 0; i < n; i++) found[i] = undefined;
    return { resources, resourceBytes };
  }

  /**
   * Compares resources first..last (a run: each guessed as the entry kept after the one before)
   * with the bytes kept from the entry of `first` on, in one call, halving where they differ. A
   * resource that differs is looked up.
   */
  private verify(buf: Buffer, first: number, last: number, fields: FieldReader): void {
    const { at, end, found } = this;
    const from = found[first]!;
    const to = found[last]!;
    this.comparisons++;
    if (buf.compare(from.bytes, from.start, to.end, at[first]!, end[last]!) === 0) {
      for (let i = first; i <= last; i++) this.guessed[i] = false;
      return;
    }
    if (first === last) {
      found[first] = this.lookup(buf, at[first]!, end[first]!, fields);
      this.guessed[first] = false;
      return;
    }
    const mid = first + Math.floor((last - first) / 2);
    this.verify(buf, first, mid, fields);
    this.verify(buf, mid + 1, last, fields);
  }

  /** The entry of the resource field in [s, e) of `buf`, by hash and comparison. */
  private lookup(buf: Buffer, s: number, e: number, fields: FieldReader): ResourceEntry | undefined {
    const length = e - s;
    let x = this.byHash.get(resourceHash(fields, s, e));
    while (x) {
      if (x.end - x.start === length) {
        this.comparisons++;
        if (buf.compare(x.bytes, x.start, x.end, s, e) === 0) return x;
      }
      x = x.chain;
    }
    return undefined;
  }

  /** Reads the resources not found into `resources` (from one copy, kept with their entries); their bodies' bytes. */
  private readMissing(buf: Buffer, n: number, copyBytes: number, resources: WireResource[], fields: FieldReader): number {
    const { at, end, found } = this;
    // Entries point into a copy of their bytes, not into the response's buffer: they outlive the
    // response, and must not keep the chunk it came in. One copy for the resources of a response,
    // evicted together (they are kept together, and eviction goes by age).
    const bytes = Buffer.allocUnsafeSlow(copyBytes);
    const outer = new FieldReader(bytes, 0, 0);
    const res = new FieldReader(bytes, 0, 0);
    const any = new FieldReader(bytes, 0, 0);
    let resourceBytes = 0;
    let offset = 0;
    let before: ResourceEntry | undefined;
    for (let i = 0; i < n; i++) {
      if (found[i]) continue;
      const s = at[i]!;
      const length = end[i]! - s;
      buf.copy(bytes, offset, s, s + length);
      // The field's payload: the Resource message.
      outer.reset(offset, offset + length);
      outer.next();
      const resource = readResource(outer.s, outer.e, res, any);
      const hash = resourceHash(fields, s, s + length);
      const entry: ResourceEntry = {
        bytes,
        start: offset,
        end: offset + length,
        resource,
        hash,
        chain: this.byHash.get(hash),
        after: undefined,
        dropped: false,
      };
      if (before) before.after = entry;
      before = entry;
      this.byHash.set(hash, entry);
      this.keep(entry, length);
      resources[i] = resource;
      resourceBytes += resource.end - resource.start;
      offset += length;
      this.resourcesRead++;
    }
    return resourceBytes;
  }

  private keep(entry: SpanEntry | ResourceEntry, length: number): void {
    this.order.add(entry);
    this.kept += length;
  }

  private evict(): void {
    for (const e of this.order) {
      if (this.kept <= this.maxBytes) break;
      this.drop(e);
    }
  }

  private drop(e: SpanEntry | ResourceEntry): void {
    if (!this.order.delete(e)) return;
    if ("key" in e) {
      const ways = this.spans.get(e.key);
      const i = ways ? ways.indexOf(e) : -1;
      if (i >= 0) ways!.splice(i, 1);
      if (ways?.length === 0) this.spans.delete(e.key);
      this.kept -= e.bytes.length;
      return;
    }
    e.dropped = true;
    this.kept -= e.end - e.start;
    let head = this.byHash.get(e.hash);
    if (head === e) {
      if (e.chain) this.byHash.set(e.hash, e.chain);
      else this.byHash.delete(e.hash);
      return;
    }
    while (head && head.chain !== e) head = head.chain;
    if (head) head.chain = e.chain;
  }
}

/**
 * A hash of the resource field in [s, e) of the reader's buffer: its length, its name and version
 * (whole: they tell resources apart) and sampled bytes of the rest.
 */
function resourceHash(fields: FieldReader, s: number, e: number): number {
  const buf = fields.buf;
  let h = Math.imul(0x811c9dc5 ^ (e - s), 0x01000193);
  fields.reset(s, e);
  if (fields.next() && fields.isLen(DELTA_RESOURCES_FIELD)) {
    fields.reset(fields.s, fields.e);
    while (fields.next()) {
      if (!fields.isLen(RESOURCE_NAME) && !fields.isLen(RESOURCE_VERSION)) continue;
      for (let i = fields.s; i < fields.e; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    }
  }
  // Small integers: a Map keyed by them needs no number allocated per lookup.
  return (h ^ sample(buf, s, e, RESOURCE_SAMPLES)) & 0x3fffffff;
}

/** A hash of `samples` bytes spread evenly over [start, end) and of its last bytes (FNV-1a). */
function sample(buf: Buffer, start: number, end: number, samples: number): number {
  const length = end - start;
  const step = Math.max(1, Math.floor(length / samples));
  let h = 0x811c9dc5;
  for (let i = start; i < end; i += step) h = Math.imul(h ^ buf[i]!, 0x01000193);
  for (let i = Math.max(start, end - 16); i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}
