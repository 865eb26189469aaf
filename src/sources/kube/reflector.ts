/**
 * List + watch for one collection, with the resilience the issue asks for:
 * - a full list (paged) first, delivered as one `replace`, then a watch from the list's
 *   resourceVersion; watch bookmarks keep that version fresh;
 * - 410 Gone (the version is too old, from the watch answer or an ERROR event) → relist; the
 *   consumer diffs the new list against what it holds, so nothing is lost or duplicated;
 * - connection errors and 5xx → exponential backoff (with jitter, capped at `backoffMaxMs`), then
 *   watch again from the last version, or relist when the list itself failed; so is a watch that
 *   ends at once without a single event or an ERROR event other than 410 (otherwise a server that
 *   keeps doing that would be asked again in a tight loop); a watch that was healthy for a while
 *   starts the backoff afresh;
 * - `retryNow()` cuts a backoff short (the source calls it on every collection when one of them
 *   reaches the server again, so all catch up together rather than one backoff apart);
 * - a watch that goes silent is detected: the server is asked to end every watch after
 *   `watchTimeoutSeconds`; a stream that neither ends nor sends anything for that long plus a
 *   grace period is aborted and the collection relisted;
 * - a periodic relist (`relistIntervalMs`) as a last safety net.
 */
import { KubeApiError, type KubeClient, type WatchHandle } from "./client.js";

export type RawObject = Record<string, unknown>;

export interface ReflectorHandlers {
  /** The complete current collection (after every list). */
  replace(items: RawObject[]): void;
  /** One watch event. */
  event(type: "ADDED" | "MODIFIED" | "DELETED", object: RawObject): void;
  /** Errors worth logging (the reflector recovers by itself); `repeat`: the server was already failing. */
  error(err: unknown, what: string, repeat: boolean): void;
  /** Called after a successful (re)list, with the reason (`initial`, `gone`, `stall`, `periodic`, `error`). */
  listed?(reason: string, count: number): void;
  /** The server answered again (a list or a watch succeeded) after `failingSince` (epoch ms). */
  recovered?(failingSince: number): void;
}

export interface ReflectorOptions {
  readonly client: KubeClient;
  /** Collection path, e.g. `/api/v1/services` or `/apis/networking.istio.io/v1/namespaces/a/virtualservices`. */
  readonly path: string;
  /** Extra query parameters for list and watch (labelSelector, fieldSelector). */
  readonly query?: Readonly<Record<string, string>>;
  readonly handlers: ReflectorHandlers;
  /** Server-side watch timeout; default 300 s (the stall detector waits this plus `stallGraceMs`). */
  readonly watchTimeoutSeconds?: number;
  readonly stallGraceMs?: number;
  /** Relist this often even when all is well; default 10 min; 0 disables. */
  readonly relistIntervalMs?: number;
  readonly backoffInitialMs?: number;
  /** Default 10 s: the longest a collection lags behind after the API server is back (plus jitter). */
  readonly backoffMaxMs?: number;
  readonly pageSize?: number;
  /** A watch that ends sooner than this without an event counts as a failure; default 1 s. */
  readonly minWatchMs?: number;
  /** A watch up for this long (or that delivered an event) resets the backoff; default 10 s. */
  readonly healthyWatchMs?: number;
}

export const DEFAULT_BACKOFF_INITIAL_MS = 500;
export const DEFAULT_BACKOFF_MAX_MS = 10_000;

type WatchOutcome =
  { kind: "ended"; healthy: boolean; short: boolean } | { kind: "gone" } | { kind: "stall"; ms: number } | { kind: "error"; err: unknown; healthy: boolean };

const sleepAbortable = (ms: number, signal: { stopped: boolean; wake?: () => void }) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

export class Reflector {
  private stopped = false;
  private readonly sleeper: { stopped: boolean; wake?: () => void } = { stopped: false };
  private current: WatchHandle | undefined;
  private forceRelist: string | undefined;
  /** From rewatchFrom: the version the next watch starts at, whatever events arrive meanwhile. */
  private rewatchVersion: string | undefined;
  private resourceVersion = "";
  private syncedOnce = false;
  private loop: Promise<void> | undefined;
  private syncedResolve!: () => void;
  /** Resolves after the first successful list was delivered. */
  readonly synced: Promise<void>;
  /** Counts for tests and metrics; `goneEvents`: the 410s that came as an ERROR event in a watch stream (of `gone`). */
  readonly stats = { lists: 0, watches: 0, events: 0, errors: 0, gone: 0, goneEvents: 0, stalls: 0 };
  /** Since when (epoch ms) the server has not answered; undefined while it does. */
  private failing: { since: number; error: string } | undefined;

  constructor(private readonly opts: ReflectorOptions) {
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  /** Since when the last lists/watches failed, and the last error; undefined while all is well. */
  get failure(): { readonly since: number; readonly error: string } | undefined {
    return this.failing;
  }

  /** End a backoff wait now (the server was seen answering again). */
  retryNow(): void {
    if (this.failing) this.sleeper.wake?.();
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.stopped = true;
    this.sleeper.wake?.();
    this.current?.abort();
    await this.loop;
  }

  /** Drop the watch and list again now (tests, SIGHUP, namespace scope changes). */
  relist(reason = "requested"): void {
    this.forceRelist = reason;
    this.current?.abort();
    this.sleeper.wake?.();
  }

  /**
   * Drop the watch and watch again from `resourceVersion` (no relist first). Tests use an ancient
   * version to make the API server answer 410 Gone, the way it does after a long disconnection.
   */
  rewatchFrom(resourceVersion: string): void {
    // Kept apart from resourceVersion: a watch being opened right now (not `current` yet) or an
    // event still arriving on the aborted one would otherwise overwrite it.
    this.rewatchVersion = resourceVersion;
    this.current?.abort();
  }

  private url(extra: Record<string, string>): string {
    const q = new URLSearchParams({ ...this.opts.query, ...extra });
    return `${this.opts.path}?${q.toString()}`;
  }

  private async list(): Promise<RawObject[]> {
    const items: RawObject[] = [];
    let cont = "";
    for (;;) {
      const body = (await this.opts.client.call("GET", this.url({ limit: String(this.opts.pageSize ?? 500), ...(cont ? { continue: cont } : {}) }))) as {
        items?: RawObject[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      items.push(...(body.items ?? []));
      cont = body.metadata?.continue ?? "";
      if (!cont) {
        this.resourceVersion = body.metadata?.resourceVersion ?? "";
        return items;
      }
    }
  }

  /**
   * List and hand the items over. A method of its own so that the raw list (whole objects, with
   * managedFields) is not held by the suspended frame of `run()` until the next relist. Measured
   * with `BENCH_ONLY=kube npm run bench` (1000 Services × 10 Pods): 76 MiB of informer heap with
   * the list held there, 33 MiB without.
   */
  private async listAndReplace(): Promise<number | undefined> {
    const items = await this.list();
    if (this.stopped) return undefined;
    this.stats.lists++;
    this.opts.handlers.replace(items);
    return items.length;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.loopUntilStopped();
        return;
      } catch (err) {
        // A bug in a handler must not end the watch for good without a word: report, relist.
        if (this.stopped) return;
        this.opts.handlers.error(err, `reflector ${this.opts.path} (relisting)`, false);
        this.forceRelist = "error";
        await sleepAbortable(this.opts.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS, this.sleeper);
      }
    }
  }

  private failed(err: unknown, what: string, unreachable = true): void {
    this.stats.errors++;
    const repeat = this.failing !== undefined;
    if (unreachable) this.failing = { since: this.failing?.since ?? Date.now(), error: err instanceof Error ? err.message : String(err) };
    this.opts.handlers.error(err, what, repeat);
  }

  private answered(): void {
    if (!this.failing) return;
    const since = this.failing.since;
    this.failing = undefined;
    this.opts.handlers.recovered?.(since);
  }

  private async loopUntilStopped(): Promise<void> {
    const initialBackoff = this.opts.backoffInitialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    const maxBackoff = this.opts.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    let backoff = initialBackoff;
    let needList: string | undefined = "initial";
    let lastList = 0;
    const relistEvery = this.opts.relistIntervalMs ?? 600_000;
    const backoffWait = async () => {
      const wait = Math.min(backoff, maxBackoff) * (0.8 + Math.random() * 0.4);
      backoff = Math.min(backoff * 2, maxBackoff);
      await sleepAbortable(wait, this.sleeper);
    };
    while (!this.stopped) {
      if (this.forceRelist) {
        needList = this.forceRelist;
        this.forceRelist = undefined;
      }
      if (!needList && relistEvery > 0 && Date.now() - lastList > relistEvery) needList = "periodic";
      if (needList) {
        try {
          const count = await this.listAndReplace();
          if (count === undefined) return; // stopped
          this.answered();
          this.opts.handlers.listed?.(needList, count);
          lastList = Date.now();
          needList = undefined;
          backoff = initialBackoff;
          if (!this.syncedOnce) {
            this.syncedOnce = true;
            this.syncedResolve();
          }
        } catch (err) {
          if (this.stopped) return;
          if (err instanceof KubeApiError && err.status === 410) {
            // A list continue token that expired mid-way (compaction): start the list afresh.
            this.stats.gone++;
            needList = "gone";
          }
          this.failed(err, `list ${this.opts.path}`);
          await backoffWait();
          continue;
        }
      }
      const outcome = await this.watchOnce();
      if (this.stopped) return;
      if (outcome.kind === "gone") {
        this.stats.gone++;
        needList = "gone";
      } else if (outcome.kind === "stall") {
        this.stats.stalls++;
        this.opts.handlers.error(new Error(`watch ${this.opts.path} sent nothing for ${outcome.ms} ms; relisting`), "watch stalled", false);
        needList = "stall";
      } else if (outcome.kind === "error") {
        if (outcome.healthy) backoff = initialBackoff;
        this.failed(outcome.err, `watch ${this.opts.path}`);
        await backoffWait();
        // After an error the watch resumes from the last version; a 410 on that watch relists.
      } else if (outcome.short) {
        this.failed(new Error(`watch ${this.opts.path} ended at once without an event`), `watch ${this.opts.path}`, false);
        await backoffWait();
      } else if (outcome.healthy) {
        backoff = initialBackoff;
      }
    }
  }

  private async watchOnce(): Promise<WatchOutcome> {
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? 300;
    const stallMs = timeoutSeconds * 1000 + (this.opts.stallGraceMs ?? 30_000);
    let gone = false;
    let errorEvent: Error | undefined;
    let handlerError: unknown;
    let lastActivity = Date.now();
    let stalled = false;
    let events = 0;
    let handle: WatchHandle | undefined;
    const from = this.rewatchVersion ?? this.resourceVersion;
    this.rewatchVersion = undefined;
    const opened = Date.now();
    const healthy = () => events > 0 || Date.now() - opened >= (this.opts.healthyWatchMs ?? 10_000);
    try {
      handle = await this.opts.client.watch(
        this.url({ watch: "true", allowWatchBookmarks: "true", timeoutSeconds: String(timeoutSeconds), ...(from ? { resourceVersion: from } : {}) }),
        (ev) => {
          lastActivity = Date.now();
          this.answered();
          if (gone || errorEvent || handlerError !== undefined) return; // aborted: what still arrives is not applied
          const obj = ev.object;
          if (ev.type === "ERROR") {
            if (isGone(obj)) {
              gone = true;
              this.stats.goneEvents++;
            } else errorEvent = new Error(`watch ${this.opts.path} error event: ${JSON.stringify(obj).slice(0, 300)}`);
            handle?.abort();
            return;
          }
          const rv = (obj["metadata"] as { resourceVersion?: string } | undefined)?.resourceVersion;
          if (ev.type === "ADDED" || ev.type === "MODIFIED" || ev.type === "DELETED") {
            events++;
            this.stats.events++;
            try {
              this.opts.handlers.event(ev.type, obj);
            } catch (err) {
              // Thrown here it would escape the stream's data listener and end the process.
              handlerError = err;
              handle?.abort();
              return;
            }
          }
          // Only once the event is applied: a handler that throws leaves the version where it was.
          if (rv) this.resourceVersion = rv;
        },
        () => this.answered(),
      );
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 410) return { kind: "gone" };
      return { kind: "error", err, healthy: false };
    }
    this.current = handle;
    this.stats.watches++;
    // (an ERROR event or a throwing handler before `handle` was known could not abort it)
    const ended = gone || errorEvent !== undefined || handlerError !== undefined;
    if (ended || this.stopped || this.forceRelist || this.rewatchVersion !== undefined) handle.abort();
    const timer = setInterval(
      () => {
        if (Date.now() - lastActivity > stallMs) {
          stalled = true;
          handle.abort();
        }
      },
      Math.min(5000, Math.max(100, stallMs / 4)),
    );
    try {
      await handle.done;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 410) return { kind: "gone" };
      // The server answered 200 and the stream broke later: it was reachable.
      if (!(err instanceof KubeApiError)) return { kind: "error", err, healthy: healthy() };
      return { kind: "error", err, healthy: false };
    } finally {
      clearInterval(timer);
      this.current = undefined;
    }
    if (handlerError !== undefined) throw handlerError;
    if (gone) return { kind: "gone" };
    if (errorEvent) return { kind: "error", err: errorEvent, healthy: false };
    if (stalled) return { kind: "stall", ms: Date.now() - lastActivity };
    const deliberate = this.stopped || this.forceRelist !== undefined || this.rewatchVersion !== undefined;
    const short = !deliberate && events === 0 && Date.now() - opened < (this.opts.minWatchMs ?? 1000);
    return { kind: "ended", healthy: healthy(), short };
  }
}

/** A watch ERROR event saying the version is too old: 410 Gone / Expired. */
function isGone(status: Record<string, unknown>): boolean {
  return status["code"] === 410 || status["reason"] === "Expired" || status["reason"] === "Gone";
}
