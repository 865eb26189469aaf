// In a real mesh every pod is selected by its own Service, so every workload has a view of its
// own. Its outbound side is what every workload of its namespace gets alike (unless outbound
// configuration reads its labels): translated and encoded once per build, shared by identity, and
// composed with each workload's own inbound side. The composition must be exactly what the unsplit
// translation gives, on every golden case.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import { parseProxy, type NodeLike } from "../../../src/model/proxy.js";
import { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { encodeProxyResources } from "../../../src/pipeline/encode-view.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { LayeredMap } from "../../../src/xds/layered-map.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import type { NodeInfo, ResourceMap } from "../../../src/xds/snapshot.js";
import { PUSH_ORDER, TYPE_URL } from "../../../src/xds/type-urls.js";
import { caseNodes, goldenCaseInput, goldenCases } from "../../support/golden-cases.js";
import { serviceDocs, startControlPlane, storedObjects } from "../../support/control-plane.js";

function service(name: string, ns: string, ip: string): string {
  return serviceDocs(name, ns, ip, `10.244.${ip.split(".")[3]}.1`);
}

const MESH = [
  service("reviews", "default", "10.96.0.20"),
  service("ratings", "default", "10.96.0.21"),
  service("details", "default", "10.96.0.22"),
  service("web", "shop", "10.96.0.23"),
].join("---\n");

const DR = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`;

function routeToReviews(weightV1: number): string {
  return `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - match: [{ sourceLabels: { app: ratings } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
    - route: [{ destination: { host: reviews, subset: v1 }, weight: ${weightV1} }, { destination: { host: reviews, subset: v2 }, weight: ${100 - weightV1} }]
`;
}

/** A pod of `app` (its own version and pod-template-hash), as the injector labels it. */
function pod(app: string, ns: string, n: number): NodeInfo {
  const labels = { app, version: `v${n}`, "pod-template-hash": `h${n}`, "security.istio.io/tlsMode": "istio" };
  return { id: `sidecar~10.244.9.${n}~${app}-h${n}.${ns}~${ns}.svc.cluster.local`, cluster: app, metadata: { LABELS: labels } };
}

const mapOf = (cache: SnapshotCache, key: string, t: (typeof PUSH_ORDER)[number]): ResourceMap => cache.get(key)!.resources.get(t)!;

describe("views of pods of different Services share their outbound side", () => {
  it("holds one outbound translation per namespace: the same maps and Resource objects, each view with its own inbound", () => {
    const { cp, cache, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(MESH, DR, routeToReviews(90))), "all");
    const [reviews, details, web] = [pod("reviews", "default", 1), pod("details", "default", 2), pod("web", "shop", 3)].map(connect) as [
      string,
      string,
      string,
    ];
    // A route edit: each outbound side translated once; the inbound sides read no route, so they stand.
    const edited = meshInputFrom(storedObjects(MESH, DR, routeToReviews(80)));
    const stats = cp.update(edited, "all");
    expect(stats).toMatchObject({ views: 3, classes: 3, outboundKeys: 2, outboundTranslations: 2, ownTranslations: 0 });
    // The same objects again (as the store hands them): nothing the translations read changed, nothing is translated.
    expect(cp.update(edited, "all")).toMatchObject({ outboundTranslations: 0, ownTranslations: 0 });

    // Endpoints and routes: nothing of the inbound side, so the very same map.
    for (const t of [TYPE_URL.endpoint, TYPE_URL.route]) expect(mapOf(cache, details, t)).toBe(mapOf(cache, reviews, t));
    // Clusters and listeners: the shared map under each view's own inbound resources.
    const [rc, dc] = [mapOf(cache, reviews, TYPE_URL.cluster), mapOf(cache, details, TYPE_URL.cluster)];
    expect(rc).toBeInstanceOf(LayeredMap);
    expect((rc as LayeredMap).shared).toBe((dc as LayeredMap).shared);
    expect(rc.get("inbound|9080||")).toBeDefined();
    const outboundName = "outbound|9080|v1|reviews.default.svc.cluster.local";
    expect(dc.get(outboundName)).toBe(rc.get(outboundName));
    // Another namespace's outbound side is its own translation, but a service's clusters are one
    // JSON object for every namespace, encoded once.
    expect(mapOf(cache, web, TYPE_URL.route)).not.toBe(mapOf(cache, reviews, TYPE_URL.route));
    expect(mapOf(cache, web, TYPE_URL.cluster).get(outboundName)).toBe(rc.get(outboundName));
  });

  it("gives a pod that sourceLabels match its own outbound side, and the others theirs", () => {
    const { cp, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(MESH, DR, routeToReviews(90))), "all");
    const [ratings, details] = [pod("ratings", "default", 1), pod("details", "default", 2)].map(connect) as [string, string];
    expect(cp.update(meshInputFrom(storedObjects(MESH, DR, routeToReviews(90))), "all")).toMatchObject({ views: 2, outboundKeys: 2 });
    const first = (key: string): string[] => {
      const vh = cp
        .viewResources(key)!
        .routes.find((r) => r.name === "9080")!
        .virtualHosts!.find((v) => v.name === "reviews.default.svc.cluster.local:9080")!;
      const route = vh.routes![0]!.route!;
      return route.cluster ? [route.cluster] : route.weightedClusters!.clusters!.map((c) => c.name!);
    };
    expect(first(ratings)).toEqual(["outbound|9080|v2|reviews.default.svc.cluster.local"]);
    expect(first(details)).toEqual(["outbound|9080|v1|reviews.default.svc.cluster.local", "outbound|9080|v2|reviews.default.svc.cluster.local"]);
  });

  it("rebuilds the outbound side once per outbound key on a VirtualService edit, however many views hold it", () => {
    const { cp, cache, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(MESH, DR, routeToReviews(90))), "all");
    const keys = ["reviews", "details", "web", "reviews", "details"].map((app, i) => connect(pod(app, app === "web" ? "shop" : "default", i + 1)));
    const before = keys.map((k) => cache.get(k)!);
    const edit = cp.update(meshInputFrom(storedObjects(MESH, DR, routeToReviews(80))), new Set(["VirtualService"]));
    // Two pods of one Service (their version and hash differ) share a view: 5 proxies, 3 views, 2 outbound keys.
    expect(edit).toMatchObject({ classes: 5, views: 3, outboundKeys: 2, outboundTranslations: 2, ownTranslations: 0 });
    // The views of one outbound key changed alike: one change each, listing every class.
    expect(edit.changes).toHaveLength(2);
    expect(edit.changes.flatMap((c) => c.classes).sort()).toEqual([...new Set(keys)].sort());
    // Only the route configuration changed: every other type keeps its maps, and the new
    // route configuration is one Resource for every view of the namespace.
    for (const [i, k] of keys.entries()) {
      for (const t of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener]) expect(mapOf(cache, k, t), `${k} ${t}`).toBe(before[i]!.resources.get(t));
      expect(cache.get(k)!.versions.get(TYPE_URL.route)).not.toBe(before[i]!.versions.get(TYPE_URL.route));
    }
    expect(mapOf(cache, keys[1]!, TYPE_URL.route).get("9080")).toBe(mapOf(cache, keys[0]!, TYPE_URL.route).get("9080"));
  });

  it("re-encodes a changed ClusterLoadAssignment once on the EDS fast path, translating nothing", () => {
    const { cp, cache, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(MESH, DR, routeToReviews(90))), "all");
    const keys = [pod("reviews", "default", 1), pod("details", "default", 2), pod("web", "shop", 3)].map(connect);
    const name = "outbound|9080||reviews.default.svc.cluster.local";
    const old = mapOf(cache, keys[0]!, TYPE_URL.endpoint).get(name);
    const gone = MESH.replace("  - { addresses: [10.244.20.1], conditions: { ready: true }", "  - { addresses: [10.244.20.1], conditions: { ready: false }");
    expect(gone).not.toBe(MESH);
    const stats = cp.update(meshInputFrom(storedObjects(gone, DR, routeToReviews(90))), new Set(["EndpointSlice"]));
    expect(stats).toMatchObject({ fastPath: true, outboundTranslations: 0, ownTranslations: 0 });
    const fresh = mapOf(cache, keys[0]!, TYPE_URL.endpoint).get(name);
    expect(fresh).not.toBe(old);
    for (const k of keys) expect(mapOf(cache, k, TYPE_URL.endpoint).get(name)).toBe(fresh);
  });

  it("after the EDS fast path, holds what its translation read at the new endpoints: a build that changes nothing translates nothing", () => {
    const { cp, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(MESH, DR, routeToReviews(90))), "all");
    [pod("reviews", "default", 1), pod("web", "shop", 3)].map(connect);
    const gone = MESH.replace("  - { addresses: [10.244.20.1], conditions: { ready: true }", "  - { addresses: [10.244.20.1], conditions: { ready: false }");
    const input = meshInputFrom(storedObjects(gone, DR, routeToReviews(90)));
    expect(cp.update(input, new Set(["EndpointSlice"]))).toMatchObject({ fastPath: true, outboundTranslations: 0 });
    // Reads still naming the first build's endpoints kept that model (every list replaced since,
    // their CLAs and bytes) while endpoints alone churned, and sent this build to translate again.
    expect(cp.update(input, "all")).toMatchObject({ outboundTranslations: 0, ownTranslations: 0 });
  });
});

/** Per type, the (name, version) pairs in map order, and the bytes. */
function pairs(m: ResourceMap): [string, string, string][] {
  return [...m.values()].map((r) => [r.name, r.version, Buffer.from(r.body).toString("base64")]);
}

describe("the composed snapshot equals the unsplit translation", () => {
  for (const name of goldenCases()) {
    it(`${name}: the case's proxy and a pod of each Service`, () => {
      const c = goldenCaseInput(name);
      const parsed = parseProxy(c.node);
      if ("error" in parsed) throw new Error(parsed.error);
      const cache = new SnapshotCache();
      const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }), meshConfig: c.meshConfig, domain: parsed.proxy.dnsDomain });
      const input = meshInputFrom(c.objects);
      cp.update(input, "all");
      const nodes: NodeLike[] = caseNodes(buildMesh(input, parsed.proxy.dnsDomain, c.meshConfig), c.node);
      const keys = nodes.map((n) => {
        const info: NodeInfo = {
          id: n.id,
          cluster: "",
          metadata: n.metadata ?? {},
          ...(n.locality ? { locality: n.locality as NodeInfo["locality"] & object } : {}),
        };
        const k = cp.viewKey(info);
        if ("error" in k) throw new Error(k.error);
        cp.activate(k.key, info);
        return k.key;
      });
      // A second build: views translated again over their previous maps must still be exact.
      cp.update(input, "all");
      for (const key of keys) {
        const whole = encodeProxyResources(cp.viewResources(key)!);
        const snapshot = cache.get(key)!;
        for (const t of PUSH_ORDER) expect(pairs(snapshot.resources.get(t)!), `${name} ${key} ${t}`).toEqual(pairs(whole.get(t)!));
      }
    });
  }
});
