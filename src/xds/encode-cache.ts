// Encoded resources by content, shared by all the views of one control plane. Most of what a view
// holds does not depend on the proxy (a service's clusters, its ClusterLoadAssignments, most route
// configurations), so views that hold the same resource find it here and encode it once; the EDS
// fast path re-encodes a touched ClusterLoadAssignment once, however many views hold it.
// Translations share JSON objects too (a sidecar's outbound side, a service's clusters): such an
// object is recognised by identity, without stringifying and hashing it again for every view.
import { encodedDigest } from "./encode.js";
import { patchOf, type MapPatch } from "./map-patch.js";
import type { Resource, ResourceMap } from "./snapshot.js";
import type { TypeUrl } from "./type-urls.js";

export class EncodeCache {
  /** Per type, by the digest of the resource's JSON (which includes its name). */
  private readonly byType = new Map<TypeUrl, Map<string, Resource>>();
  /** By the JSON object encoded (translator output is never mutated); held as long as that object lives. */
  private readonly byJson = new WeakMap<object, Resource>();
  /** Per type, the maps of the last retain. */
  private readonly retained = new Map<TypeUrl, readonly ResourceMap[]>();
  /** Per type, how many entries of those maps hold each digest (made when a patch needs it). */
  private readonly held = new Map<TypeUrl, Map<string, number>>();
  /** Per type, the digests put since the last retain. */
  private readonly fresh = new Map<TypeUrl, string[]>();

  ofJson(json: unknown): Resource | undefined {
    return typeof json === "object" && json !== null ? this.byJson.get(json) : undefined;
  }

  putJson(json: unknown, r: Resource): void {
    if (typeof json === "object" && json !== null) this.byJson.set(json, r);
  }

  get(type: TypeUrl, digest: string): Resource | undefined {
    return this.byType.get(type)?.get(digest);
  }

  put(type: TypeUrl, digest: string, r: Resource): void {
    let m = this.byType.get(type);
    if (!m) {
      m = new Map();
      this.byType.set(type, m);
    }
    m.set(digest, r);
    const fresh = this.fresh.get(type);
    if (fresh) fresh.push(digest);
    else this.fresh.set(type, [digest]);
  }

  /**
   * Keep of `type` only what `live` (every current view's map of that type) holds: called after a
   * build, so the cache never holds more than the views do.
   */
  retain(type: TypeUrl, live: readonly ResourceMap[]): void {
    // The same maps as at the last call (maps are immutable): what they hold is kept already. A
    // route edit leaves every view's clusters, endpoints and listeners as they were.
    const last = this.retained.get(type);
    if (last && last.length === live.length && last.every((m, i) => m === live[i])) return;
    const fresh = this.fresh.get(type) ?? [];
    this.retained.set(type, live);
    this.fresh.delete(type);
    // Each map the same as then or patched from it (an endpoint change): the counts follow what
    // the patches replaced, and what was put since and is held by none is dropped.
    const patches = last && last.length === live.length ? live.map((m, i) => (m === last[i] ? null : patchFrom(m, last[i]!))) : undefined;
    if (last && patches?.every((p) => p !== undefined)) {
      let held = this.held.get(type);
      if (!held) this.held.set(type, (held = countHeld(last)));
      const kept = this.byType.get(type) ?? new Map<string, Resource>();
      for (const p of patches) {
        for (const [old, r] of p?.replaced ?? []) {
          release(held, kept, encodedDigest(old));
          const d = encodedDigest(r);
          if (d === undefined) continue;
          held.set(d, (held.get(d) ?? 0) + 1);
          kept.set(d, r);
        }
      }
      for (const d of fresh) if (!held.has(d)) kept.delete(d);
      this.byType.set(type, kept);
      return;
    }
    const kept = new Map<string, Resource>();
    for (const map of live) {
      for (const r of map.values()) {
        const d = encodedDigest(r);
        if (d !== undefined) kept.set(d, r);
      }
    }
    this.byType.set(type, kept);
    // Counted when a patch first needs it: only the endpoint type is patched.
    this.held.delete(type);
  }

  size(type: TypeUrl): number {
    return this.byType.get(type)?.size ?? 0;
  }
}

/** How many entries of `maps` hold each digest. */
function countHeld(maps: readonly ResourceMap[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const map of maps) {
    for (const r of map.values()) {
      const d = encodedDigest(r);
      if (d !== undefined) counts.set(d, (counts.get(d) ?? 0) + 1);
    }
  }
  return counts;
}

/** How `map` was patched from `from`, if it was. */
function patchFrom(map: ResourceMap, from: ResourceMap): MapPatch | undefined {
  const p = patchOf(map);
  return p?.base.deref() === from ? p : undefined;
}

/** One entry fewer holds `digest`; held by none, it is dropped. */
function release(held: Map<string, number>, kept: Map<string, Resource>, digest: string | undefined): void {
  if (digest === undefined) return;
  const n = (held.get(digest) ?? 0) - 1;
  if (n > 0) held.set(digest, n);
  else {
    held.delete(digest);
    kept.delete(digest);
  }
}
