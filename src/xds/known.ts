// What one proxy holds of one type: name → version. Most proxies of a view hold exactly the
// view's current resource map, so instead of a map per proxy (thousands of entries each, the
// bulk of the per-proxy heap in a big mesh) a proxy keeps a reference to a shared, immutable
// ResourceMap it holds in full (`base`) plus its own differences from it.
import type { ResourceMap } from "./snapshot.js";

const EMPTY: ResourceMap = new Map();
/** In `own`: the proxy does not hold this name although `base` has it. */
const GONE = null;

export class KnownVersions {
  private base: ResourceMap = EMPTY;
  private readonly own = new Map<string, string | typeof GONE>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The shared map the proxy holds exactly, if it does (no differences of its own). */
  heldMap(): ResourceMap | undefined {
    return this.own.size === 0 ? this.base : undefined;
  }

  get(name: string): string | undefined {
    const o = this.own.get(name);
    if (o !== undefined) return o ?? undefined;
    return this.base.get(name)?.version;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, version: string): void {
    if (!this.has(name)) this.count++;
    if (this.base.get(name)?.version === version) this.own.delete(name);
    else this.own.set(name, version);
  }

  delete(name: string): void {
    if (!this.has(name)) return;
    this.count--;
    if (this.base.has(name)) this.own.set(name, GONE);
    else this.own.delete(name);
  }

  clear(): void {
    this.rebase(EMPTY);
  }

  /** The proxy now holds exactly `map` (e.g. after a response that made it so). */
  rebase(map: ResourceMap): void {
    this.base = map;
    // Clearing a Map allocates a new table even when it is empty, and a push rebases every
    // stream it answers: most hold no differences of their own.
    if (this.own.size > 0) this.own.clear();
    this.count = map.size;
  }

  *keys(): IterableIterator<string> {
    for (const name of this.base.keys()) if (this.own.get(name) !== GONE) yield name;
    for (const [name, v] of this.own) if (v !== GONE && !this.base.has(name)) yield name;
  }

  /** Names held that `map` lacks; cheap when `map` is the shared base (only own names can be missing). */
  *missingFrom(map: ResourceMap): IterableIterator<string> {
    if (map !== this.base) {
      for (const name of this.keys()) if (!map.has(name)) yield name;
      return;
    }
    for (const [name, v] of this.own) if (v !== GONE && !map.has(name)) yield name;
  }
}
