// ServiceEntries in the registry: one service per host, visibility by exportTo, endpoints per
// resolution, WorkloadEntries as endpoints of entries and Services that select them, and
// endpoint-only rebuilds that keep them.
import { describe, expect, it } from "vitest";
import { buildMeshState, rebuildEndpoints } from "../../../src/model/build.js";
import { endpointKey, type MeshModel } from "../../../src/model/ir.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { buildProxyScope, serviceMtls } from "../../../src/model/scope.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { validObjects } from "../../support/objects.js";

const INPUT = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: shop }
spec:
  hosts: [a.example.com, b.example.com]
  resolution: DNS
  ports: [{ number: 443, name: https, protocol: HTTPS }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: local-only, namespace: shop }
spec:
  hosts: [local.example.com]
  addresses: [240.0.0.1]
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: vm } }
  exportTo: ["."]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-1, namespace: shop }
spec: { address: 10.1.0.1, labels: { app: vm }, ports: { http: 8081 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: other-vm, namespace: shop }
spec: { address: 10.1.0.2, labels: { app: other } }
---
apiVersion: v1
kind: Service
metadata: { name: other, namespace: shop }
spec: { clusterIP: 10.96.0.9, selector: { app: other }, ports: [{ name: http, port: 80, targetPort: 9000 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: other-1, namespace: shop, labels: { kubernetes.io/service-name: other } }
addressType: IPv4
ports: [{ name: http, port: 9000 }]
endpoints: [{ addresses: [10.244.0.5], conditions: { ready: true } }]
`;

const state = () => buildMeshState(meshInputFrom(validObjects(INPUT, { strict: true })));
const view = (m: MeshModel, ns: string) => {
  const parsed = parseProxy({ id: `sidecar~10.244.0.9~client.${ns}~${ns}.svc.cluster.local` });
  if ("error" in parsed) throw new Error(parsed.error);
  return proxyView(parsed.proxy, selectedLabels(m));
};

describe("ServiceEntries in the registry", () => {
  it("makes one service per host, next to the Kubernetes Services", () => {
    const { mesh } = state();
    expect([...mesh.services.keys()]).toEqual(["a.example.com", "b.example.com", "local.example.com", "other.shop.svc.cluster.local"]);
    expect(mesh.services.get("a.example.com")!.entry).toMatchObject({ resolution: "DNS", location: "MESH_EXTERNAL" });
    expect(mesh.services.get("a.example.com")!.entry!.dnsEndpoints!.get(443)).toEqual([{ address: "a.example.com", port: 443, labels: {}, namespace: "shop" }]);
  });

  it("gives STATIC entries their selected WorkloadEntries, and Services the WorkloadEntries they select", () => {
    const { mesh } = state();
    expect(mesh.endpoints.get(endpointKey("local.example.com", 80))!.map((e) => `${e.address}:${e.port}`)).toEqual(["10.1.0.1:8081"]);
    expect(mesh.endpoints.get(endpointKey("other.shop.svc.cluster.local", 80))!.map((e) => `${e.address}:${e.port}`)).toEqual([
      "10.244.0.5:9000",
      "10.1.0.2:9000",
    ]);
  });

  it("honours exportTo: an entry exported to its namespace is invisible elsewhere", () => {
    const { mesh } = state();
    const hosts = (ns: string) => buildProxyScope(mesh, view(mesh, ns)).services.map((s) => s.service.hostname);
    expect(hosts("shop")).toContain("local.example.com");
    expect(hosts("web")).not.toContain("local.example.com");
    const clusters = translateProxy(mesh, view(mesh, "web")).clusters.map((c) => c.name ?? "");
    expect(clusters).toContain("outbound|443||a.example.com");
    expect(clusters.some((c) => c.includes("local.example.com"))).toBe(false);
  });

  it("keeps WorkloadEntry endpoints through an endpoint-only rebuild", () => {
    const before = state();
    const moved = validObjects(INPUT.replace("10.244.0.5", "10.244.0.6"), { strict: true });
    const after = rebuildEndpoints(before, meshInputFrom(moved));
    expect(after.mesh.endpoints.get(endpointKey("other.shop.svc.cluster.local", 80))!.map((e) => e.address)).toEqual(["10.244.0.6", "10.1.0.2"]);
    expect(after.mesh.endpoints.get(endpointKey("local.example.com", 80))).toBe(before.mesh.endpoints.get(endpointKey("local.example.com", 80)));
  });

  it("follows location for auto mTLS: workloads with a serviceAccount are members; MESH_EXTERNAL never gets it", () => {
    const entry = (name: string, location: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: shop }
spec:
  hosts: [${name}.example]
  addresses: [240.0.0.${name.length}]
  location: ${location}
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: inv } }
---`;
    const wle = (name: string, labels: string, sa: string) => `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: shop }
spec: { address: 10.1.0.${name.length}, labels: { app: inv${labels} }${sa ? `, serviceAccount: ${sa}` : ""} }
---`;
    const build = (wles: string) =>
      buildMeshState(meshInputFrom(validObjects(entry("int", "MESH_INTERNAL") + entry("external", "MESH_EXTERNAL") + wles, { strict: true }))).mesh;
    const withAccount = build(wle("a", "", "inv"));
    expect(serviceMtls(withAccount, withAccount.services.get("int.example")!)).toEqual({ identities: ["spiffe://cluster.local/ns/shop/sa/inv"], auto: true });
    expect(serviceMtls(withAccount, withAccount.services.get("external.example")!)?.auto).toBe(false);
    // An explicit tlsMode label wins over the account; no account and no label: not a member.
    const disabled = build(wle("a", ", security.istio.io/tlsMode: disabled", "inv") + wle("bb", "", ""));
    expect(serviceMtls(disabled, disabled.services.get("int.example")!)).toBeUndefined();
    expect(disabled.endpoints.get(endpointKey("int.example", 80))!.map((e) => e.labels["security.istio.io/tlsMode"] ?? "-")).toEqual(["disabled", "-"]);
  });
});
