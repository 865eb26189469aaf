// Per-proxy state kept as "a shared map plus own differences" must behave exactly like a plain
// Set / Map, whatever the sequence of operations and re-basings: checked against those models.
import { fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeltaDiscoveryResponseSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { contentVersion } from "../../../src/xds/encode.js";
import { KnownVersions } from "../../../src/xds/known.js";
import { mapDiff } from "../../../src/xds/map-diff.js";
import { patchMap } from "../../../src/xds/map-patch.js";
import { NameSet } from "../../../src/xds/name-set.js";
import type { Resource, ResourceMap } from "../../../src/xds/snapshot.js";
import { LayeredMap } from "../../../src/xds/layered-map.js";
import { deltaBody, deltaResponse, sharedSotwBody, sotwBody, wholeDeltaResponse, wholeSotwResponse, withNonce } from "../../../src/xds/wire.js";

const NAMES = ["a", "b", "c", "d", "e"];

function resourceMap(entries: readonly (readonly [string, number])[]): ResourceMap {
  const m = new Map<string, Resource>();
  for (const [name, v] of entries) {
    const body = new TextEncoder().encode(`${name}@${v}`);
    m.set(name, { name, version: contentVersion(body), body });
  }
  return m;
}

const arbMap = fc.uniqueArray(fc.tuple(fc.constantFrom(...NAMES), fc.integer({ min: 0, max: 2 })), { selector: ([n]) => n }).map(resourceMap);
const arbName = fc.constantFrom(...NAMES, "zz");

type NameOp = { op: "add" | "delete"; name: string } | { op: "adopt"; map: ResourceMap } | { op: "clear" };
const nameOp: fc.Arbitrary<NameOp> = fc.oneof(
  fc.record({ op: fc.constantFrom("add" as const, "delete" as const), name: arbName }),
  fc.record({ op: fc.constant("adopt" as const), map: arbMap }),
  fc.constant({ op: "clear" as const }),
);

describe("NameSet", () => {
  it("behaves as a Set through adds, deletes and adoptions", () => {
    fc.assert(
      fc.property(fc.array(nameOp, { maxLength: 30 }), (ops) => {
        const set = new NameSet();
        const model = new Set<string>();
        for (const o of ops) {
          if (o.op === "add") {
            set.add(o.name);
            model.add(o.name);
          } else if (o.op === "delete") expect(set.delete(o.name)).toBe(model.delete(o.name));
          else if (o.op === "adopt") set.adopt(o.map);
          else {
            set.clear();
            model.clear();
          }
          expect(set.size).toBe(model.size);
          expect([...set].sort()).toEqual([...model].sort());
          for (const n of [...NAMES, "zz"]) expect(set.has(n)).toBe(model.has(n));
        }
      }),
    );
  });
});

type KnownOp = { op: "set"; name: string; version: string } | { op: "delete"; name: string } | { op: "rebase"; map: ResourceMap };
const knownOp: fc.Arbitrary<KnownOp> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), name: arbName, version: fc.constantFrom("v1", "v2") }),
  fc.record({ op: fc.constant("delete" as const), name: arbName }),
  fc.record({ op: fc.constant("rebase" as const), map: arbMap }),
);

describe("KnownVersions", () => {
  it("behaves as a Map through sets, deletes and re-basings", () => {
    fc.assert(
      fc.property(fc.array(knownOp, { maxLength: 30 }), arbMap, (ops, probe) => {
        const known = new KnownVersions();
        const model = new Map<string, string>();
        for (const o of ops) {
          if (o.op === "set") {
            known.set(o.name, o.version);
            model.set(o.name, o.version);
          } else if (o.op === "delete") {
            known.delete(o.name);
            model.delete(o.name);
          } else {
            known.rebase(o.map);
            model.clear();
            for (const r of o.map.values()) model.set(r.name, r.version);
          }
          expect(known.size).toBe(model.size);
          expect([...known.keys()].sort()).toEqual([...model.keys()].sort());
          for (const n of [...NAMES, "zz"]) expect(known.get(n)).toBe(model.get(n));
          expect([...known.missingFrom(probe)].sort()).toEqual([...model.keys()].filter((n) => !probe.has(n)).sort());
          const held = known.heldMap();
          if (held) expect(new Map([...held.values()].map((r) => [r.name, r.version]))).toEqual(model);
        }
      }),
    );
  });
});

describe("mapDiff", () => {
  it("lists what a holder of one map needs to hold the other", () => {
    fc.assert(
      fc.property(arbMap, arbMap, (from, to) => {
        const d = mapDiff(from, to);
        expect(d.changed.map((r) => r.name)).toEqual([...to.values()].filter((r) => from.get(r.name)?.version !== r.version).map((r) => r.name));
        expect(d.removed).toEqual([...from.keys()].filter((n) => !to.has(n)));
        expect(d.added).toBe([...to.keys()].filter((n) => !from.has(n)).length);
        expect(mapDiff(from, to)).toBe(d); // computed once per pair
      }),
    );
  });

  it("of a map patched from another, takes what the patch replaced, without walking the map", () => {
    const sorted = (n: number): (readonly [string, number])[] => Array.from({ length: n }, (_, i) => [`r${String(i).padStart(3, "0")}`, 0] as const);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.uniqueArray(fc.nat(299), { minLength: 1, maxLength: 20 }), (n, picks) => {
        class Counting extends Map<string, Resource> {
          reads = 0;
          override get(name: string): Resource | undefined {
            this.reads++;
            return super.get(name);
          }
        }
        const from = new Counting(resourceMap(sorted(n)));
        const fresh = resourceMap(picks.filter((i) => i < n).map((i) => [`r${String(i).padStart(3, "0")}`, 1 + (i % 2)] as const));
        const to = patchMap(from, fresh.values());
        fc.pre(to !== from);
        from.reads = 0;
        const d = mapDiff(from, to);
        expect(from.reads).toBe(0);
        expect(d.changed.map((r) => r.name)).toEqual([...to.values()].filter((r) => from.get(r.name)?.version !== r.version).map((r) => r.name));
        expect(d.removed).toEqual([]);
        expect(d.added).toBe(0);
      }),
    );
  });
});

describe("shared delta bodies", () => {
  it("decode to the same response as one built for the stream", () => {
    const map = resourceMap([
      ["a", 1],
      ["b", 2],
    ]);
    const type = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    const shared = fromBinary(DeltaDiscoveryResponseSchema, withNonce(deltaBody(type, "v9", map, "cp"), "n1"));
    const own = fromBinary(DeltaDiscoveryResponseSchema, deltaResponse(type, "v9", map.values(), [], "n1", "cp"));
    expect(shared).toEqual(own);
    expect(deltaBody(type, "v9", map, "cp")).toBe(deltaBody(type, "v9", map, "cp")); // built once
  });

  it("are one for maps of equal content, as the outbound sides of namespaces hold", () => {
    const type = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
    const entries = [
      ["a", 1],
      ["b", 2],
    ] as const;
    const one = resourceMap(entries);
    const twin = new Map(one);
    expect(deltaBody(type, "v9", twin, "cp")).toBe(deltaBody(type, "v9", one, "cp"));
    expect(sharedSotwBody(type, "v9", twin, "cp")).toBe(sharedSotwBody(type, "v9", one, "cp"));
    const other = resourceMap([...entries, ["c", 1]]);
    expect(deltaBody(type, "v9", other, "cp")).not.toBe(deltaBody(type, "v9", one, "cp"));
    // A view's part of a map (VHDS virtual hosts of the route configurations it holds) is its own content.
    const part = new Map([...one].slice(0, 1));
    expect(fromBinary(DeltaDiscoveryResponseSchema, withNonce(deltaBody(type, "v9", part, "cp"), "n")).resources.map((r) => r.name)).toEqual(["a"]);
  });
});

describe("whole responses of a view's own resources laid over a shared map", () => {
  const type = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  const names = fc.uniqueArray(fc.constantFrom("a", "b", "c", "d", "e", "f", "g"), { maxLength: 7 }).map((n) => [...n].sort());
  const layered = fc.tuple(names, names, fc.integer({ min: 0, max: 3 })).map(([s, o, v]) => {
    const shared = resourceMap(s.map((n) => [n, 0] as const));
    const own = resourceMap(o.map((n) => [n, v] as const));
    return new LayeredMap(shared, own);
  });

  it("are byte for byte the responses built resource by resource, hidden names left out", () => {
    fc.assert(
      fc.property(layered, (map) => {
        const plain = new Map(map); // the same resources, in the same order, as one map
        const delta = wholeDeltaResponse(type, "v1", map, "cp", "n1");
        expect(delta).toEqual(withNonce(deltaBody(type, "v1", plain, "cp"), "n1"));
        expect(fromBinary(DeltaDiscoveryResponseSchema, delta)).toEqual(
          fromBinary(DeltaDiscoveryResponseSchema, deltaResponse(type, "v1", plain.values(), [], "n1", "cp")),
        );
        expect(wholeSotwResponse(type, "v1", map, "cp", "n1")).toEqual(withNonce(sotwBody(type, "v1", plain.values(), "cp"), "n1"));
      }),
    );
  });

  it("frame the shared map once for every view laid over it", () => {
    const shared = resourceMap([
      ["a", 1],
      ["c", 1],
    ]);
    const one = wholeDeltaResponse(type, "v1", new LayeredMap(shared, resourceMap([["b", 1]])), "cp", "n1");
    const two = wholeDeltaResponse(type, "v1", new LayeredMap(shared, resourceMap([["d", 1]])), "cp", "n1");
    const decoded = (b: Uint8Array): string[] => fromBinary(DeltaDiscoveryResponseSchema, b).resources.map((r) => r.name);
    expect(decoded(one)).toEqual(["a", "b", "c"]);
    expect(decoded(two)).toEqual(["a", "c", "d"]);
  });
});

describe("mapDiff from nothing to a view's own layering", () => {
  it("is worked out for each stream, not kept for the view's life", () => {
    const view = new LayeredMap(
      resourceMap([
        ["a", 1],
        ["c", 1],
      ]),
      resourceMap([["b", 1]]),
    );
    const d = mapDiff(new Map(), view);
    expect(d.changed.map((r) => r.name)).toEqual(["a", "b", "c"]);
    expect(d.added).toBe(3);
    expect(mapDiff(new Map(), view)).not.toBe(d);
  });
});
