/**
 * A directory of Kubernetes YAML as a config source: an initial full load, then fs.watch on each
 * directory of the tree with a short debounce. Each reload lists and stats the tree, re-reads files that changed (or that a
 * watch event named), and delivers store events plus the complete current diagnostics. The rules for
 * broken edits, deleted files and duplicates are in file-state.ts.
 */
import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Codes } from "../../api/codes.js";
import type { Diagnostic } from "../../api/diagnostics.js";
import { deepEqual } from "../../api/equal.js";
import type { StoredObject } from "../../api/objects.js";
import type { SourceUpdate } from "../source-update.js";
import { FileConfigState } from "./file-state.js";
import { errorText, listYamlTree, loadFile } from "./loader.js";

export interface FileSourceUpdate extends SourceUpdate {
  /** Files read (or found deleted) for this update. */
  readonly files: readonly string[];
}

export interface FileSourceOptions {
  readonly dir: string;
  /** Name under which objects are owned in the store; default `file:<dir>`. */
  readonly name?: string;
  /** Quiet time after a file event before reloading; default 50 ms. */
  readonly debounceMs?: number;
  /** Watch for changes after the initial load; default true. */
  readonly watch?: boolean;
  /** Called with each update (the initial one included, even when empty). */
  readonly onUpdate: (update: FileSourceUpdate) => void;
  /** Unexpected failures (including a throwing onUpdate); default: rethrown asynchronously. */
  readonly onError?: (err: unknown) => void;
}

export class FileSource {
  readonly name: string;
  readonly dir: string;
  private readonly state = new FileConfigState();
  private readonly signatures = new Map<string, string>();
  private readonly debounceMs: number;
  /**
   * One watcher per directory of the tree, not one recursive watcher: Node's recursive watch on
   * Linux loses a file replaced by rename (as editors save), so later in-place writes to it went
   * unnoticed. A directory's own watch reports every change of its entries.
   */
  private readonly watchers = new Map<string, FSWatcher>();
  private watching = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private firstPendingAt = 0;
  private readonly pending = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private started = false;
  private inFlight = 0;
  private stopped = false;
  private lastDiagnostics: readonly Diagnostic[] = [];
  private watchError: Diagnostic | undefined;
  private dirError: Diagnostic | undefined;

  constructor(private readonly opts: FileSourceOptions) {
    this.dir = opts.dir;
    this.name = opts.name ?? `file:${opts.dir}`;
    this.debounceMs = opts.debounceMs ?? 50;
  }

  /** Load everything once; resolves after the initial update was delivered. Rejects if `dir` is not a directory. */
  async start(): Promise<void> {
    if (this.started) throw new Error("FileSource already started");
    this.started = true;
    const st = await stat(this.dir).catch((e: NodeJS.ErrnoException) => {
      throw new Error(e.code === "ENOENT" ? `config directory ${this.dir} does not exist` : `cannot read config directory ${this.dir}: ${e.message}`, {
        cause: e,
      });
    });
    if (!st.isDirectory()) throw new Error(`${this.dir} is not a directory`);
    if (this.opts.watch !== false) {
      this.watching = true;
      this.watchDirs([this.dir]); // before loading, so no change is missed
    }
    this.pending.clear();
    await this.enqueue(true);
  }

  /** Stop watching; resolves when an in-flight reload has finished. No update is delivered afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watching = false;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.chain;
  }

  /** Rescan now (e.g. on SIGHUP); resolves when done. */
  reload(): Promise<void> {
    return this.enqueue(false);
  }

  /** Resolves when no reload is scheduled or running (tests use this with their own time bound). */
  async idle(): Promise<void> {
    while (this.timer !== undefined || this.inFlight > 0) {
      if (this.timer !== undefined) await new Promise((r) => setTimeout(r, this.debounceMs));
      else await this.chain;
    }
  }

  diagnostics(): readonly Diagnostic[] {
    return this.lastDiagnostics;
  }

  /** The objects currently served by this source. */
  objects(): StoredObject[] {
    return this.state.servedObjects();
  }

  /** Serialize scans. The initial one rejects to its caller (start); later failures go to onError. */
  private enqueue(initial: boolean): Promise<void> {
    this.inFlight++;
    const run = this.chain.then(() => this.scan(initial));
    this.chain = run
      .catch((e) => {
        if (!initial) this.fail(e);
      })
      .finally(() => {
        this.inFlight--;
      });
    return initial ? run : this.chain;
  }

  /**
   * Watch exactly `dirs` (the tree as last listed). Returns whether a directory was added: what
   * was written in it before its watch started is only seen by another scan.
   */
  private watchDirs(dirs: readonly string[]): boolean {
    if (!this.watching) return false;
    const wanted = new Set(dirs);
    for (const [d, w] of this.watchers)
      if (!wanted.has(d)) {
        w.close();
        this.watchers.delete(d);
      }
    let added = false;
    for (const d of dirs) {
      if (this.watchers.has(d)) continue;
      try {
        const w = watch(d, (_event, filename) => {
          if (filename) this.pending.add(path.join(d, filename.toString()));
          this.schedule();
        });
        w.on("error", (e) => this.watchFailed(d, e));
        this.watchers.set(d, w);
        added = true;
      } catch (e) {
        this.watchFailed(d, e);
      }
    }
    return added;
  }

  /** A subdirectory that vanished is simply dropped (the next scan sees it gone); the root is fatal. */
  private watchFailed(d: string, e: unknown): void {
    this.watchers.get(d)?.close();
    this.watchers.delete(d);
    if (d === this.dir) {
      this.watchError = {
        severity: "error",
        code: Codes.WatchError,
        message: `watching ${this.dir} failed (${errorText(e)}); changes are no longer picked up until restart`,
        source: { file: this.dir },
      };
      this.watching = false;
      for (const w of this.watchers.values()) w.close();
      this.watchers.clear();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = performance.now();
    if (this.timer === undefined) this.firstPendingAt = now;
    else clearTimeout(this.timer);
    // trailing debounce, but never postpone a reload more than 10 quiet periods under constant writes
    const maxWait = this.debounceMs * 10;
    const delay = Math.max(0, Math.min(this.debounceMs, this.firstPendingAt + maxWait - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.enqueue(false);
    }, delay);
  }

  private async scan(initial: boolean): Promise<void> {
    if (this.stopped && !initial) return;
    const forced = new Set(this.pending);
    this.pending.clear();
    const touched: string[] = [];

    let files: string[];
    try {
      const tree = await listYamlTree(this.dir);
      files = tree.files;
      if (this.watchDirs(tree.dirs)) this.schedule();
      this.dirError = undefined;
    } catch (e) {
      // an unreadable or vanished directory keeps everything served (bad input never takes good config down)
      this.dirError = {
        severity: "error",
        code: Codes.ReadError,
        message: `cannot read directory ${this.dir} (${errorText(e)}); the previously loaded objects stay in use`,
        source: { file: this.dir },
      };
      this.deliver(initial, touched);
      return;
    }

    const present = new Set(files);
    for (const file of files) {
      let sig: string;
      try {
        const st = await stat(file);
        sig = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      } catch {
        continue; // vanished between listing and stat: handled by the next scan's listing
      }
      if (!forced.has(file) && this.signatures.get(file) === sig && this.state.has(file)) continue;
      const load = await loadFile(file);
      this.signatures.set(file, sig);
      this.state.update(load);
      touched.push(file);
    }
    for (const file of this.state.knownFiles()) {
      if (present.has(file)) continue;
      this.state.remove(file);
      this.signatures.delete(file);
      touched.push(file);
    }
    this.deliver(initial, touched);
  }

  private deliver(initial: boolean, files: string[]): void {
    this.state.setGeneralDiagnostics([this.watchError, this.dirError].filter((d): d is Diagnostic => d !== undefined));
    const { events, diagnostics } = this.state.flush();
    const diagChanged = !deepEqual(diagnostics, this.lastDiagnostics);
    this.lastDiagnostics = diagnostics;
    if (!initial && (this.stopped || (events.length === 0 && !diagChanged))) return;
    try {
      this.opts.onUpdate({ source: this.name, events, diagnostics, initial, files });
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (this.opts.onError) this.opts.onError(e);
    else
      setImmediate(() => {
        throw e;
      });
  }
}
