import { fromBinary, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RouteConfigurationSchema } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import { VirtualHostSchema } from "../../../src/gen/envoy/config/route/v3/route_components_pb.js";
import { encodeNamed } from "../../../src/pipeline/encode-view.js";
import { EncodeCache } from "../../../src/xds/encode-cache.js";
import { patchOf } from "../../../src/xds/map-patch.js";
import { envoyRegistry } from "../../../src/xds/registry.js";
import { encodeRoutes, routeAssemblyStats, usesVhds, vhdsRouteOf, vhdsRoutes } from "../../../src/xds/route-delivery.js";
import type { ResourceMap } from "../../../src/xds/snapshot.js";
import { typeVersion } from "../../../src/xds/type-version.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { goldenCases, translateGoldenCase } from "../../support/golden-cases.js";

const json = (b: Uint8Array): unknown => toJson(RouteConfigurationSchema, fromBinary(RouteConfigurationSchema, b), { registry: envoyRegistry });
const vhostJson = (b: Uint8Array): unknown => toJson(VirtualHostSchema, fromBinary(VirtualHostSchema, b), { registry: envoyRegistry });

type Vh = { name: string; domains: string[]; routes?: unknown[] };
type Rc = { name: string; virtualHosts: Vh[]; validateClusters?: boolean };

function rc(name: string, hosts: string[], catchAll = true): Rc {
  const vhosts: Vh[] = hosts.map((h) => ({
    name: `${h}:80`,
    domains: [h, `${h}.default`],
    routes: [{ match: { prefix: "/" }, route: { cluster: `outbound|80||${h}` } }],
  }));
  if (catchAll) vhosts.push({ name: "allow_any", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "PassthroughCluster" } }] });
  return { name, virtualHosts: vhosts, validateClusters: false };
}

describe("route configurations in both forms", () => {
  // Every golden case: the inline form is byte for byte what encoding the whole route
  // configuration gives, and the VHDS form with its virtual hosts composes back to it.
  it.each(goldenCases())("%s: both forms say the same", (name) => {
    const routes = translateGoldenCase(name).resources.routes;
    const wholeMap = encodeNamed(TYPE_URL.route, routes);
    const both = encodeRoutes(routes);
    expect([...both.routes.keys()]).toEqual([...wholeMap.keys()]);
    // An assembled route configuration's version hashes its parts' content, not its bytes: the same content, the same version.
    const again = encodeRoutes(structuredClone(routes));
    for (const [n, r] of wholeMap) {
      expect(Buffer.from(both.routes.get(n)!.body).equals(Buffer.from(r.body)), n).toBe(true);
      expect(again.routes.get(n)!.version).toBe(both.routes.get(n)!.version);
    }
    const split = vhdsRoutes(both.routes);
    for (const [n, inline] of both.routes) {
      const whole = json(inline.body) as { virtualHosts?: { name: string }[] };
      const vhds = json(split.get(n)!.body) as { virtualHosts?: { name: string }[]; vhds?: unknown };
      const delivered = [...both.virtualHosts.values()].filter((v) => vhdsRouteOf(v.name) === n).map((v) => vhostJson(v.body) as { name: string });
      expect(usesVhds(split.get(n)!)).toBe(delivered.length > 0);
      if (delivered.length === 0) {
        expect(split.get(n)).toBe(inline);
        continue;
      }
      expect(vhds.vhds).toEqual({ configSource: { ads: {}, resourceApiVersion: "V3" } });
      // Envoy removes a VHDS virtual host by its name: the name is the resource name.
      for (const d of delivered) expect(d.name.startsWith(`${n}/`)).toBe(true);
      const composed = [...(vhds.virtualHosts ?? []), ...delivered.map((d) => ({ ...d, name: d.name.slice(n.length + 1) }))];
      const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
      expect(composed.sort(byName)).toEqual([...(whole.virtualHosts ?? [])].sort(byName));
      const { virtualHosts: _a, ...restWhole } = whole;
      const { virtualHosts: _b, vhds: _c, ...restSplit } = vhds;
      expect(restSplit).toEqual(restWhole);
    }
  });

  it("keeps catch-all virtual hosts inline and delivers the others by VHDS", () => {
    const both = encodeRoutes([rc("80", ["a", "b"])]);
    expect([...both.virtualHosts.keys()]).toEqual(["80/a:80", "80/b:80"]);
    const split = json(vhdsRoutes(both.routes).get("80")!.body) as { virtualHosts: { name: string }[] };
    expect(split.virtualHosts.map((v) => v.name)).toEqual(["allow_any"]);
  });

  it("leaves a route configuration whole when no virtual host can travel by VHDS", () => {
    const both = encodeRoutes([rc("80", []), { name: "a/b", virtualHosts: [{ name: "x", domains: ["x"] }] }]);
    expect(both.virtualHosts.size).toBe(0);
    const split = vhdsRoutes(both.routes);
    expect(split.get("80")).toBe(both.routes.get("80"));
    expect(split.get("a/b")).toBe(both.routes.get("a/b"));
  });

  it("re-encodes only the virtual host an edit changes, and shares the rest", () => {
    const before = encodeRoutes([rc("80", ["a", "b", "c"])]);
    const edited = rc("80", ["a", "b", "c"]);
    edited.virtualHosts[1]!.routes = [{ match: { prefix: "/" }, route: { cluster: "outbound|80|v2|b" } }];
    const after = encodeRoutes([edited], { routes: before.routes, virtualHosts: before.virtualHosts });
    expect(after.virtualHosts.get("80/a:80")).toBe(before.virtualHosts.get("80/a:80"));
    expect(after.virtualHosts.get("80/c:80")).toBe(before.virtualHosts.get("80/c:80"));
    expect(after.virtualHosts.get("80/b:80")!.version).not.toBe(before.virtualHosts.get("80/b:80")!.version);
    expect(after.routes.get("80")!.version).not.toBe(before.routes.get("80")!.version);
    // The VHDS route configuration itself did not change: a delta stream re-sends only "80/b:80".
    expect(vhdsRoutes(after.routes).get("80")!.version).toBe(vhdsRoutes(before.routes).get("80")!.version);
    const same = encodeRoutes([edited], { routes: after.routes, virtualHosts: after.virtualHosts });
    expect(same.routes.get("80")).toBe(after.routes.get("80"));
    expect(same.virtualHosts).toBe(after.virtualHosts);
  });

  it("gives an edit's virtual hosts as a patch of the previous map, with what a build from scratch has", () => {
    const hosts = Array.from({ length: 40 }, (_, i) => `h${String(i).padStart(2, "0")}`);
    const before = encodeRoutes([rc("80", hosts), rc("9080", ["x", "y"])]);
    const edited = rc("80", hosts);
    edited.virtualHosts[7]!.routes = [{ match: { prefix: "/" }, route: { cluster: "outbound|80|v2|h07" } }];
    const patched = routeAssemblyStats.vhostsPatched;
    const after = encodeRoutes([edited, rc("9080", ["x", "y"])], before);
    // Type versions, diffs and the encode cache's retained set follow the one replaced virtual host.
    expect(routeAssemblyStats.vhostsPatched - patched).toBe(1);
    expect(patchOf(after.virtualHosts)?.replaced.map(([, r]) => r.name)).toEqual(["80/h07:80"]);
    const scratch = encodeRoutes([edited, rc("9080", ["x", "y"])]);
    const pairs = (m: ResourceMap): string[] => [...m].map(([name, r]) => `${name}@${r.version}`);
    expect(pairs(after.virtualHosts)).toEqual(pairs(scratch.virtualHosts));
    expect(typeVersion(after.virtualHosts)).toBe(typeVersion(scratch.virtualHosts));
    // A virtual host added: the names differ, a map of its own.
    const added = encodeRoutes([rc("80", [...hosts, "h99"]), rc("9080", ["x", "y"])], after);
    expect(patchOf(added.virtualHosts)).toBeUndefined();
    expect(pairs(added.virtualHosts)).toEqual(pairs(encodeRoutes([rc("80", [...hosts, "h99"]), rc("9080", ["x", "y"])]).virtualHosts));
  });

  it("takes an edit of one virtual host without looking through the others", () => {
    const hosts = Array.from({ length: 40 }, (_, i) => `h${String(i).padStart(2, "0")}`);
    const first = rc("80", hosts);
    const before = encodeRoutes([first, rc("9080", ["x", "y"])]);
    // The translator's way: the same JSON objects but for the edited virtual host.
    const edited = { ...first, virtualHosts: [...first.virtualHosts] };
    edited.virtualHosts[7] = { ...edited.virtualHosts[7]!, routes: [{ match: { prefix: "/" }, route: { cluster: "outbound|80|v2|h07" } }] };
    const [walked, hashed, forms] = [routeAssemblyStats.vhostsWalked, routeAssemblyStats.placedHashed, routeAssemblyStats.vhdsForms];
    const after = encodeRoutes([edited, rc("9080", ["x", "y"])], before);
    expect(routeAssemblyStats.vhdsForms - forms).toBe(0); // each VHDS form kept: head and catch-all as they were
    expect(vhdsRoutes(after.routes).get("80")).toBe(vhdsRoutes(before.routes).get("80"));
    expect(routeAssemblyStats.vhostsWalked - walked).toBe(0); // 9080 made anew finds its parts again
    expect(routeAssemblyStats.placedHashed - hashed).toBe(2); // h07's new part, and 9080's catch-all (inline, made again)
    expect(patchOf(after.virtualHosts)?.replaced.map(([, r]) => r.name)).toEqual(["80/h07:80"]);
    const scratch = encodeRoutes([edited, rc("9080", ["x", "y"])]);
    const pairs = (m: ResourceMap): string[] => [...m].map(([name, r]) => `${name}@${r.version}`);
    expect(pairs(after.virtualHosts)).toEqual(pairs(scratch.virtualHosts));
    expect(pairs(after.routes)).toEqual(pairs(scratch.routes));
    expect(after.routes.get("80")!.body).toEqual(scratch.routes.get("80")!.body);
  });

  it("copies an inline route configuration together only when a stream reads it, once", () => {
    const before = routeAssemblyStats.assembled;
    const both = encodeRoutes([rc("80", ["a", "b", "c"])]);
    const route = both.routes.get("80")!;
    expect(routeAssemblyStats.assembled - before).toBe(0);
    expect(route.version).toMatch(/^[0-9a-f]{16}$/);
    const body = route.body;
    expect(routeAssemblyStats.assembled - before).toBe(1);
    expect(route.body).toBe(body);
    expect(routeAssemblyStats.assembled - before).toBe(1);
  });

  it("shares what other views encoded", () => {
    const shared = new EncodeCache();
    const one = encodeRoutes([rc("80", ["a", "b"])], undefined, shared);
    const two = encodeRoutes([rc("80", ["a", "b"])], undefined, shared);
    expect(two.routes.get("80")).toBe(one.routes.get("80"));
    expect(two.virtualHosts.get("80/a:80")).toBe(one.virtualHosts.get("80/a:80"));
    expect(vhdsRoutes(two.routes).get("80")).toBe(vhdsRoutes(one.routes).get("80"));
  });

  it("refuses a virtual host named twice in one route configuration", () => {
    const dup = rc("80", ["a"]);
    dup.virtualHosts.push({ ...dup.virtualHosts[0]! });
    expect(() => encodeRoutes([dup])).toThrow(/virtual host "a:80" twice/);
  });
});
