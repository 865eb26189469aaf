// The last N pushes, for "what did the last apply change in each proxy?": when, why (the objects
// of the change set), which proxies, and per type which resources were added, changed or removed;
// and, on request, the diff of one changed resource. Memory stays bounded: N records, each with a
// capped list of proxies and names; resource bodies are kept by content hash while a kept record
// names them, within a count and byte budget (the bytes are those the snapshots already hold, not
// copies), so a diff is available while both versions are still in it. Secret bodies are never kept.
import type { ViewChange } from "../pipeline/control-plane.js";
import { mapDiff } from "../xds/map-diff.js";
import type { ShortType } from "../xds/observer.js";
import { unreadBytes } from "../xds/encode.js";
import type { Resource, ResourceMap } from "../xds/snapshot.js";
import { SHORT_TYPE, TYPE_URL, type TypeUrl } from "../xds/type-urls.js";
import { jsonDiff } from "./json-diff.js";
import { decodeResource, type ConfigType } from "./proxy-config/held.js";

export const DEFAULT_HISTORY_SIZE = 100;
/** Names listed per type per group, and proxies per group, before "and N more". */
const MAX_NAMES = 500;
const MAX_PROXIES = 200;
const DEFAULT_MAX_BODIES = 2000;
/**
 * Old bodies are held by the history alone once the proxies moved on: under churn the budget
 * fills and stays full, so it is part of the server's steady memory (the 500 MB target).
 */
const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** VHDS virtual hosts are not listed: the route configuration they belong to shows the change. */
const CONFIG_TYPE: Readonly<Record<Exclude<TypeUrl, typeof TYPE_URL.virtualHost>, ConfigType>> = {
  [TYPE_URL.cluster]: "clusters",
  [TYPE_URL.endpoint]: "endpoints",
  [TYPE_URL.listener]: "listeners",
  [TYPE_URL.route]: "routes",
  [TYPE_URL.secret]: "secrets",
};

export interface PushTrigger {
  /** `kind/namespace/name` of each object that changed (the change sets of the debounced batch). */
  readonly objects: readonly string[];
  /** Only endpoints were rebuilt (EDS fast path). */
  readonly fastPath: boolean;
}

export interface TypeChanges {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /** Names left out of the lists above (they are capped). */
  readonly more?: number;
}

/** Proxies that got the same change (one or more views), and what changed for them. */
export interface PushGroup {
  readonly proxies: readonly string[];
  readonly proxyCount: number;
  readonly types: Partial<Record<ShortType, TypeChanges>>;
}

export interface PushRecord {
  readonly id: number;
  readonly at: string;
  readonly trigger: PushTrigger;
  readonly groups: readonly PushGroup[];
}

/** What a record keeps to answer a diff: per `short/name`, the content hashes before and after. */
type Versions = Map<string, { readonly from?: string; readonly to?: string }>;

export interface ResourceDiff {
  readonly push: number;
  readonly type: ShortType;
  readonly name: string;
  readonly from?: string;
  readonly to?: string;
  readonly diff: string;
  /** Why the diff cannot be shown in full, when it cannot. */
  readonly note?: string;
}

/**
 * Bodies by version, each held by the records that name it: a body goes when the last record
 * naming it goes, or earlier (oldest first) when the budget is exceeded. A route configuration's
 * body is put together from its virtual hosts when first read (route-delivery.ts), and VHDS
 * streams never read it: such a body is held as its resource and read only when a diff needs it,
 * so that recording an edit copies no whole route configuration per shared part; until then it
 * is counted at what it keeps (encode.ts unreadBytes).
 */
class BodyStore {
  /** `bytes`: the body's length once read; until then, what the unread resource keeps. */
  private readonly bodies = new Map<string, { readonly resource: Resource; body: Uint8Array | undefined; holders: number; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly maxBodies: number,
    private readonly maxBytes: number,
  ) {}

  hold(r: Resource): void {
    const kept = this.bodies.get(r.version);
    if (kept) {
      kept.holders++;
      return;
    }
    // Counted in the budget either way: an unread route configuration keeps its parts (~32 bytes
    // per virtual host), and one a stream read keeps its bytes (~1 MB at 1000 services) as long as
    // it is held; counted as nothing, 2000 of them could be held.
    const unread = unreadBytes(r);
    const body = unread === undefined ? r.body : undefined;
    const bytes = body?.length ?? unread ?? 0;
    this.bodies.set(r.version, { resource: r, body, holders: 1, bytes });
    this.bytes += bytes;
    this.trim();
  }

  release(version: string): void {
    const kept = this.bodies.get(version);
    if (kept && --kept.holders === 0) this.drop(version);
  }

  get(version: string | undefined): Uint8Array | undefined {
    const kept = version === undefined ? undefined : this.bodies.get(version);
    if (!kept) return undefined;
    if (kept.body === undefined) {
      kept.body = kept.resource.body;
      this.bytes += kept.body.length - kept.bytes;
      kept.bytes = kept.body.length;
      this.trim(version);
    }
    return kept.body;
  }

  /** Bodies kept, and their bytes (an unread one's: what it keeps). */
  get size(): { bodies: number; bytes: number } {
    return { bodies: this.bodies.size, bytes: this.bytes };
  }

  /** Drop the oldest bodies (but `keep`) while over the budget. */
  private trim(keep?: string): void {
    for (const k of this.bodies.keys()) {
      if (this.bodies.size <= this.maxBodies && this.bytes <= this.maxBytes) break;
      if (k !== keep) this.drop(k);
    }
  }

  private drop(version: string): void {
    const kept = this.bodies.get(version);
    if (!kept) return;
    this.bodies.delete(version);
    this.bytes -= kept.bytes;
  }
}

/** A number per resource map, for keys of map identity (maps are immutable). */
const mapIds = new WeakMap<ResourceMap, number>();
let nextMapId = 1;

function mapsKey(maps: ViewChange["maps"]): string {
  let key = "";
  for (const [t, { from, to }] of maps) key += `${SHORT_TYPE[t]}:${mapId(from)}>${mapId(to)} `;
  return key;
}

function mapId(m: ResourceMap): number {
  let id = mapIds.get(m);
  if (id === undefined) mapIds.set(m, (id = nextMapId++));
  return id;
}

export class PushHistory {
  /** `held`: the body versions this record holds in the body store. */
  private readonly records: { record: PushRecord; versions: Versions; held: ReadonlySet<string> }[] = [];
  private readonly bodies: BodyStore;
  private nextId = 1;

  constructor(
    readonly size: number = DEFAULT_HISTORY_SIZE,
    limits: { maxBodies?: number; maxBodyBytes?: number } = {},
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`history size must be a positive integer, not ${size}`);
    this.bodies = new BodyStore(limits.maxBodies ?? DEFAULT_MAX_BODIES, limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  }

  /** Record one build's changes. `proxiesOf` names the proxies connected under a node class. */
  record(trigger: PushTrigger, changes: readonly ViewChange[], proxiesOf: (classKey: string) => readonly string[], at = new Date()): PushRecord | undefined {
    if (changes.length === 0) return undefined;
    const versions: Versions = new Map();
    // The bodies of what `versions` names in the end: views that hold other maps (each namespace's
    // part) change resources of the same name to versions of their own, and a diff names one.
    const bodies = new Map<string, readonly (Resource | undefined)[]>();
    const groups: PushGroup[] = [];
    const alike = new Map<string, { proxies: string[]; types: Partial<Record<ShortType, TypeChanges>> }>();
    // Views whose maps are the same objects changed alike, and are worked out once: every view of
    // a shared part holds its endpoint and route maps themselves. `null`: they changed nothing.
    const byMaps = new Map<string, { proxies: string[] } | null>();
    for (const change of changes) {
      const proxies = change.classes.flatMap((k) => proxiesOf(k));
      if (proxies.length === 0) continue; // a view nobody is connected to any more
      const maps = mapsKey(change.maps);
      const known = byMaps.get(maps);
      if (known !== undefined) {
        known?.proxies.push(...proxies);
        continue;
      }
      const types: Partial<Record<ShortType, TypeChanges>> = {};
      for (const [t, { from, to }] of change.maps) {
        if (t === TYPE_URL.virtualHost) continue;
        const short = SHORT_TYPE[t];
        const d = mapDiff(from, to);
        const added: string[] = [];
        const changed: string[] = [];
        let listed = 0;
        let more = 0;
        const note = (name: string, before: Resource | undefined, after: Resource | undefined): boolean => {
          const key = `${short}/${name}`;
          versions.set(key, { ...(before ? { from: before.version } : {}), ...(after ? { to: after.version } : {}) });
          if (t !== TYPE_URL.secret) bodies.set(key, [before, after]);
          if (listed++ < MAX_NAMES) return true;
          more++;
          return false;
        };
        for (const r of d.changed) {
          const before = from.get(r.name);
          if (note(r.name, before, r)) (before ? changed : added).push(r.name);
        }
        const removed = d.removed.filter((n) => note(n, from.get(n), undefined));
        if (added.length + changed.length + removed.length + more > 0) types[short] = { added, changed, removed, ...(more ? { more } : {}) };
      }
      if (Object.keys(types).length === 0) {
        byMaps.set(maps, null);
        continue;
      }
      // Views that changed alike are one group: an edit most views see the same way (an endpoint,
      // a shared route) is listed once, not once per view (a record per view grew with the fleet).
      const key = JSON.stringify(types);
      let same = alike.get(key);
      if (same) same.proxies.push(...proxies);
      else alike.set(key, (same = { proxies: [...proxies], types }));
      byMaps.set(maps, same);
    }
    for (const { proxies, types } of alike.values()) {
      proxies.sort();
      groups.push({ proxies: proxies.slice(0, MAX_PROXIES), proxyCount: proxies.length, types });
    }
    if (groups.length === 0) return undefined;
    const held = new Set<string>();
    for (const pair of bodies.values()) {
      for (const r of pair) {
        if (!r || held.has(r.version)) continue;
        held.add(r.version);
        this.bodies.hold(r);
      }
    }
    const record: PushRecord = { id: this.nextId++, at: at.toISOString(), trigger, groups };
    this.records.push({ record, versions, held });
    if (this.records.length > this.size) for (const v of this.records.shift()!.held) this.bodies.release(v);
    return record;
  }

  /** Bodies kept for diffs, and their bytes. */
  get keptBodies(): { bodies: number; bytes: number } {
    return this.bodies.size;
  }

  /** Newest first. */
  list(): PushRecord[] {
    return this.records.map((r) => r.record).reverse();
  }

  get(id: number): PushRecord | undefined {
    return this.records.find((r) => r.record.id === id)?.record;
  }

  /** The diff of a resource a push changed (every type that has the name, unless `type` is given). */
  diff(id: number, name: string, type?: ShortType): ResourceDiff[] | { error: string } {
    const entry = this.records.find((r) => r.record.id === id);
    if (!entry) return { error: `push ${id} is not in the history (it keeps the last ${this.size})` };
    const out: ResourceDiff[] = [];
    for (const [t, short] of Object.entries(SHORT_TYPE) as [TypeUrl, ShortType][]) {
      if ((type !== undefined && type !== short) || t === TYPE_URL.virtualHost) continue;
      const v = entry.versions.get(`${short}/${name}`);
      if (!v) continue;
      const base = { push: id, type: short, name, ...(v.from ? { from: v.from } : {}), ...(v.to ? { to: v.to } : {}) };
      if (t === TYPE_URL.secret) {
        out.push({ ...base, diff: "", note: "secret contents are never shown" });
        continue;
      }
      const before = this.bodies.get(v.from);
      const after = this.bodies.get(v.to);
      const missing = (v.from && !before) || (v.to && !after);
      if (missing) {
        out.push({ ...base, diff: "", note: "a version of this resource is no longer kept (the history keeps a bounded number of bodies)" });
        continue;
      }
      const ct = CONFIG_TYPE[t as keyof typeof CONFIG_TYPE];
      const a = before ? decodeResource(ct, before) : undefined;
      const b = after ? decodeResource(ct, after) : undefined;
      out.push({ ...base, diff: jsonDiff(a, b, `${name}@${v.from ?? "(none)"}`, `${name}@${v.to ?? "(none)"}`) });
    }
    if (out.length === 0) return { error: `push ${id} did not change a resource named ${name}${type ? ` of type ${type}` : ""}` };
    return out;
  }
}
