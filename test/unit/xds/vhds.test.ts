// Route configurations split by VHDS for delta streams of Envoys that take it, whole for the rest
// (src/xds/route-delivery.ts, route-form.ts, delta-stream.ts). Real server, real gRPC client.
import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { RouteConfigurationSchema } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import { encodeResources, snapshotFrom } from "../../../src/xds/encode.js";
import { encodeRoutes, type EncodedRoutes } from "../../../src/xds/route-delivery.js";
import type { Snapshot } from "../../../src/xds/snapshot.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { deltaNames, names, type DeltaStream } from "../../support/xds-client.js";
import { LDS, RDS, eventually, listener, node, startHarness, type Harness } from "./harness.js";

const VHDS = TYPE_URL.virtualHost;

type Rc = { name: string; virtualHosts: { name: string; domains: string[]; routes: unknown[] }[] };

function routeConfig(name: string, hosts: Record<string, string>): Rc {
  return {
    name,
    virtualHosts: [
      ...Object.entries(hosts).map(([h, cluster]) => ({ name: `${h}:${name}`, domains: [h], routes: [{ match: { prefix: "/" }, route: { cluster } }] })),
      { name: "allow_any", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "PassthroughCluster" } }] },
    ],
  };
}

/** Snapshots of listeners l<port> → route configuration <port>, with route configurations in both forms. */
class Mesh {
  private last: EncodedRoutes | undefined;
  constructor(public routes: Rc[]) {}
  snapshot(): Snapshot {
    const listeners = encodeResources(
      LDS,
      this.routes.map((r) => ({ name: `l${r.name}`, json: listener(`l${r.name}`, Number(r.name), r.name) })),
    );
    this.last = encodeRoutes(this.routes, this.last);
    return snapshotFrom({ [LDS]: listeners, [RDS]: this.last.routes, [VHDS]: this.last.virtualHosts });
  }
}

const ENVOY_140 = {
  userAgentName: "envoy",
  userAgentVersionType: { case: "userAgentBuildVersion" as const, value: { version: { majorNumber: 1, minorNumber: 40, patch: 0 } } },
};

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(mesh: Mesh): Promise<Harness> {
  h = await startHarness();
  h.views.onActivate = (key) => h!.cache.set(key, mesh.snapshot());
  return h;
}

/** Subscribe RDS by name and VHDS as Envoy does (empty wildcard), ACKing; returns both responses. */
async function envoyLike(s: DeltaStream, routes: string[]) {
  s.send({ node: { ...node(), ...ENVOY_140 }, typeUrl: RDS, resourceNamesSubscribe: routes });
  const rds = await s.nextOf(RDS);
  s.ack(rds);
  s.send({ typeUrl: VHDS, resourceNamesSubscribe: [] });
  const vhds = await s.nextOf(VHDS);
  s.ack(vhds);
  return { rds, vhds };
}

const routeOf = (body: Uint8Array) => fromBinary(RouteConfigurationSchema, body);

describe("VHDS over delta ADS", () => {
  it("sends an Envoy its route configurations without their virtual hosts, then every virtual host as its own resource", async () => {
    const mesh = new Mesh([routeConfig("80", { a: "ca", b: "cb" })]);
    await setup(mesh);
    const s = h!.client.delta();
    const { rds, vhds } = await envoyLike(s, ["80"]);
    const rc = routeOf(rds.resources[0]!.resource!.value);
    expect(rc.virtualHosts.map((v) => v.name)).toEqual(["allow_any"]);
    expect(rc.vhds?.configSource?.configSourceSpecifier.case).toBe("ads");
    expect(deltaNames(vhds)).toEqual(["80/a:80", "80/b:80"]);
    await eventually(() => h!.server.syncStatus()[0]?.types.vhds?.state === "SYNCED", "the VHDS ACK");
    expect(h!.server.syncStatus()[0]!.types.vhds).toMatchObject({ wildcard: true });
  });

  it("re-sends only the edited virtual host, and no route configuration", async () => {
    const mesh = new Mesh([routeConfig("80", { a: "ca", b: "cb" })]);
    await setup(mesh);
    const s = h!.client.delta();
    await envoyLike(s, ["80"]);
    mesh.routes = [routeConfig("80", { a: "ca", b: "cb-v2" })];
    h!.cache.set("default", mesh.snapshot());
    const r = await s.nextOf(VHDS); // not RDS: the route configuration's VHDS form is unchanged
    expect(deltaNames(r)).toEqual(["80/b:80"]);
    expect(r.removedResources).toEqual([]);
    s.ack(r);
    mesh.routes = [routeConfig("80", { a: "ca" })];
    h!.cache.set("default", mesh.snapshot());
    const gone = await s.nextOf(VHDS);
    expect(gone.resources).toEqual([]);
    expect(gone.removedResources).toEqual(["80/b:80"]);
  });

  it("sends a new route configuration's virtual hosts only after the route configuration", async () => {
    const mesh = new Mesh([routeConfig("80", { a: "ca" })]);
    await setup(mesh);
    const s = h!.client.delta();
    s.send({ node: { ...node(), ...ENVOY_140 }, typeUrl: LDS, resourceNamesSubscribe: ["*"] });
    s.ack(await s.nextOf(LDS));
    await envoyLike(s, ["80"]);
    mesh.routes = [routeConfig("80", { a: "ca" }), routeConfig("81", { c: "cc" })];
    h!.cache.set("default", mesh.snapshot());
    const l = await s.nextOf(LDS);
    s.ack(l);
    // Envoy has not asked for route configuration 81 yet: its virtual hosts would be dropped.
    s.send({ typeUrl: RDS, resourceNamesSubscribe: ["81"] });
    const rds = await s.nextOf(RDS);
    expect(deltaNames(rds)).toEqual(["81"]);
    s.ack(rds);
    const vhds = await s.nextOf(VHDS);
    expect(deltaNames(vhds)).toEqual(["81/c:81"]);
  });

  it("sends no virtual host of a route configuration the Envoy let go, in the same snapshot", async () => {
    const mesh = new Mesh([routeConfig("80", { a: "ca" }), routeConfig("81", { c: "cc" })]);
    await setup(mesh);
    const s = h!.client.delta();
    const first = await envoyLike(s, ["80", "81"]);
    expect(deltaNames(first.vhds)).toEqual(["80/a:80", "81/c:81"]);
    s.send({ typeUrl: RDS, resourceNamesUnsubscribe: ["81"] });
    // Asked for again (as on-demand VHDS does): what goes out is worked out from what it holds now.
    s.send({ typeUrl: VHDS, resourceNamesSubscribe: ["80/a:80"] });
    const vhds = await s.nextOf(VHDS);
    expect(deltaNames(vhds)).toEqual(["80/a:80"]);
    expect(vhds.removedResources).toEqual(["81/c:81"]);
  });

  it("a reconnecting Envoy that declares what it holds gets nothing again", async () => {
    const mesh = new Mesh([routeConfig("80", { a: "ca", b: "cb" })]);
    await setup(mesh);
    const s = h!.client.delta();
    const { rds, vhds } = await envoyLike(s, ["80"]);
    s.end();
    const again = h!.client.delta();
    const versions = (r: typeof rds) => Object.fromEntries(r.resources.map((x) => [x.name, x.version]));
    again.send({ node: { ...node(), ...ENVOY_140 }, typeUrl: RDS, resourceNamesSubscribe: ["80"], initialResourceVersions: versions(rds) });
    again.send({ typeUrl: VHDS, initialResourceVersions: versions(vhds) });
    const r1 = await again.nextOf(RDS);
    const r2 = await again.nextOf(VHDS);
    // The proxy holds both at their current versions: nothing is sent again, and nothing removed.
    expect(r1.resources).toEqual([]);
    expect(r2.resources).toEqual([]);
    expect(r2.removedResources).toEqual([]);
  });

  it.each([
    [
      "an Envoy older than 1.38",
      {
        userAgentName: "envoy",
        userAgentVersionType: { case: "userAgentBuildVersion" as const, value: { version: { majorNumber: 1, minorNumber: 37, patch: 0 } } },
      },
    ],
    ["another delta client", {}],
  ])("sends %s its route configurations whole", async (_what, agent) => {
    const mesh = new Mesh([routeConfig("80", { a: "ca", b: "cb" })]);
    await setup(mesh);
    const s = h!.client.delta();
    s.send({ node: { ...node(), ...agent }, typeUrl: RDS, resourceNamesSubscribe: ["80"] });
    const rc = routeOf((await s.nextOf(RDS)).resources[0]!.resource!.value);
    expect(rc.virtualHosts.map((v) => v.name)).toEqual(["a:80", "b:80", "allow_any"]);
    expect(rc.vhds).toBeUndefined();
    s.send({ typeUrl: VHDS, resourceNamesSubscribe: [] });
    expect((await s.nextOf(VHDS)).resources).toEqual([]);
  });

  it("sends state-of-the-world streams their route configurations whole, also after an edit", async () => {
    const mesh = new Mesh([routeConfig("80", { a: "ca", b: "cb" })]);
    await setup(mesh);
    const s = h!.client.sotw();
    s.send({ node: { ...node(), ...ENVOY_140 }, typeUrl: RDS, resourceNames: ["80"] });
    const r = await s.nextOf(RDS);
    expect(names(r)).toEqual(["80"]);
    expect(routeOf(r.resources[0]!.value).virtualHosts).toHaveLength(3);
    s.ack(r, ["80"]);
    mesh.routes = [routeConfig("80", { a: "ca", b: "cb-v2" })];
    h!.cache.set("default", mesh.snapshot());
    const edited = await s.nextOf(RDS);
    expect(routeOf(edited.resources[0]!.value).virtualHosts.find((v) => v.name === "b:80")?.routes[0]?.action.value).toMatchObject({
      clusterSpecifier: { value: "cb-v2" },
    });
  });
});
