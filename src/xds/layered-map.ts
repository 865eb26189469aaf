// One view's resources of one type as a shared map with the view's own few resources laid over
// it. A sidecar's outbound clusters are the same for every workload of its namespace, its inbound
// clusters its own: copying thousands of shared entries into a map per workload would make memory
// and time grow with workloads × resources, where this costs one small object per view.
import { EntriesMap } from "../entries-map.js";
import type { Resource, ResourceMap } from "./snapshot.js";

export class LayeredMap extends EntriesMap<string, Resource> {
  readonly size: number;

  /**
   * `shared` and `own` each iterate in name order; the layered map then does too. An own
   * resource hides a shared one of the same name.
   */
  constructor(
    readonly shared: ResourceMap,
    readonly own: ResourceMap,
  ) {
    super();
    let hidden = 0;
    for (const name of own.keys()) if (shared.has(name)) hidden++;
    this.size = shared.size + own.size - hidden;
  }

  get(name: string): Resource | undefined {
    return this.own.get(name) ?? this.shared.get(name);
  }

  override has(name: string): boolean {
    return this.own.has(name) || this.shared.has(name);
  }

  /**
   * Both layers merged by name; a shared resource an own one hides is skipped. Both are walked
   * in name order, so the own resource just passed tells whether a shared one is hidden: no
   * lookup per shared resource (a workload view walks thousands of shared clusters per response).
   */
  *entries(): MapIterator<[string, Resource]> {
    const own = this.own.entries();
    let o = own.next();
    for (const entry of this.shared) {
      let last: string | undefined;
      for (; !o.done && o.value[0] <= entry[0]; o = own.next()) {
        last = o.value[0];
        yield o.value;
      }
      if (last !== entry[0]) yield entry;
    }
    for (; !o.done; o = own.next()) yield o.value;
  }

  /** As entries(), without a generator over it (a first response's diff walks every value). */
  override *values(): MapIterator<Resource> {
    const own = this.own.entries();
    let o = own.next();
    for (const [name, r] of this.shared) {
      let last: string | undefined;
      for (; !o.done && o.value[0] <= name; o = own.next()) {
        last = o.value[0];
        yield o.value[1];
      }
      if (last !== name) yield r;
    }
    for (; !o.done; o = own.next()) yield o.value[1];
  }
}
