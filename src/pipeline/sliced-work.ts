// Work too big for one turn of the event loop, done a slice at a time. A job is a generator that
// yields wherever it may be paused; jobs run in order, and a turn stops taking steps once it has
// run for `sliceMs`, then yields to I/O and timers (setImmediate) before the next. Found with 500
// proxies reconnecting at once: building a view for the first of them (translate, then encode a
// few thousand resources) in the turn that bound its stream stalled the loop for over a second,
// so gRPC keepalives and every other stream waited. A step itself is never cut: the longest turn
// is `sliceMs` plus the longest step.

export type Job = Iterator<unknown, void, undefined>;

/** The slice the server builds views in: as the push scheduler's, so a turn holds about 2 × 10 ms of both. */
export const BUILD_SLICE_MS = 10;

/** Counters for tests and metrics. */
export interface SlicedWorkStats {
  /** Turns run. */
  readonly turns: number;
  /** Steps taken, over every job. */
  readonly steps: number;
  /** The longest turn, in milliseconds. */
  readonly longestTurnMs: number;
  /** Jobs not finished yet. */
  readonly pending: number;
}

export class SlicedWork {
  private readonly jobs: Job[] = [];
  private scheduled = false;
  private turns = 0;
  private steps = 0;
  private longestTurnMs = 0;

  constructor(
    private readonly sliceMs = 10,
    /** Told about a job that threw; the job is dropped, the others go on. */
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Run `job` after the jobs added before it, starting on a later turn (never synchronously). */
  add(job: Job): void {
    this.jobs.push(job);
    this.schedule();
  }

  get stats(): SlicedWorkStats {
    return { turns: this.turns, steps: this.steps, longestTurnMs: this.longestTurnMs, pending: this.jobs.length };
  }

  private schedule(): void {
    if (this.scheduled || this.jobs.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    this.turns++;
    const start = performance.now();
    // At least one step per turn, however small the slice.
    for (let first = true; this.jobs.length > 0 && (first || performance.now() - start < this.sliceMs); first = false) {
      const job = this.jobs[0]!;
      this.steps++;
      let done: boolean | undefined;
      try {
        done = job.next().done;
      } catch (e) {
        done = true;
        this.onError(e);
      }
      if (done) this.jobs.shift();
    }
    this.longestTurnMs = Math.max(this.longestTurnMs, performance.now() - start);
    this.schedule();
  }
}
