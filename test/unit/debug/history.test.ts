import { describe, expect, it } from "vitest";
import { PushHistory } from "../../../src/debug/history.js";
import type { ViewChange } from "../../../src/pipeline/control-plane.js";
import { encodeResources } from "../../../src/xds/encode.js";
import { encodeRoutes, routeAssemblyStats } from "../../../src/xds/route-delivery.js";
import type { Resource, ResourceMap } from "../../../src/xds/snapshot.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

const routes = (weight: number, extra = false): ResourceMap =>
  encodeResources(TYPE_URL.route, [
    {
      name: "9080",
      json: { name: "9080", virtualHosts: [{ name: "a", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: `c${weight}` } }] }] },
    },
    ...(extra ? [{ name: "9443", json: { name: "9443" } }] : []),
  ]);

const change = (from: ResourceMap, to: ResourceMap): ViewChange[] => [{ classes: ["k"], maps: new Map([[TYPE_URL.route, { from, to }]]) }];
const trigger = { objects: ["VirtualService/default/reviews"], fastPath: false };

/**
 * As a view's route map is: the inline form put together from its virtual hosts when first read.
 * `weight` names the cluster of virtual host 7, the one an edit changes.
 */
function vhdsRoutes(hosts: number, weight: number): ResourceMap {
  return encodeRoutes([
    {
      name: "9080",
      virtualHosts: Array.from({ length: hosts }, (_, i) => ({
        name: `svc-${i}:9080`,
        domains: [`svc-${i}`],
        routes: [{ match: { prefix: "/" }, route: { cluster: `c${i === 7 ? weight : 0}` } }],
      })),
    },
  ]).routes;
}

describe("PushHistory", () => {
  it("keeps the last N pushes, newest first, and names added, changed and removed resources", () => {
    const h = new PushHistory(2);
    let prev = routes(0);
    for (let i = 1; i <= 3; i++) {
      const next = routes(i, i === 2);
      h.record(trigger, change(prev, next), () => ["p1", "p2"]);
      prev = next;
    }
    expect(h.list().map((p) => p.id)).toEqual([3, 2]);
    expect(h.get(1)).toBeUndefined();
    expect(h.get(2)!.groups[0]).toMatchObject({ proxies: ["p1", "p2"], proxyCount: 2, types: { rds: { added: ["9443"], changed: ["9080"], removed: [] } } });
    expect(h.get(3)!.groups[0]!.types.rds).toEqual({ added: [], changed: ["9080"], removed: ["9443"] });
    // Views nobody is connected to are left out; a build that changes nothing records nothing.
    expect(h.record(trigger, change(prev, routes(9)), () => [])).toBeUndefined();
    expect(h.list()).toHaveLength(2);
  });

  it("diffs a changed resource while both bodies are kept, and says so once one is dropped", () => {
    const h = new PushHistory(10, { maxBodies: 2 });
    const a = routes(1);
    const b = routes(2);
    const c = routes(3);
    const first = h.record(trigger, change(a, b), () => ["p"])!;
    const d = h.diff(first.id, "9080");
    expect("error" in d).toBe(false);
    expect((d as { diff: string }[])[0]!.diff).toMatch(/^-\s+cluster: c1$/m);
    expect((d as { diff: string }[])[0]!.diff).toMatch(/^\+\s+cluster: c2$/m);
    h.record(trigger, change(b, c), () => ["p"]); // c pushes a out of a store of 2 bodies
    expect((h.diff(first.id, "9080") as { note?: string }[])[0]!.note).toMatch(/no longer kept/);
    expect(h.diff(99, "9080")).toEqual({ error: "push 99 is not in the history (it keeps the last 10)" });
  });
  it("keeps a body only while a kept push names it", () => {
    const h = new PushHistory(2);
    let prev = routes(0);
    for (let i = 1; i <= 50; i++) {
      const next = routes(i);
      h.record(trigger, change(prev, next), () => ["p"]);
      prev = next;
    }
    // the two kept pushes name three versions (48 → 49 → 50); every older body is let go
    expect(h.keptBodies.bodies).toBe(3);
    const [newest, older] = h.list();
    for (const p of [newest!, older!]) expect((h.diff(p.id, "9080") as { note?: string }[])[0]!.note).toBeUndefined();
    // a build nobody receives holds nothing
    h.record(trigger, change(prev, routes(99)), () => []);
    expect(h.keptBodies.bodies).toBe(3);
  });
  it("lists views that changed alike as one group of their proxies", () => {
    const h = new PushHistory(5);
    const [a, b, c] = [routes(1), routes(2), routes(3, true)];
    const views: ViewChange[] = [
      { classes: ["x"], maps: new Map([[TYPE_URL.route, { from: a, to: b }]]) },
      { classes: ["y"], maps: new Map([[TYPE_URL.route, { from: a, to: b }]]) },
      { classes: ["z"], maps: new Map([[TYPE_URL.route, { from: a, to: c }]]) },
    ];
    const proxies: Record<string, string[]> = { x: ["p3", "p1"], y: ["p2"], z: ["p4"] };
    const r = h.record(trigger, views, (k) => proxies[k] ?? [])!;
    expect(r.groups).toEqual([
      { proxies: ["p1", "p2", "p3"], proxyCount: 3, types: { rds: { added: [], changed: ["9080"], removed: [] } } },
      { proxies: ["p4"], proxyCount: 1, types: { rds: { added: ["9443"], changed: ["9080"], removed: [] } } },
    ]);
  });

  it("works out views that hold the same maps once", () => {
    const h = new PushHistory(5);
    class CountingMap extends Map<string, Resource> {
      gets = 0;
      override get(name: string): Resource | undefined {
        this.gets++;
        return super.get(name);
      }
    }
    const from = new CountingMap(routes(1));
    const to = routes(2);
    const views: ViewChange[] = Array.from({ length: 50 }, (_, i) => ({ classes: [`k${i}`], maps: new Map([[TYPE_URL.route, { from, to }]]) }));
    const r = h.record(trigger, views, (k) => [`p-${k}`])!;
    expect(r.groups).toHaveLength(1);
    expect(r.groups[0]!.proxyCount).toBe(50);
    // One changed route configuration: looked up in `from` by the diff and by its note, not once per view.
    expect(from.gets).toBeLessThanOrEqual(2);
  });

  it("keeps only the bodies its diffs name when views of other maps change a resource of one name", () => {
    // Each namespace's part has its own route configuration "9080": an edit changes each to a
    // version of its own, and the record's diff of "9080" shows one of them.
    const h = new PushHistory(5);
    const parts = 8;
    const views: ViewChange[] = Array.from({ length: parts }, (_, i) => ({
      classes: [`k${i}`],
      maps: new Map([[TYPE_URL.route, { from: routes(100 + i), to: routes(200 + i) }]]),
    }));
    const r = h.record(trigger, views, (k) => [`p-${k}`])!;
    expect(r.groups[0]!.proxyCount).toBe(parts);
    expect(h.keptBodies.bodies).toBe(2);
    const d = h.diff(r.id, "9080") as { diff: string }[];
    expect(d[0]!.diff).toMatch(/^-\s+cluster: c107$/m);
    expect(d[0]!.diff).toMatch(/^\+\s+cluster: c207$/m);
  });

  it("reads a route configuration's body only when a diff asks for it, counting what it keeps meanwhile", () => {
    const vhds = (weight: number): ResourceMap => vhdsRoutes(50, weight);
    const h = new PushHistory(5);
    const [a, b] = [vhds(1), vhds(2)];
    const assembled = routeAssemblyStats.assembled;
    const p = h.record(trigger, change(a, b), () => ["p"])!;
    expect(routeAssemblyStats.assembled - assembled).toBe(0);
    // Unread, each is counted at what it keeps until read: its parts, ~32 bytes per virtual host.
    expect(h.keptBodies.bodies).toBe(2);
    expect(h.keptBodies.bytes).toBeGreaterThan(2 * 50 * 32);
    expect(h.keptBodies.bytes).toBeLessThan(2 * 50 * 1024);
    const d = h.diff(p.id, "9080") as { diff: string }[];
    expect(d[0]!.diff).toMatch(/^-\s+cluster: c1$/m);
    expect(d[0]!.diff).toMatch(/^\+\s+cluster: c2$/m);
    expect(routeAssemblyStats.assembled - assembled).toBe(2);
    expect(h.keptBodies.bytes).toBe(a.get("9080")!.body.length + b.get("9080")!.body.length);
  });

  it("keeps route configurations, read or not, within its byte budget", () => {
    const vhds = (weight: number): ResourceMap => vhdsRoutes(200, weight);
    const BUDGET = 64 * 1024;
    for (const read of [false, true]) {
      const h = new PushHistory(100, { maxBodyBytes: BUDGET });
      let prev = vhds(0);
      for (let i = 1; i <= 40; i++) {
        const next = vhds(i);
        if (read) void next.get("9080")!.body; // a SotW stream took it whole
        h.record(trigger, change(prev, next), () => ["p"]);
        prev = next;
      }
      // 41 versions named by the records; each keeps ~11 KB unread, ~16 KB read: a few fit.
      expect(h.keptBodies.bytes, read ? "read" : "unread").toBeLessThanOrEqual(BUDGET);
      expect(h.keptBodies.bodies, read ? "read" : "unread").toBeLessThan(10);
      expect(h.keptBodies.bodies).toBeGreaterThan(0);
    }
  });
});
