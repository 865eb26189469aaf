/**
 * A directory of Kubernetes YAML as a config source: an initial full load, then fs.watch on each
 * directory of the tree. A reload delivers store events plus the complete current diagnostics; the
 * rules for broken edits, deleted files and duplicates are in file-state.ts.
 *
 * What a watch event costs is what it can change. In a tree without symlinks a YAML file's content
 * changes only through its own name, so an event naming one re-reads just that file, and events of
 * other files (an editor's or a writer's temporary `.x.yaml.tmp`) are ignored. A directory event,
 * an event without a name, or any event in a tree with symlinks (a ConfigMap volume swaps its
 * `..data` link) lists and stats the whole tree again. Stating 1000 files one after another took
 * 50–300 ms on a busy 2-core machine, most of an edit's latency (issue 12).
 *
 * When: a file renamed into place (or created, or deleted) is complete, so after a quiet period
 * it is read at once (on the next turn, with the rest of that burst of events); a file written in
 * place may be half written, so it waits until `debounceMs` pass without an event. Bursts are
 * coalesced either way (src/debounce.ts), for at most 10 quiet periods.
 */
import { lstatSync, watch, type FSWatcher, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Codes } from "../../api/codes.js";
import type { Diagnostic } from "../../api/diagnostics.js";
import { deepEqual } from "../../api/equal.js";
import { Debouncer } from "../../debounce.js";
import type { StoredObject } from "../../api/objects.js";
import type { SourceUpdate } from "../source-update.js";
import { FileConfigState } from "./file-state.js";
import { errorText, isYamlFileName, listYamlTree, loadFile, loadFileSync, type FileLoad } from "./loader.js";

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
  private readonly debouncer: Debouncer<void>;
  /** YAML files named by watch events since the last scan. */
  private readonly pending = new Set<string>();
  /** The next scan lists and stats the whole tree. */
  private fullScan = false;
  /** The tree as last listed has a symlink: any event may change what a link resolves to. */
  private links = false;
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
    this.debouncer = new Debouncer<void>(() => void this.enqueue(false), this.debounceMs, this.debounceMs * 10);
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
    this.debouncer.stop();
    this.watching = false;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.chain;
  }

  /** Rescan now (e.g. on SIGHUP); resolves when done. */
  reload(): Promise<void> {
    this.fullScan = true;
    return this.enqueue(false);
  }

  /** Resolves when no reload is scheduled or running (tests use this with their own time bound). */
  async idle(): Promise<void> {
    while (this.debouncer.scheduled || this.inFlight > 0) {
      if (this.debouncer.scheduled) await new Promise((r) => setTimeout(r, this.debounceMs));
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
    // A later scan starts on a turn of its own: fs.watch delivers each event of one read of the
    // kernel's queue in its own callback (a rename's two names among them), microtasks between.
    const run = initial ? this.chain.then(() => this.scan(true)) : this.chain.then(nextTurn).then(() => this.scan(false));
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
        const w = watch(d, (event, filename) => {
          this.noted(d, event, filename ? filename.toString() : undefined);
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
    this.scheduleFull();
  }

  /** What an event in directory `d` asks for (see the header). */
  private noted(d: string, event: string, name: string | undefined): void {
    if (this.stopped) return;
    const p = name === undefined ? undefined : path.join(d, name);
    if (p === undefined || this.links || this.watchers.has(p)) return this.scheduleFull();
    if (isYamlFileName(path.basename(p))) {
      this.pending.add(p);
      this.debouncer.push(undefined, { leading: event === "rename" });
      return;
    }
    // Hidden entries are never read (listYamlTree); another name matters only as a new directory.
    if (path.basename(p).startsWith(".")) return;
    if (isDirectory(p)) this.scheduleFull();
  }

  private scheduleFull(): void {
    if (this.stopped) return;
    this.fullScan = true;
    this.debouncer.push(undefined, { leading: false });
  }

  private async scan(initial: boolean): Promise<void> {
    if (this.stopped && !initial) return;
    const named = [...this.pending];
    this.pending.clear();
    if (!initial && !this.fullScan && (await this.scanNamed(named))) return;
    this.fullScan = false;
    const forced = new Set(named);
    const touched: string[] = [];

    let files: string[];
    try {
      const tree = await listYamlTree(this.dir);
      files = tree.files;
      this.links = tree.links;
      if (this.watchDirs(tree.dirs)) this.scheduleFull();
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
    const sigs = await signaturesOf(files);
    for (const [i, file] of files.entries()) {
      const sig = sigs[i];
      if (sig === undefined) continue; // vanished between listing and stat: handled by the next scan's listing
      if (!forced.has(file) && this.signatures.get(file) === sig && this.state.has(file)) continue;
      this.loaded(await loadFile(file), sig, touched);
    }
    for (const file of this.state.knownFiles()) {
      if (present.has(file)) continue;
      this.state.remove(file);
      this.signatures.delete(file);
      touched.push(file);
    }
    this.deliver(initial, touched);
  }

  /**
   * Re-read just the files named by events, in the tree's order (a duplicate's first definition
   * wins, as in a full scan). Returns false when that is not enough: a name turned out to be a
   * symlink or a directory, so the whole tree is listed instead.
   */
  private async scanNamed(files: readonly string[]): Promise<boolean> {
    const touched: string[] = [];
    let turnStart = performance.now();
    for (const file of [...files].sort(treeOrder)) {
      // Read in this turn (a few small local files), but a storm of them yields now and then.
      if (performance.now() - turnStart > NAMED_SLICE_MS) {
        await nextTurn();
        turnStart = performance.now();
      }
      let st: Stats;
      try {
        st = lstatSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT" || !this.state.has(file)) continue;
        this.state.remove(file);
        this.signatures.delete(file);
        touched.push(file);
        continue;
      }
      if (!st.isFile()) return false; // the full scan reads every named file again, in order
      this.loaded(loadFileSync(file), signature(st), touched);
    }
    this.deliver(false, touched);
    return true;
  }

  private loaded(load: FileLoad, sig: string, touched: string[]): void {
    const file = load.file;
    this.signatures.set(file, sig);
    this.state.update(load);
    touched.push(file);
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

/** The longest turn the reading of files named by events takes before it yields. */
const NAMED_SLICE_MS = 10;

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Stats at once, this many in flight: one after another, 1000 files took 50–300 ms on a busy machine. */
const STAT_CONCURRENCY = 64;

function signature(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** Each file's signature (symlinks followed), undefined for a file gone since it was listed. */
async function signaturesOf(files: readonly string[]): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) out[i] = await stat(files[i]!).then(signature, () => undefined);
  };
  await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, files.length) }, worker));
  return out;
}

/** The order listYamlTree walks in: entries of a directory by name, each directory where its name sorts. */
function treeOrder(a: string, b: string): number {
  const x = a.split(path.sep);
  const y = b.split(path.sep);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return x.length - y.length;
}

function isDirectory(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}
