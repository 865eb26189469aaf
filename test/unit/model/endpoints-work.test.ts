// buildEndpoints reads each slice endpoint's Pod once, however many ports the service has: a
// lookup builds a key string and hashes it, and 1000 services hold ten thousand endpoints.
import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import type { EndpointSlice, Node, Pod } from "../../../src/api/kube-types.js";
import { buildEndpoints, endpointWork } from "../../../src/model/endpoints.js";
import { buildServices } from "../../../src/model/services.js";

const ns = "shop";
const ports = [
  { name: "http", port: 80, targetPort: 8080 },
  { name: "grpc", port: 90, targetPort: 9090 },
  { name: "admin", port: 99, targetPort: 9999 },
];
const service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "cart", namespace: ns },
  spec: { clusterIP: "10.0.0.9", selector: { app: "cart" }, ports },
} as const;
const pod = (i: number): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: `cart-${i}`, namespace: ns, labels: { app: "cart", version: `v${i % 2}` } },
  spec: { nodeName: `node-${i % 2}`, containers: [] },
  status: { podIP: `10.1.0.${i}`, podIPs: [{ ip: `10.1.0.${i}` }] },
});
const node = (i: number): Node => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: `node-${i}`, labels: { "topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": `z${i}` } },
});
// Four endpoints with their Pods, one naming a Pod not known, one not ready, one without targetRef.
const slice: EndpointSlice = {
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: "cart-x", namespace: ns, labels: { "kubernetes.io/service-name": "cart" } },
  addressType: "IPv4",
  ports: ports.map((p) => ({ name: p.name, port: p.targetPort })),
  endpoints: [
    ...[0, 1, 2, 3].map((i) => ({ addresses: [`10.1.0.${i}`], targetRef: { kind: "Pod", name: `cart-${i}`, namespace: ns } })),
    { addresses: ["10.1.0.7"], targetRef: { kind: "Pod", name: "cart-gone", namespace: ns } },
    { addresses: ["10.1.0.8"], conditions: { ready: false }, targetRef: { kind: "Pod", name: "cart-8", namespace: ns } },
    { addresses: ["10.1.0.2"] },
  ],
};

describe("buildEndpoints", () => {
  it("looks each endpoint's Pod up once for all ports, and reports a missing Pod once", () => {
    const stored = <T extends InputObject>(object: T): StoredObject<T> => ({ object }) as StoredObject<T>;
    const { services } = buildServices([stored(service as never)], "cluster.local");
    const before = endpointWork.podLookups;
    const r = buildEndpoints(
      [stored(slice)],
      [0, 1, 2, 3].map((i) => stored(pod(i))),
      services,
      "cluster.local",
      undefined,
      [0, 1].map((i) => stored(node(i))),
    );
    // Five targetRefs once each; the address without one by IP, once per port (as before).
    expect(endpointWork.podLookups - before).toBe(5 + 3);
    expect(r.diagnostics.map((d) => [d.code, d.path])).toEqual([["MP0201", "endpoints[4].targetRef"]]);
    for (const p of ports) {
      const list = r.endpoints.get(`cart.${ns}.svc.cluster.local|${p.port}`)!;
      expect(list.map((ep) => [ep.address, ep.port, ep.podName, ep.locality, ep.labels["version"]])).toEqual([
        ["10.1.0.0", p.targetPort, "cart-0", "r/z0/", "v0"],
        ["10.1.0.1", p.targetPort, "cart-1", "r/z1/", "v1"],
        ["10.1.0.2", p.targetPort, "cart-2", "r/z0/", "v0"],
        ["10.1.0.2", p.targetPort, "cart-2", "r/z0/", "v0"],
        ["10.1.0.3", p.targetPort, "cart-3", "r/z1/", "v1"],
      ]);
    }
  });
});
