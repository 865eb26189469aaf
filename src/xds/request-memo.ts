// Decoded requests remembered by their bytes. In a full sync or a reconnect storm every proxy of a
// view sends the same first EDS request, thousands of cluster names (~150 KB at 1000 services),
// and decoding it costs about half a millisecond each time; comparing bytes costs microseconds.
// A remembered request is handed to every stream that sends the same bytes, so it is frozen.

/** Requests shorter than this are decoded each time: ACKs and small subscriptions gain nothing. */
export const MEMO_MIN_BYTES = 4096;
/** Distinct large requests remembered (the oldest go first): a few per shared part of the mesh. */
const MEMO_ENTRIES = 8;

export class RequestMemo<T extends object> {
  /** By length, the cheapest key that tells most different requests apart; bytes decide. */
  private readonly entries = new Map<number, { readonly bytes: Buffer; readonly value: T }>();
  private hitCount = 0;

  constructor(private readonly decode: (raw: Uint8Array) => T) {}

  get(raw: Uint8Array): T {
    if (raw.length < MEMO_MIN_BYTES) return this.decode(raw);
    const kept = this.entries.get(raw.length);
    if (kept && kept.bytes.equals(raw)) {
      this.hitCount++;
      return kept.value;
    }
    const value = frozen(this.decode(raw));
    this.entries.delete(raw.length);
    // A copy of its own: `raw` may be a view into a larger chunk of the socket's.
    this.entries.set(raw.length, { bytes: Buffer.from(raw), value });
    if (this.entries.size > MEMO_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  /** Requests answered from memory (for tests). */
  get hits(): number {
    return this.hitCount;
  }
}

/** The request and the lists and maps it holds (what streams read of it) made read-only. */
function frozen<T extends object>(req: T): T {
  for (const v of Object.values(req)) if (typeof v === "object" && v !== null) Object.freeze(v);
  return Object.freeze(req);
}
