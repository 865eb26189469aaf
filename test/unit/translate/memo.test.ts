// The translator keeps objects it built for later calls: endpoint JSON per endpoint, locality
// settings per view, CLAs by content, parsed retryOn strings, stripped route matches. Each of
// these must follow its inputs: another view, a changed pod, rule or VirtualService gives
// another result, also when the same view object translates a new model.
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import type { MeshModel } from "../../../src/model/ir.js";
import { parseProxy, proxyView, type ProxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import type { ClusterLoadAssignmentJson, RouteJson } from "../../../src/translate/envoy.js";
import { edsTargetEndpoints, translateProxy, type EdsTarget } from "../../../src/translate/proxy.js";
import { gc, nextTurn } from "../../support/gc.js";
import { validObjects } from "../../support/objects.js";

const PODS = (p1Version: string) => `
apiVersion: v1
kind: Node
metadata: { name: east, labels: { topology.kubernetes.io/region: us-east, topology.kubernetes.io/zone: a } }
---
apiVersion: v1
kind: Node
metadata: { name: west, labels: { topology.kubernetes.io/region: us-west, topology.kubernetes.io/zone: b } }
---
apiVersion: v1
kind: Pod
metadata: { name: p1, namespace: default, labels: { app: web, version: ${p1Version} } }
spec: { nodeName: east }
status: { podIP: 10.1.0.1 }
---
apiVersion: v1
kind: Pod
metadata: { name: p2, namespace: default, labels: { app: web, version: v2 } }
spec: { nodeName: west }
status: { podIP: 10.1.0.2 }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { clusterIP: 10.96.0.10, ports: [{ name: http, port: 8080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints:
  - { addresses: ["10.1.0.1"], conditions: { ready: true }, targetRef: { kind: Pod, name: p1, namespace: default } }
  - { addresses: ["10.1.0.2"], conditions: { ready: true }, targetRef: { kind: Pod, name: p2, namespace: default } }
`;

const RULE = (trafficPolicy: string) => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: default }
spec:
  host: web
  trafficPolicy: ${trafficPolicy}
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

const OUTLIER = "{ outlierDetection: { consecutive5xxErrors: 5 } }";
const NO_LOCALITY_LB = "{ outlierDetection: { consecutive5xxErrors: 5 }, loadBalancer: { localityLbSetting: { enabled: false } } }";

const ROUTES = (user: string, retryOn: string) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
    - match: [{ headers: { x-user: { exact: ${user} } } }]
      route: [{ destination: { host: web, subset: v2 } }]
      retries: { attempts: 3, retryOn: "${retryOn}" }
    - route: [{ destination: { host: web, subset: v1 } }]
      retries: { attempts: 3, retryOn: "${retryOn}" }
`;

function meshOf(...docs: string[]): MeshModel {
  return buildMesh(meshInputFrom(validObjects(docs.join("---\n"))));
}

function view(mesh: MeshModel, region: string): ProxyView {
  const parsed = parseProxy({ id: "sidecar~10.244.0.9~client.default~default.svc.cluster.local", locality: { region, zone: "a" } });
  if ("error" in parsed) throw new Error(parsed.error);
  return proxyView(parsed.proxy, selectedLabels(mesh));
}

function cla(mesh: MeshModel, proxy: ProxyView, cluster: string): ClusterLoadAssignmentJson {
  const found = translateProxy(mesh, proxy).endpoints.find((c) => c.clusterName === cluster);
  if (!found) throw new Error(`no CLA ${cluster}`);
  return found;
}

/** Address → priority (0 when unset) of each endpoint of a CLA. */
function priorities(c: ClusterLoadAssignmentJson): Record<string, number> {
  const out: Record<string, number> = {};
  for (const group of c.endpoints ?? []) for (const lb of group.lbEndpoints ?? []) out[lb.endpoint!.address!.socketAddress!.address!] = group.priority ?? 0;
  return out;
}

function addresses(c: ClusterLoadAssignmentJson): string[] {
  return (c.endpoints ?? []).flatMap((g) => (g.lbEndpoints ?? []).map((lb) => lb.endpoint!.address!.socketAddress!.address!)).sort();
}

const ALL = "outbound|8080||web.default.svc.cluster.local";
const V1 = "outbound|8080|v1|web.default.svc.cluster.local";

describe("what the translator keeps between calls", () => {
  it("keeps no CLA of an earlier endpoints model once the EDS fast path made the targets' CLAs anew", async () => {
    const first = (): { targets: readonly EdsTarget[]; old: WeakRef<ClusterLoadAssignmentJson>; model: WeakRef<object> } => {
      const mesh = meshOf(PODS("v1"), RULE(OUTLIER));
      const t = translateProxy(mesh, view(mesh, "us-east"));
      return { targets: t.edsTargets, old: new WeakRef(t.endpoints.find((c) => c.clusterName === ALL)!), model: new WeakRef(mesh.endpoints) };
    };
    // The view's part keeps its EDS targets across builds; the fast path makes their CLAs over each new model.
    const { targets, old, model } = first();
    const after = meshOf(PODS("v3"), RULE(OUTLIER));
    const fresh = targets.map((t) => edsTargetEndpoints(t, after.endpoints));
    await nextTurn();
    for (let i = 0; i < 3; i++) gc();
    expect(fresh.find((c) => c.clusterName === ALL)).not.toBe(old.deref());
    // Held, the first CLA (its encoded bytes with it) and the first model stayed beside the current ones.
    expect(old.deref()).toBeUndefined();
    expect(model.deref()).toBeUndefined();
  });

  it("gives each view over one model CLAs relative to its own locality", () => {
    const mesh = meshOf(PODS("v1"), RULE(OUTLIER));
    const east = view(mesh, "us-east");
    const west = view(mesh, "us-west");
    expect(priorities(cla(mesh, east, ALL))).toEqual({ "10.1.0.1": 0, "10.1.0.2": 1 });
    expect(priorities(cla(mesh, west, ALL))).toEqual({ "10.1.0.1": 1, "10.1.0.2": 0 });
    // The first view again: nothing of the second stuck to it.
    expect(priorities(cla(mesh, east, ALL))).toEqual({ "10.1.0.1": 0, "10.1.0.2": 1 });
  });

  it("follows a changed pod label into subsets and endpoint metadata, for the same view object", () => {
    const before = meshOf(PODS("v1"), RULE(OUTLIER));
    const proxy = view(before, "us-east");
    expect(addresses(cla(before, proxy, V1))).toEqual(["10.1.0.1"]);
    const after = meshOf(PODS("v3"), RULE(OUTLIER));
    expect(addresses(cla(after, proxy, V1))).toEqual([]);
    const workload = cla(after, proxy, ALL)
      .endpoints!.flatMap((g) => g.lbEndpoints ?? [])
      .find((lb) => lb.endpoint!.address!.socketAddress!.address === "10.1.0.1")!.metadata!.filterMetadata!["istio"];
    expect(workload).toEqual({ workload: "p1;default;web;v3;Kubernetes" });
  });

  it("follows a changed locality setting, for the same view object", () => {
    const on = meshOf(PODS("v1"), RULE(OUTLIER));
    const proxy = view(on, "us-east");
    expect(priorities(cla(on, proxy, ALL))).toEqual({ "10.1.0.1": 0, "10.1.0.2": 1 });
    const off = meshOf(PODS("v1"), RULE(NO_LOCALITY_LB));
    expect(priorities(cla(off, proxy, ALL))).toEqual({ "10.1.0.1": 0, "10.1.0.2": 0 });
  });

  it("follows a changed match and retryOn, and gives no route an array another can change", () => {
    const routesOf = (mesh: MeshModel): RouteJson[] => {
      const rc = translateProxy(mesh, view(mesh, "us-east")).routes.find((r) => r.name === "8080")!;
      return rc.virtualHosts!.find((vh) => vh.name === "web.default.svc.cluster.local:8080")!.routes!;
    };
    const first = routesOf(meshOf(PODS("v1"), RULE(OUTLIER), ROUTES("a", "5xx,503")));
    expect(first[0]!.match!.headers).toEqual([{ name: "x-user", stringMatch: { exact: "a" } }]);
    expect(first.map((r) => [r.route!.retryPolicy!.retryOn, r.route!.retryPolicy!.retriableStatusCodes])).toEqual([
      ["5xx,retriable-status-codes", [503]],
      ["5xx,retriable-status-codes", [503]],
    ]);
    // Equal retry policies are one shared object (translate/shared-json.ts): frozen, so no route changes another's.
    const [a, b] = first.map((r) => r.route!.retryPolicy!.retriableStatusCodes!);
    expect(a === b ? Object.isFrozen(a) : true).toBe(true);
    const second = routesOf(meshOf(PODS("v1"), RULE(OUTLIER), ROUTES("b", "gateway-error")));
    expect(second[0]!.match!.headers).toEqual([{ name: "x-user", stringMatch: { exact: "b" } }]);
    expect(second.map((r) => [r.route!.retryPolicy!.retryOn, r.route!.retryPolicy!.retriableStatusCodes])).toEqual([
      ["gateway-error", undefined],
      ["gateway-error", undefined],
    ]);
  });
});
