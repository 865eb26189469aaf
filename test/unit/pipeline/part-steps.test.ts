// With a view per workload, the views of one namespace share their outbound part and each adds a
// few resources of its own. A change that touches only the shared part (an endpoint change, a
// route edit) must cost work per shared part, not per view: each view takes its part's step (the
// types the part changed) without composing its every type or versioning its maps again.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import {
  destinationRule,
  endpointSlice,
  ENDPOINTS_PER_SERVICE,
  namespace,
  namespaceOf,
  pod,
  service,
  virtualService,
} from "../../../src/loadgen/mesh-objects.js";
import { ControlPlane, type BuildStats } from "../../../src/pipeline/control-plane.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import type { Snapshot } from "../../../src/xds/snapshot.js";
import { typeVersionWork } from "../../../src/xds/type-version.js";
import { PUSH_ORDER, TYPE_URL, type TypeUrl } from "../../../src/xds/type-urls.js";
import { connectNode, workloadNode } from "../../support/control-plane.js";

const N = 12;
/** A workload proxy per service: 12 views (a class each) over 4 outbound parts, one per namespace. */
const CLIENTS = N;

function objects(): StoredObject<InputObject>[] {
  const out: StoredObject<InputObject>[] = [];
  for (let k = 0; k < 4; k++) out.push({ object: namespace(k) });
  for (let i = 0; i < N; i++) {
    out.push({ object: service(i) });
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) out.push({ object: pod(i, j) });
    out.push({ object: endpointSlice(i, "full") }, { object: virtualService(i, N, "full") }, { object: destinationRule(i, "full") });
  }
  return out;
}

/** `objs` with the object of `object`'s kind and name replaced by it. */
function replaced(objs: StoredObject<InputObject>[], object: InputObject): StoredObject<InputObject>[] {
  const at = objs.findIndex((o) => o.object.kind === object.kind && o.object.metadata.name === object.metadata.name);
  if (at < 0) throw new Error(`no ${object.kind} ${object.metadata.name}`);
  const out = [...objs];
  out[at] = { object };
  return out;
}

/** A cache that counts the snapshots set. */
class CountingCache extends SnapshotCache {
  sets = 0;
  override set(key: string, snapshot: Snapshot): ReadonlySet<TypeUrl> {
    this.sets++;
    return super.set(key, snapshot);
  }
}

function controlPlane(objs: StoredObject<InputObject>[]): { cp: ControlPlane; cache: CountingCache; keys: string[] } {
  const cache = new CountingCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
  cp.update(meshInputFrom(objs), "all");
  const keys = Array.from({ length: CLIENTS }, (_, k) => connectNode(cp, workloadNode(k, N)));
  return { cp, cache, keys };
}

/** Every class's snapshot versions equal those of a control plane built from scratch on `objs`. */
function expectSameAsScratch(cache: SnapshotCache, keys: readonly string[], objs: StoredObject<InputObject>[]): void {
  const scratch = controlPlane(objs);
  for (const key of keys) for (const t of PUSH_ORDER) expect(cache.get(key)!.versions.get(t), `${key} ${t}`).toBe(scratch.cache.get(key)!.versions.get(t));
}

describe("views of a shared part", () => {
  it("take an endpoint change as their part's step: no view composed, versions hashed per resource, not per view", () => {
    const objs = objects();
    const { cp, cache, keys } = controlPlane(objs);
    const before = keys.map((k) => cache.get(k)!);
    const changed = replaced(objs, endpointSlice(5, "full", new Set([0])));
    const hashed = typeVersionWork.pairsHashed;
    const stats: BuildStats = cp.update(meshInputFrom(changed), new Set(["EndpointSlice"]));
    expect(stats).toMatchObject({ fastPath: true, views: N, classes: CLIENTS, outboundKeys: 4, outboundTranslations: 0, ownTranslations: 0, composedViews: 0 });
    // The service's changed ClusterLoadAssignments, each hashed once for the four parts and twelve views.
    const pairs = typeVersionWork.pairsHashed - hashed;
    expect(pairs).toBeGreaterThan(0);
    expect(pairs).toBeLessThanOrEqual(3);
    // The views of one part changed alike: one change per part, listing the classes of all its views.
    expect(stats.changes).toHaveLength(4);
    expect(new Set(stats.changes.map((c) => c.maps)).size).toBe(4);
    expect(stats.changes.flatMap((c) => c.classes).sort()).toEqual([...new Set(keys)].sort());
    for (const [i, key] of keys.entries()) {
      const after = cache.get(key)!;
      for (const t of PUSH_ORDER) {
        if (t === TYPE_URL.endpoint) expect(after.versions.get(t)).not.toBe(before[i]!.versions.get(t));
        else expect(after.resources.get(t), `${key} ${t}`).toBe(before[i]!.resources.get(t));
      }
    }
    // Views of one namespace hold their part's endpoint map itself.
    expect(cache.get(keys[4]!)!.resources.get(TYPE_URL.endpoint)).toBe(cache.get(keys[0]!)!.resources.get(TYPE_URL.endpoint));
    expectSameAsScratch(cache, keys, changed);
  });

  it("take a route edit as their part's step too, and compose again only when their own part changed", () => {
    const objs = objects();
    const { cp, cache, keys } = controlPlane(objs);
    const edited = replaced(objs, virtualService(5, N, "full", 70));
    const edit = cp.update(meshInputFrom(edited), new Set(["VirtualService"]));
    expect(edit).toMatchObject({ fastPath: false, outboundTranslations: 4, ownTranslations: 0, composedViews: 0 });
    expectSameAsScratch(cache, keys, edited);
    // A Service edit changes its pods' inbound side: the views of its workloads compose again.
    const renamed = replaced(edited, { ...service(5), spec: { ...service(5).spec, ports: [{ ...service(5).spec.ports![0]!, name: "http-web" }] } });
    const own = cp.update(meshInputFrom(renamed), new Set(["Service"]));
    expect(own.ownTranslations).toBeGreaterThan(0);
    expect(own.composedViews).toBeLessThanOrEqual(own.ownTranslations);
    expectSameAsScratch(cache, keys, renamed);
  });

  it("set only the classes whose view changed", () => {
    const objs = objects();
    const { cp, cache, keys } = controlPlane(objs);
    const sets = cache.sets;
    // Strict mTLS in one namespace changes its workloads' inbound sides: the other views stand.
    const strict = {
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: { name: "strict", namespace: namespaceOf(1) },
      spec: { mtls: { mode: "STRICT" } },
    } as unknown as InputObject;
    const withStrict = [...objs, { object: strict }];
    const before = keys.map((k) => cache.get(k));
    cp.update(meshInputFrom(withStrict), new Set(["PeerAuthentication"]));
    const changed = keys.filter((k, i) => cache.get(k) !== before[i]).length;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(keys.length);
    expect(cache.sets - sets).toBe(changed);
    // Nothing changed: nothing set.
    const again = cache.sets;
    cp.update(meshInputFrom(withStrict), new Set(["PeerAuthentication"]));
    expect(cache.sets).toBe(again);
  });
});
