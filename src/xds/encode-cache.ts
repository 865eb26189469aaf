// Encoded resources by content, shared by all the views of one control plane. Most of what a view
// holds does not depend on the proxy (a service's clusters, its ClusterLoadAssignments, most route
// configurations), so views that hold the same resource find it here and encode it once; the EDS
// fast path re-encodes a touched ClusterLoadAssignment once, however many views hold it.
// Translations share JSON objects too (a sidecar's outbound side, a service's clusters): such an
// object is recognised by identity, without stringifying and hashing it again for every view.
import { encodedDigest } from "./encode.js";
import type { Resource, ResourceMap } from "./snapshot.js";
import type { TypeUrl } from "./type-urls.js";

export class EncodeCache {
  /** Per type, by the digest of the resource's JSON (which includes its name). */
  private readonly byType = new Map<TypeUrl, Map<string, Resource>>();
  /** By the JSON object encoded (translator output is never mutated); held as long as that object lives. */
  private readonly byJson = new WeakMap<object, Resource>();
  /** Per type, the maps of the last retain. */
  private readonly retained = new Map<TypeUrl, readonly ResourceMap[]>();

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
    this.retained.set(type, live);
    const kept = new Map<string, Resource>();
    for (const map of live) {
      for (const r of map.values()) {
        const d = encodedDigest(r);
        if (d !== undefined) kept.set(d, r);
      }
    }
    this.byType.set(type, kept);
  }

  size(type: TypeUrl): number {
    return this.byType.get(type)?.size ?? 0;
  }
}
