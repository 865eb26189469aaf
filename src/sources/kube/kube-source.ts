/**
 * Kubernetes as a config source: one reflector (list + watch) per collection of every kind in the
 * registry (api/kinds.ts) that the server serves, in the first of the registry's versions it serves;
 * every object validated by the same parse code as the file source, and store events for what
 * changed in a way that matters.
 *
 * - Nothing is delivered before every reflector has listed once (`synced`); the first update is
 *   the complete initial state (`initial: true`).
 * - The source keeps what it last delivered, per key. Every change (watch event, relist after 410,
 *   a namespace entering or leaving the discovery scope) is reconciled against that, so a relist
 *   emits deletes for vanished objects and nothing for unchanged ones.
 * - Objects are compared after dropping what never matters (the registry's `relevantPart`:
 *   resourceVersion, managedFields, Pod conditions, the status of Istio objects): a Pod status
 *   heartbeat produces no event.
 * - An invalid new version of an object keeps its last valid version served; the diagnostic names
 *   the object and the field.
 * - Scope: `watchNamespaces` (watch only these; namespaced collections are watched per namespace)
 *   and `discoverySelectors` (namespaces whose labels match any selector; others are ignored).
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import { deepEqual } from "../../api/equal.js";
import { apiKindOf, apiVersion, kindInfo, relevantPart, type KindInfo } from "../../api/kinds.js";
import { objectKey, type InputKind, type ObjectKey, type StoredObject } from "../../api/objects.js";
import { parseObject } from "../../api/parse.js";
import type { StoreEvent } from "../../store/store.js";
import type { KubeClient } from "./client.js";
import { discoverKinds, settledKinds, type Discovery } from "./discovery.js";
import type { SourceUpdate } from "../source-update.js";
import { Reflector, type RawObject } from "./reflector.js";
import { anyMatches, type Selector } from "./selectors.js";

export const KUBE_SOURCE = "kube";

export interface KubeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface KubeSourceOptions {
  readonly client: KubeClient;
  readonly onUpdate: (u: SourceUpdate) => void;
  readonly logger: KubeLogger;
  /** Only these namespaces (empty or undefined: all). */
  readonly watchNamespaces?: readonly string[];
  /** Namespaces in scope must match one of these (empty: all). */
  readonly discoverySelectors?: readonly Selector[];
  readonly name?: string;
  /** Reflector tuning (tests use short values). */
  readonly watchTimeoutSeconds?: number;
  readonly stallGraceMs?: number;
  readonly relistIntervalMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** How often kinds the server did not serve are looked for again (default 30 s): a CRD installed later gets watched. */
  readonly rediscoverMs?: number;
}

export interface KubeSourceHealth {
  /** Every collection's last list or watch reached the server. */
  readonly reachable: boolean;
  /** Since when (epoch ms) the oldest failing collection has failed. */
  readonly since?: number;
  readonly failing: ReadonlyArray<{ readonly path: string; readonly since: number; readonly error: string }>;
}

/** An object as the API server holds it, reduced to what status writing needs. */
export interface KubeObjectInfo {
  readonly key: ObjectKey;
  readonly kind: InputKind;
  readonly apiVersion: string;
  readonly namespace?: string;
  readonly name: string;
  readonly generation?: number;
  readonly uid?: string;
  /** `status` as last seen on the server (Istio kinds). */
  readonly status?: unknown;
  /** Collection path of the object (for /status writes). */
  readonly path: string;
}

interface Entry {
  readonly info: KubeObjectInfo;
  /** Last valid version (kept when a newer version is invalid). */
  readonly stored?: StoredObject;
  readonly diagnostics: readonly Diagnostic[];
}

interface Collection {
  readonly info: KindInfo;
  readonly kind: InputKind;
  readonly apiVersion: string;
  /** Path prefix for objects (`/api/v1` or `/apis/<group>/<version>`). */
  readonly base: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** The watched collection (cluster-wide or one namespace). */
  readonly path: string;
  readonly keys: Set<ObjectKey>;
  readonly reflector: Reflector;
}

export class KubeSource {
  readonly name: string;
  private readonly entries = new Map<ObjectKey, Entry>();
  private readonly emitted = new Map<ObjectKey, StoredObject>();
  private readonly collections: Collection[] = [];
  private readonly dirty = new Set<ObjectKey>();
  private fullReconcile = false;
  private flushScheduled = false;
  private started = false;
  private stopped = false;
  private initialDelivered = false;
  private lastDiagnostics: readonly Diagnostic[] = [];
  private readonly namespaceLabels = new Map<string, Readonly<Record<string, string>> | undefined>();
  private readonly watchNamespaces: ReadonlySet<string> | undefined;
  /** Kinds the server did not serve at the last discovery. */
  private missing: readonly KindInfo[] = [];
  /** Missing kinds the last rediscovery saw only in a fallback version, and which. */
  private fallbackSeen = new Map<KindInfo, string>();
  private rediscoverTimer: NodeJS.Timeout | undefined;
  private syncedResolve!: () => void;
  private syncedReject!: (e: unknown) => void;
  /** Resolves once every collection has been listed and the initial update delivered. */
  readonly synced: Promise<void>;
  /** Observers of every delivered update (status writer, tests). */
  private readonly listeners = new Set<() => void>();

  constructor(private readonly opts: KubeSourceOptions) {
    this.name = opts.name ?? KUBE_SOURCE;
    this.watchNamespaces = opts.watchNamespaces && opts.watchNamespaces.length > 0 ? new Set(opts.watchNamespaces) : undefined;
    this.synced = new Promise((resolve, reject) => {
      this.syncedResolve = resolve;
      this.syncedReject = reject;
    });
    this.synced.catch(() => undefined);
  }

  get isSynced(): boolean {
    return this.initialDelivered;
  }

  /**
   * Starts in the background: discovers the Istio API version (retrying while the API server is
   * unreachable), then starts every reflector. Returns at once; `synced` says when the first
   * complete state was delivered.
   */
  start(): void {
    if (this.started) throw new Error("KubeSource already started");
    this.started = true;
    void this.boot().catch((e: unknown) => this.syncedReject(e));
  }

  private async boot(): Promise<void> {
    const discovery = await this.discover();
    if (!discovery || this.stopped) return;
    for (const w of discovery.watched) this.add(w.info, w.version);
    for (const c of this.collections) c.reflector.start();
    await Promise.all(this.collections.map((c) => c.reflector.synced));
    this.fullReconcile = true;
    this.flush();
    this.missing = discovery.missing;
    this.scheduleRediscovery();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rediscoverTimer);
    await Promise.all(this.collections.map((c) => c.reflector.stop()));
  }

  /** Kinds the server did not serve are looked for again, as istiod notices a CRD installed after it started. */
  private scheduleRediscovery(): void {
    if (this.stopped || this.missing.length === 0) return;
    this.rediscoverTimer = setTimeout(() => void this.rediscover(), this.opts.rediscoverMs ?? 30_000);
    this.rediscoverTimer.unref();
  }

  private async rediscover(): Promise<void> {
    let d: Discovery;
    try {
      d = await discoverKinds(this.opts.client);
    } catch (err) {
      this.opts.logger.warn({ err: String(err) }, "Kubernetes API discovery failed; looking for the missing kinds again later");
      return this.scheduleRediscovery();
    }
    if (this.stopped) return;
    const { found, fallbackSeen } = settledKinds(
      d.watched.filter((w) => this.missing.includes(w.info)),
      this.fallbackSeen,
    );
    this.fallbackSeen = fallbackSeen;
    if (found.length > 0) {
      const before = this.collections.length;
      for (const w of found) this.add(w.info, w.version);
      this.missing = this.missing.filter((k) => !found.some((w) => w.info === k));
      this.opts.logger.info(
        { watched: found.map((w) => `${w.info.kind} ${apiVersion(w.info, w.version)}`) },
        "these kinds are now served by the cluster; watching",
      );
      // Their first list delivers their objects like any change.
      for (const c of this.collections.slice(before)) c.reflector.start();
    }
    this.scheduleRediscovery();
  }

  /** Relist every collection now (a forced resync; tests use it to prove convergence). */
  relistAll(): void {
    for (const c of this.collections) c.reflector.relist("requested");
  }

  /** Re-watch every collection from a version the server no longer has (tests: provokes 410 Gone). */
  expireWatches(resourceVersion = "1"): void {
    for (const c of this.collections) c.reflector.rewatchFrom(resourceVersion);
  }

  /**
   * Whether the API server answers: the collections whose last list or watch failed, since when
   * and why. While some do, what is served is the last state seen (degraded, still serving).
   */
  health(): KubeSourceHealth {
    const failing = this.collections.flatMap((c) => {
      const f = c.reflector.failure;
      return f ? [{ path: c.path, since: f.since, error: f.error }] : [];
    });
    if (failing.length === 0) return { reachable: true, failing };
    return { reachable: false, since: Math.min(...failing.map((f) => f.since)), failing };
  }

  /** One collection reached the server again: the others stop waiting out their backoff and retry now. */
  private recovered(coll: Collection, since: number): void {
    const fields = { kind: coll.kind, path: coll.path, unreachableMs: Date.now() - since };
    if (this.health().reachable) this.opts.logger.info(fields, "kubernetes API answers again; every collection is back");
    else this.opts.logger.debug(fields, "kubernetes API answers again for this collection");
    for (const c of this.collections) if (c !== coll) c.reflector.retryNow();
  }

  /** Reflector counters per collection. */
  stats(): Record<string, Reflector["stats"]> {
    const out: Record<string, Reflector["stats"]> = {};
    for (const c of this.collections) out[c.path] = c.reflector.stats;
    return out;
  }

  diagnostics(): readonly Diagnostic[] {
    return this.lastDiagnostics;
  }

  /** The objects this source currently serves. */
  objects(): StoredObject[] {
    return [...this.emitted.values()];
  }

  /**
   * Objects in scope whose kind gets status written, as the server holds them (valid or not):
   * those with Istio's status shape (findings), or with the Gateway API's (conditions).
   */
  statusObjects(format: "istio" | "gateway-api" = "istio"): KubeObjectInfo[] {
    const out: KubeObjectInfo[] = [];
    for (const e of this.entries.values()) {
      const info = kindInfo(e.info.kind);
      if (info?.status && (info.statusFormat ?? "istio") === format && this.visible(e.info)) out.push(e.info);
    }
    return out;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Which kinds the server serves, in which version; retried while the API server is unreachable. */
  private async discover(): Promise<Discovery | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const d = await discoverKinds(this.opts.client);
        if (d.missing.length > 0)
          this.opts.logger.warn(
            { kinds: d.missing.map((k) => `${k.plural}.${k.group}`) },
            "these kinds are not served by the cluster (apply deploy/crds.yaml); they are watched once their CRD is installed",
          );
        this.opts.logger.info({ watched: d.watched.map((w) => `${w.info.kind} ${apiVersion(w.info, w.version)}`) }, "watching");
        return d;
      } catch (err) {
        if (this.stopped) return undefined;
        const wait = Math.min(30_000, 500 * 2 ** attempt);
        this.opts.logger.warn({ err: String(err), retryInMs: wait }, "Kubernetes API discovery failed; retrying");
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private add(info: KindInfo, version: string): void {
    const { kind, plural, namespaced } = info;
    const query = info.listQuery;
    const base = info.group === "" ? `/api/${version}` : `/apis/${info.group}/${version}`;
    const scopes: Array<string | undefined> = namespaced && this.watchNamespaces ? [...this.watchNamespaces] : [undefined];
    for (const ns of scopes) {
      const keys = new Set<ObjectKey>();
      const path = ns ? `${base}/namespaces/${ns}/${plural}` : `${base}/${plural}`;
      const coll: Collection = {
        info,
        kind,
        apiVersion: apiVersion(info, version),
        base,
        plural,
        namespaced,
        path,
        keys,
        reflector: new Reflector({
          client: this.opts.client,
          path,
          ...(query ? { query } : {}),
          ...(this.opts.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: this.opts.watchTimeoutSeconds } : {}),
          ...(this.opts.stallGraceMs !== undefined ? { stallGraceMs: this.opts.stallGraceMs } : {}),
          ...(this.opts.relistIntervalMs !== undefined ? { relistIntervalMs: this.opts.relistIntervalMs } : {}),
          ...(this.opts.backoffInitialMs !== undefined ? { backoffInitialMs: this.opts.backoffInitialMs } : {}),
          ...(this.opts.backoffMaxMs !== undefined ? { backoffMaxMs: this.opts.backoffMaxMs } : {}),
          handlers: {
            replace: (items) => this.replace(coll, items),
            event: (type, obj) => this.event(coll, type, obj),
            error: (err, what, repeat) => {
              const fields = { err: err instanceof Error ? err.message : String(err), kind };
              // Every collection retries on its own: one warning each when the trouble starts, not one per attempt.
              if (repeat) this.opts.logger.debug(fields, `kubernetes ${what} failed; retrying`);
              else this.opts.logger.warn(fields, `kubernetes ${what} failed; retrying`);
            },
            recovered: (since) => this.recovered(coll, since),
            listed: (reason, count) => {
              if (reason !== "initial") this.opts.logger.info({ kind, path, reason, count }, "relisted");
            },
          },
        }),
      };
      this.collections.push(coll);
    }
  }

  private keyOfRaw(coll: Collection, raw: RawObject): { key: ObjectKey; name: string; namespace: string | undefined } | undefined {
    const meta = raw["metadata"] as { name?: string; namespace?: string } | undefined;
    if (!meta?.name) return undefined;
    const namespace = coll.namespaced ? (meta.namespace ?? "default") : undefined;
    return { key: objectKey(coll.kind, namespace, meta.name), name: meta.name, namespace };
  }

  private upsert(coll: Collection, raw: RawObject): ObjectKey | undefined {
    // List items carry no apiVersion/kind; watch events do. Set both from the collection.
    const full: RawObject = { ...raw, apiVersion: coll.apiVersion, kind: apiKindOf(coll.info) };
    const id = this.keyOfRaw(coll, full);
    if (!id) return undefined;
    const meta = full["metadata"] as { generation?: number; uid?: string };
    const info: KubeObjectInfo = {
      key: id.key,
      kind: coll.kind,
      apiVersion: coll.apiVersion,
      ...(id.namespace ? { namespace: id.namespace } : {}),
      name: id.name,
      ...(typeof meta.generation === "number" ? { generation: meta.generation } : {}),
      ...(meta.uid ? { uid: meta.uid } : {}),
      ...(full["status"] !== undefined ? { status: full["status"] } : {}),
      path: `${coll.base}/${coll.namespaced ? `namespaces/${id.namespace}/` : ""}${coll.plural}/${id.name}`,
    };
    const prev = this.entries.get(id.key);
    const r = parseObject({ value: relevantPart(coll.info, full) });
    let entry: Entry;
    if (r.status === "valid") {
      // keep the previous StoredObject identity when nothing relevant changed
      const stored = prev?.stored && deepEqual(prev.stored, r.stored) ? prev.stored : r.stored;
      entry = { info, stored, diagnostics: r.diagnostics };
    } else {
      entry = { info, ...(prev?.stored ? { stored: prev.stored } : {}), diagnostics: r.diagnostics };
    }
    this.entries.set(id.key, entry);
    coll.keys.add(id.key);
    if (coll.kind === "Namespace") this.namespaceChanged(id.name, (full["metadata"] as { labels?: Record<string, string> }).labels);
    return id.key;
  }

  private remove(coll: Collection, key: ObjectKey): void {
    const e = this.entries.get(key);
    this.entries.delete(key);
    coll.keys.delete(key);
    if (coll.kind === "Namespace" && e) this.namespaceChanged(e.info.name, undefined, true);
  }

  private namespaceChanged(name: string, labels: Readonly<Record<string, string>> | undefined, deleted = false): void {
    const before = this.namespaceLabels.has(name) ? this.namespaceInScope(name) : undefined;
    if (deleted) this.namespaceLabels.delete(name);
    else this.namespaceLabels.set(name, labels ?? {});
    const after = this.namespaceLabels.has(name) ? this.namespaceInScope(name) : undefined;
    if (before !== after && (this.opts.discoverySelectors?.length ?? 0) > 0) this.fullReconcile = true;
  }

  private replace(coll: Collection, items: RawObject[]): void {
    const seen = new Set<ObjectKey>();
    for (const raw of items) {
      const k = this.upsert(coll, raw);
      if (k) seen.add(k);
    }
    for (const k of [...coll.keys]) if (!seen.has(k)) this.remove(coll, k);
    this.fullReconcile = true;
    this.schedule();
  }

  private event(coll: Collection, type: "ADDED" | "MODIFIED" | "DELETED", raw: RawObject): void {
    if (type === "DELETED") {
      const id = this.keyOfRaw(coll, { ...raw, kind: coll.kind });
      if (!id) return;
      this.remove(coll, id.key);
      this.dirty.add(id.key);
    } else {
      const k = this.upsert(coll, raw);
      if (k) this.dirty.add(k);
    }
    this.schedule();
  }

  private namespaceInScope(ns: string): boolean {
    if (this.watchNamespaces && !this.watchNamespaces.has(ns)) return false;
    const selectors = this.opts.discoverySelectors ?? [];
    if (selectors.length === 0) return true;
    // Istio: objects in a namespace that does not exist (yet) are out of scope when selectors are set.
    if (!this.namespaceLabels.has(ns)) return false;
    return anyMatches(selectors, this.namespaceLabels.get(ns));
  }

  private visible(info: KubeObjectInfo): boolean {
    const ns = info.kind === "Namespace" ? info.name : info.namespace;
    return ns === undefined || this.namespaceInScope(ns);
  }

  private schedule(): void {
    if (this.flushScheduled || this.stopped) return;
    this.flushScheduled = true;
    // coalesce the events that arrive together (one watch chunk, one relist) into one update
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.stopped) return;
    if (!this.collections.every((c) => c.reflector.hasSynced)) return; // keep collecting until everything has listed
    const keys = this.fullReconcile || !this.initialDelivered ? new Set([...this.entries.keys(), ...this.emitted.keys()]) : new Set(this.dirty);
    this.fullReconcile = false;
    this.dirty.clear();
    const events: StoreEvent[] = [];
    for (const key of keys) {
      const e = this.entries.get(key);
      const want = e && e.stored && this.visible(e.info) ? e.stored : undefined;
      const have = this.emitted.get(key);
      if (want === have) continue;
      if (want) {
        if (have && deepEqual(have, want)) continue;
        this.emitted.set(key, want);
        events.push({ type: "upsert", object: want });
      } else {
        this.emitted.delete(key);
        events.push({ type: "delete", key });
      }
    }
    const diagnostics: Diagnostic[] = [];
    for (const e of this.entries.values()) if (e.diagnostics.length > 0 && this.visible(e.info)) diagnostics.push(...e.diagnostics);
    diagnostics.sort((a, b) => diagKey(a).localeCompare(diagKey(b)));
    const diagChanged = !deepEqual(diagnostics, this.lastDiagnostics);
    this.lastDiagnostics = diagnostics;
    const initial = !this.initialDelivered;
    if (!initial && events.length === 0 && !diagChanged) return;
    this.initialDelivered = true;
    this.opts.onUpdate({ source: this.name, events, diagnostics, initial });
    if (initial) this.syncedResolve();
    for (const l of this.listeners) l();
  }
}

function diagKey(d: Diagnostic): string {
  return `${d.object?.kind ?? ""}/${d.object?.namespace ?? ""}/${d.object?.name ?? ""}/${d.path ?? ""}/${d.message}`;
}
