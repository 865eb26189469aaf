// Proxies share a view unless some configuration selects on a label that tells them apart. The
// selection is recomputed on every build: a new sourceLabels splits a view, removing it merges the
// views again, and a proxy moved between views (over a real delta ADS stream) gets its new config.
import { fromBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { RouteConfigurationSchema } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import type { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { startControlPlane, storedObjects } from "../../support/control-plane.js";
import { XdsServer } from "../../../src/xds/server.js";
import type { NodeInfo } from "../../../src/xds/snapshot.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { AdsClient, deltaNames } from "../../support/xds-client.js";

const BASE = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, ports: [{ name: http, port: 9080, targetPort: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v1, namespace: default, labels: { app: reviews, version: v1 } }
status: { podIP: 10.244.0.11 }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v2, namespace: default, labels: { app: reviews, version: v2 } }
status: { podIP: 10.244.0.12 }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: reviews-1, namespace: default, labels: { kubernetes.io/service-name: reviews } }
addressType: IPv4
ports: [{ name: http, port: 9080 }]
endpoints:
  - { addresses: [10.244.0.11], conditions: { ready: true }, targetRef: { kind: Pod, name: reviews-v1, namespace: default } }
  - { addresses: [10.244.0.12], conditions: { ready: true }, targetRef: { kind: Pod, name: reviews-v2, namespace: default } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`;

/** Clients labelled version=v2 go to subset v2, everyone else to v1. */
const BY_SOURCE_VERSION = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - match: [{ sourceLabels: { version: v2 } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
    - route: [{ destination: { host: reviews, subset: v1 } }]
`;

function client(pod: string, ip: string, labels: Record<string, string>): NodeInfo {
  return { id: `sidecar~${ip}~${pod}.default~default.svc.cluster.local`, cluster: pod, metadata: { LABELS: labels } };
}

// Different Deployments: every label differs, none is selected by BASE.
const A = client("a-5d8f-1", "10.244.1.1", { app: "a", version: "v1", "pod-template-hash": "5d8f" });
const B = client("b-77c1-1", "10.244.1.2", { app: "b", version: "v2", "pod-template-hash": "77c1" });
const C = client("c-9a0e-1", "10.244.1.3", { app: "c", version: "v3", "pod-template-hash": "9a0e" });

/** The cluster the route configuration "9080" of `key` sends reviews traffic to, per route. */
function reviewsClusters(cp: ControlPlane, key: string): string[] {
  const rc = cp.viewResources(key)!.routes.find((r) => r.name === "9080")!;
  const vh = rc.virtualHosts!.find((v) => v.name === "reviews.default.svc.cluster.local:9080")!;
  return vh.routes!.map((r) => r.route!.cluster!);
}

describe("view sharing by selected labels", () => {
  it("gives proxies whose labels no configuration selects one view and one snapshot", () => {
    const { cp, cache, connect } = startControlPlane();
    expect(cp.update(meshInputFrom(storedObjects(BASE)), "all").views).toBe(0);
    const [ka, kb, kc] = [A, B, C].map(connect);
    expect(new Set([ka, kb, kc]).size).toBe(3);
    const stats = cp.update(meshInputFrom(storedObjects(BASE)), "all");
    expect(stats).toMatchObject({ views: 1, classes: 3 });
    expect(cache.get(ka!)).toBe(cache.get(kb!));
    expect(cache.get(ka!)).toBe(cache.get(kc!));
  });

  it("splits a view when a sourceLabels selects on version, and merges it again when that is removed", () => {
    const { cp, cache, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(BASE)), "all");
    const [ka, kb, kc] = [A, B, C].map(connect) as [string, string, string];
    expect(reviewsClusters(cp, ka)).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);

    const split = cp.update(meshInputFrom(storedObjects(BASE, BY_SOURCE_VERSION)), "all");
    // v2 is told apart; v1 and v3 both match no selector value and stay together.
    expect(split).toMatchObject({ views: 2, classes: 3 });
    expect(reviewsClusters(cp, kb)).toEqual(["outbound|9080|v2|reviews.default.svc.cluster.local"]);
    expect(reviewsClusters(cp, ka)).toEqual(["outbound|9080|v1|reviews.default.svc.cluster.local"]);
    expect(reviewsClusters(cp, kc)).toEqual(["outbound|9080|v1|reviews.default.svc.cluster.local"]);
    expect(cache.get(ka)).toBe(cache.get(kc));
    expect(cache.get(ka)).not.toBe(cache.get(kb));

    // Each shared snapshot is what a control plane serving that proxy alone would publish.
    for (const [n, k] of [
      [A, ka],
      [B, kb],
    ] as const) {
      const alone = startControlPlane();
      alone.cp.update(meshInputFrom(storedObjects(BASE, BY_SOURCE_VERSION)), "all");
      expect(cache.get(k)!.versions).toEqual(alone.cache.get(alone.connect(n))!.versions);
    }

    const merged = cp.update(meshInputFrom(storedObjects(BASE)), "all");
    expect(merged).toMatchObject({ views: 1, classes: 3 });
    expect(cache.get(ka)).toBe(cache.get(kb));
    expect(reviewsClusters(cp, kb)).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);
  });

  it("encodes what two views hold alike once, also when the EDS fast path re-encodes a changed ClusterLoadAssignment", () => {
    const { cp, cache, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(BASE, BY_SOURCE_VERSION)), "all");
    const [ka, kb] = [A, B].map(connect) as [string, string];
    const a = cache.get(ka)!;
    const b = cache.get(kb)!;
    expect(a).not.toBe(b);
    for (const t of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener]) {
      for (const [name, r] of a.resources.get(t)!) expect(b.resources.get(t)!.get(name), name).toBe(r);
    }
    // The views differ in the route configuration only.
    expect(b.resources.get(TYPE_URL.route)!.get("9080")).not.toBe(a.resources.get(TYPE_URL.route)!.get("9080"));

    const v2Endpoint = "  - { addresses: [10.244.0.12], conditions: { ready: true }, targetRef: { kind: Pod, name: reviews-v2, namespace: default } }\n";
    expect(BASE).toContain(v2Endpoint);
    const v2Gone = storedObjects(BASE.replace(v2Endpoint, ""), BY_SOURCE_VERSION);
    expect(cp.update(meshInputFrom(v2Gone), new Set(["EndpointSlice"])).fastPath).toBe(true);
    const [a2, b2] = [cache.get(ka)!, cache.get(kb)!];
    const name = "outbound|9080||reviews.default.svc.cluster.local";
    expect(a2.resources.get(TYPE_URL.endpoint)!.get(name)).not.toBe(a.resources.get(TYPE_URL.endpoint)!.get(name));
    expect(b2.resources.get(TYPE_URL.endpoint)!.get(name)).toBe(a2.resources.get(TYPE_URL.endpoint)!.get(name));
  });

  it("forgets a view when its last class disconnects, and keeps serving the others", () => {
    const { cp, cache, connect } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(BASE, BY_SOURCE_VERSION)), "all");
    const [ka, kb] = [A, B].map(connect) as [string, string];
    expect(cp.update(meshInputFrom(storedObjects(BASE, BY_SOURCE_VERSION)), "all").views).toBe(2);
    cp.deactivate(kb);
    expect(cache.get(kb)).toBeUndefined();
    expect(cp.update(meshInputFrom(storedObjects(BASE, BY_SOURCE_VERSION)), "all")).toMatchObject({ views: 1, classes: 1 });
    expect(reviewsClusters(cp, ka)).toEqual(["outbound|9080|v1|reviews.default.svc.cluster.local"]);
  });
});

describe("a proxy moved to another view, over delta ADS", () => {
  let closeAll: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await closeAll?.();
    closeAll = undefined;
  });

  it("receives the route configuration of its new view, and only what changed", async () => {
    const { cp, cache } = startControlPlane();
    cp.update(meshInputFrom(storedObjects(BASE)), "all");
    const server = new XdsServer({ cache, views: cp, logger: pino({ level: "silent" }) });
    const port = await server.listen("127.0.0.1:0");
    const ads = new AdsClient(`127.0.0.1:${port}`);
    closeAll = async () => {
      ads.close();
      await server.close(500);
    };
    const routeOf = (resp: Awaited<ReturnType<typeof s.nextOf>>): string[] => {
      const rc = fromBinary(RouteConfigurationSchema, resp.resources[0]!.resource!.value);
      return rc.virtualHosts
        .find((v) => v.name.startsWith("reviews."))!
        .routes.map((r) => (r.action.case === "route" && r.action.value.clusterSpecifier.case === "cluster" ? r.action.value.clusterSpecifier.value : "?"));
    };
    const s = ads.delta();
    s.send({
      node: { id: B.id, cluster: B.cluster, metadata: { LABELS: B.metadata["LABELS"] as Record<string, string> } },
      typeUrl: TYPE_URL.route,
      resourceNamesSubscribe: ["9080"],
    });
    const first = await s.nextOf(TYPE_URL.route);
    expect(routeOf(first)).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);
    s.ack(first);
    expect(cp.update(meshInputFrom(storedObjects(BASE, BY_SOURCE_VERSION)), "all")).toMatchObject({ views: 1, classes: 1 });
    const moved = await s.nextOf(TYPE_URL.route);
    expect(deltaNames(moved)).toEqual(["9080"]);
    expect(routeOf(moved)).toEqual(["outbound|9080|v2|reviews.default.svc.cluster.local"]);
    s.ack(moved);

    cp.update(meshInputFrom(storedObjects(BASE)), "all");
    const back = await s.nextOf(TYPE_URL.route);
    expect(routeOf(back)).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);
    s.end();
  });
});
