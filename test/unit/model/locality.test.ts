import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import { buildMeshState, rebuildEndpoints } from "../../../src/model/build.js";
import { endpointLabel, localityMatches, localityPriority, podLocality, splitLocality } from "../../../src/model/locality.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../support/objects.js";

const parse = (text: string): StoredObject<InputObject>[] => validObjects(text);

const pod = (labels: Record<string, string>, nodeName?: string) => ({
  apiVersion: "v1" as const,
  kind: "Pod" as const,
  metadata: { name: "p", namespace: "default", labels },
  ...(nodeName ? { spec: { nodeName } } : {}),
});
const node = (name: string, labels: Record<string, string>) => ({ apiVersion: "v1" as const, kind: "Node" as const, metadata: { name, labels } });

describe("endpoint locality", () => {
  const nodes = new Map([
    ["ga", node("ga", { "topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "z", "topology.istio.io/subzone": "s" })],
    ["beta", node("beta", { "failure-domain.beta.kubernetes.io/region": "r2", "failure-domain.beta.kubernetes.io/zone": "z2" })],
    ["bare", node("bare", { other: "x" })],
  ]);

  it("comes from the Pod's locality label first (dots or slashes), else from its Node's labels", () => {
    expect(podLocality(pod({ "topology.istio.io/locality": "a.b.c" }, "ga"), nodes)).toBe("a/b/c");
    expect(podLocality(pod({ "istio-locality": "a.b" }, "ga"), nodes)).toBe("a/b");
    expect(podLocality(pod({}, "ga"), nodes)).toBe("r/z/s");
    expect(podLocality(pod({}, "beta"), nodes)).toBe("r2/z2/");
    expect(podLocality(pod({}, "bare"), nodes)).toBe("");
    expect(podLocality(pod({}, "missing"), nodes)).toBe("");
    expect(podLocality(pod({}), nodes)).toBe("");
  });

  it("adds Istio's topology labels for subsets and failoverPriority", () => {
    const ep = { labels: { app: "a", "topology.kubernetes.io/zone": "stale" }, locality: "r/z/s", nodeName: "n1" };
    expect(endpointLabel(ep, "topology.kubernetes.io/region")).toBe("r");
    expect(endpointLabel(ep, "topology.kubernetes.io/zone")).toBe("z");
    expect(endpointLabel(ep, "topology.istio.io/subzone")).toBe("s");
    expect(endpointLabel(ep, "topology.istio.io/cluster")).toBe("Kubernetes");
    expect(endpointLabel(ep, "kubernetes.io/hostname")).toBe("n1");
    expect(endpointLabel(ep, "app")).toBe("a");
  });

  it("compares like Istio: wildcard rules, and priorities by region, zone and subzone", () => {
    const proxy = splitLocality("r/z/s");
    expect(localityMatches(proxy, "r/z/*")).toBe(true);
    expect(localityMatches(proxy, "r")).toBe(true);
    expect(localityMatches(proxy, "*")).toBe(true);
    expect(localityMatches(proxy, "r/y")).toBe(false);
    expect([
      localityPriority(proxy, splitLocality("r/z/s")),
      localityPriority(proxy, splitLocality("r/z/t")),
      localityPriority(proxy, splitLocality("r/y")),
      localityPriority(proxy, splitLocality("q")),
    ]).toEqual([0, 1, 2, 3]);
  });
});

describe("a Node change on the EDS fast path", () => {
  const base = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { clusterIP: 10.96.0.20, ports: [{ name: http, port: 80 }] }
---
apiVersion: v1
kind: Node
metadata: { name: n1, labels: { topology.kubernetes.io/region: r, topology.kubernetes.io/zone: a } }
---
apiVersion: v1
kind: Pod
metadata: { name: web-1, namespace: default, labels: { app: web } }
spec: { nodeName: n1 }
status: { podIP: 10.244.0.11 }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 80 }]
endpoints:
  - { addresses: [10.244.0.11], conditions: { ready: true }, targetRef: { kind: Pod, name: web-1, namespace: default } }
`;

  it("rebuilds the endpoints with the new locality, equal to a full build", () => {
    const objects = parse(base);
    const before = buildMeshState(meshInputFrom(objects));
    expect(before.mesh.endpoints.get("web.default.svc.cluster.local|80")?.[0]?.locality).toBe("r/a/");
    const moved = [
      ...objects.filter((o) => o.object.kind !== "Node"),
      ...parse("apiVersion: v1\nkind: Node\nmetadata: { name: n1, labels: { topology.kubernetes.io/region: r, topology.kubernetes.io/zone: b } }\n"),
    ];
    const next = rebuildEndpoints(before, meshInputFrom(moved));
    expect(next.mesh).toEqual(buildMeshState(meshInputFrom(moved)).mesh);
    expect(next.mesh.endpoints.get("web.default.svc.cluster.local|80")?.[0]?.locality).toBe("r/b/");
    expect(next.changedHosts?.has("web.default.svc.cluster.local")).toBe(true);
    // Nothing changed: the lists are reused.
    const again = rebuildEndpoints(next, meshInputFrom(moved));
    expect(again.mesh.endpoints.get("web.default.svc.cluster.local|80")).toBe(next.mesh.endpoints.get("web.default.svc.cluster.local|80"));
  });
});
