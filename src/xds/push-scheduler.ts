// Response writes of all streams go through one scheduler, for two reasons found with 1000
// delta clients on a 2-core machine:
// - Building and writing responses for every stream in one synchronous burst (a snapshot change,
//   or a thousand streams connecting at once) stalled the event loop for 13–19 s, so gRPC
//   keepalive acks went unanswered and healthy proxies were dropped. Streams are served in
//   slices of a few milliseconds, yielding to I/O and timers (setImmediate) between slices.
// - grpc-js queues every write in memory; a 5 MiB snapshot to 1000 proxies would hold gigabytes,
//   and proxies (the bench's 1000 clients in one process, too) fall behind reading it. Bytes
//   sent and not yet answered by the proxy (ACK or NACK) are capped; streams wait their turn.
// A turn's writes reach the sockets only on the next turn of the event loop (Node's HTTP/2 sends
// what a session was given once the JavaScript of the turn is done): during a 10 ms slice the
// proxies, and the load generator's other core, had nothing to read. So the slices of a push start
// short and double up to `sliceMs`; the first responses are on the wire after ~1 ms and each
// slice's are read while the next is built.
// A proxy that never answers must not hold the cap forever: a response unanswered for longer
// than `stallMs` stops counting against it. Nor may it take a share of the cap again with every
// later change: a stream that left a response unanswered that long is slow, and what it is sent
// next is not counted (its own memory stays bounded by one write at a time, see connection.ts).

/** The longest an afterPush task waits for the streams to be served. */
const MAX_AFTER_MS = 1000;

export interface Flushable {
  /** Build and write what the stream owes (may start writes through `track`). */
  flushNow(): void;
  /** Handle the requests the stream read and put aside (takeIn). */
  takeNow?(): void;
}

export interface PushSchedulerOptions {
  /** Longest run of flushes before yielding to the event loop. */
  readonly sliceMs?: number;
  /** The first slice after the scheduler was idle; each next one is twice as long, up to `sliceMs`. */
  readonly firstSliceMs?: number;
  /** The clock slices and stalls are measured with (milliseconds; tests step it). */
  readonly clock?: () => number;
  /** Bytes sent and not yet answered, above which no stream is served. */
  readonly maxInFlightBytes?: number;
  readonly stallMs?: number;
  /** A stream's flush (or an afterPush task) threw: the others of the turn are still served, and this says so. */
  readonly onFlushError?: (err: unknown) => void;
}

/**
 * A response counted against the cap until released: its size, and when it was sent (on the
 * scheduler's clock). The caller's own record of the response serves, so that counting it costs
 * no allocation of its own (a push counts one per stream).
 */
export interface InFlight {
  readonly bytes: number;
  readonly sentAt: number;
}

/** Counters for tests and metrics (exported to Prometheus as meshpilot_xds_push_*). */
export interface PushSchedulerStats {
  /** Slices run (turns of the event loop that served streams). */
  readonly rounds: number;
  /** Streams served (a response built and written, or found owing nothing). */
  readonly flushes: number;
  /** The longest slice, in milliseconds: `sliceMs` plus the longest single flush. */
  readonly longestRoundMs: number;
  /** Streams waiting for a turn now. */
  readonly waiting: number;
  /** Bytes sent and not yet answered now, counted against the cap. */
  readonly bytesInFlight: number;
  /** Times a stream waited because the unanswered bytes were at the cap. */
  readonly heldAtCap: number;
  /** Responses that stopped counting against the cap because they went unanswered for `stallMs`. */
  readonly abandoned: number;
  /** Streams whose put-aside requests were handled in a turn of the scheduler (takeIn). */
  readonly intakes: number;
}

export class PushScheduler {
  private readonly waiting = new Set<Flushable>();
  /**
   * Streams with requests put aside: served first in each turn, within its slice, and also when
   * the cap on unanswered bytes is reached (a request may be what releases it).
   */
  private readonly intake = new Set<Flushable>();
  private readonly inFlight = new Set<InFlight>();
  /** Work that waits until the streams owed a response were served (afterPush). */
  private afterTasks: (() => void)[] = [];
  private afterSince = 0;
  private inFlightBytes = 0;
  private scheduled = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly sliceMs: number;
  private readonly firstSliceMs: number;
  /** How long the next slice may be (see the header). */
  private nextSliceMs: number;
  private readonly clock: () => number;
  private readonly maxInFlightBytes: number;
  /** How long a response may go unanswered before its stream counts as slow. */
  readonly stallMs: number;
  private readonly onFlushError: (err: unknown) => void;
  private rounds = 0;
  private flushes = 0;
  private longestRoundMs = 0;
  private heldAtCap = 0;
  private abandoned = 0;
  private intakes = 0;

  constructor(opts: PushSchedulerOptions = {}) {
    this.sliceMs = opts.sliceMs ?? 10;
    this.firstSliceMs = Math.min(this.sliceMs, opts.firstSliceMs ?? 1);
    this.nextSliceMs = this.firstSliceMs;
    this.clock = opts.clock ?? (() => performance.now());
    this.maxInFlightBytes = opts.maxInFlightBytes ?? 32 * 1024 * 1024;
    this.stallMs = opts.stallMs ?? 2000;
    this.onFlushError = opts.onFlushError ?? (() => {});
  }

  /** `s` has something to write: flush it soon (once, however often this is called before). */
  request(s: Flushable): void {
    this.waiting.add(s);
    this.schedule();
  }

  /** `s` read requests too big to handle in that turn: handle them in a turn of ours, soon. */
  takeIn(s: Flushable): void {
    this.intake.add(s);
    this.schedule();
  }

  /**
   * Run `task` once every stream owed a response now was served, or no stream can be served
   * (none waits, or the unanswered bytes are at the cap): work that need not come before a push
   * (bookkeeping of the change it sends) then does not delay the last proxy's response. Tasks
   * run in the order given, on a later turn at the earliest.
   */
  afterPush(task: () => void): void {
    if (this.afterTasks.length === 0) this.afterSince = this.clock();
    this.afterTasks.push(task);
    if (this.afterTasks.length === 1 && !this.scheduled) setImmediate(() => this.runAfterTasks());
  }

  /** `s` is gone. */
  forget(s: Flushable): void {
    this.waiting.delete(s);
    this.intake.delete(s);
  }

  /** A response is sent: count it until `release(w)`. */
  track(w: InFlight): void {
    if (this.inFlight.has(w)) return;
    this.inFlight.add(w);
    this.inFlightBytes += w.bytes;
  }

  /** The response was answered, superseded or abandoned; releasing it again (or one never tracked) does nothing. */
  release(w: InFlight): void {
    if (!this.inFlight.delete(w)) return;
    this.inFlightBytes -= w.bytes;
    this.schedule();
  }

  /** For tests and metrics. */
  get pending(): { readonly streams: number; readonly bytesInFlight: number } {
    return { streams: this.waiting.size, bytesInFlight: this.inFlightBytes };
  }

  get stats(): PushSchedulerStats {
    return {
      rounds: this.rounds,
      flushes: this.flushes,
      longestRoundMs: this.longestRoundMs,
      waiting: this.waiting.size,
      bytesInFlight: this.inFlightBytes,
      heldAtCap: this.heldAtCap,
      abandoned: this.abandoned,
      intakes: this.intakes,
    };
  }

  private full(): boolean {
    if (this.inFlightBytes < this.maxInFlightBytes) return false;
    this.abandonStalled(this.clock());
    return this.inFlightBytes >= this.maxInFlightBytes;
  }

  /** Stop counting responses unanswered for `stallMs`. The set is in sending order: oldest first. */
  private abandonStalled(now: number): void {
    for (const w of this.inFlight) {
      if (now - w.sentAt < this.stallMs) return;
      this.inFlight.delete(w);
      this.inFlightBytes -= w.bytes;
      this.abandoned++;
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    if (this.intake.size === 0 && (this.waiting.size === 0 || this.full())) {
      if (this.waiting.size === 0) return;
      this.heldAtCap++;
      return this.watchStall();
    }
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    this.rounds++;
    const start = this.clock();
    const sliceMs = this.nextSliceMs;
    // At least one stream per turn, then as many as the slice allows.
    let served = 0;
    const spent = (): boolean => served > 0 && this.clock() - start >= sliceMs;
    for (const s of this.intake) {
      if (spent()) break;
      this.intake.delete(s);
      this.intakes++;
      served++;
      try {
        s.takeNow?.();
      } catch (err) {
        this.onFlushError(err);
      }
    }
    for (const s of this.waiting) {
      if (this.full() || spent()) break;
      this.waiting.delete(s);
      this.flushes++;
      served++;
      // As guarded(), inline: a closure per stream served would be garbage of every push.
      try {
        s.flushNow();
      } catch (err) {
        this.onFlushError(err);
      }
    }
    this.longestRoundMs = Math.max(this.longestRoundMs, this.clock() - start);
    // A push's slices grow while streams wait; the next push starts short again.
    this.nextSliceMs = this.waiting.size > 0 ? Math.min(this.sliceMs, 2 * sliceMs) : this.firstSliceMs;
    this.runAfterTasks();
    this.schedule();
  }

  /**
   * The afterPush tasks, when no stream can be served now, or once they waited MAX_AFTER_MS: a
   * reconnect storm keeps streams waiting for seconds, and the tasks must not pile up meanwhile.
   */
  private runAfterTasks(): void {
    if (this.afterTasks.length === 0) return;
    if (this.waiting.size > 0 && !this.full() && this.clock() - this.afterSince < MAX_AFTER_MS) return;
    const tasks = this.afterTasks;
    this.afterTasks = [];
    for (const t of tasks) this.guarded(t);
  }

  /** One stream's failure must not skip the others' turn. */
  private guarded(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.onFlushError(err);
    }
  }

  private watchStall(): void {
    if (this.stallTimer) return;
    // Full of responses younger than `stallMs`: look again when the oldest of them stalls.
    const oldest = this.inFlight.values().next().value;
    const wait = oldest ? Math.max(1, oldest.sentAt + this.stallMs - this.clock()) : this.stallMs;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      this.schedule();
    }, wait);
    this.stallTimer.unref();
  }
}
