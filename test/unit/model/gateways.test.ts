// Gateways merged for one router view: selection by labels, servers per port, conflicts left out
// with a finding, VirtualServices bound by gateway name and host namespace.
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import { mergeGateways, resolveGatewayName } from "../../../src/model/gateways.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../support/objects.js";

const INPUT = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public, namespace: istio-system, creationTimestamp: "2024-01-01T00:00:00Z" }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*/bookinfo.app", "shop/*.shop.com"]
    - port: { number: 443, name: https, protocol: HTTPS }
      hosts: ["a.example.com"]
      tls: { mode: SIMPLE, credentialName: a-cert }
    - port: { number: 443, name: https-b, protocol: HTTPS }
      hosts: ["a.example.com", "b.example.com"]
      tls: { mode: SIMPLE, credentialName: b-cert }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: late, namespace: shop, creationTimestamp: "2024-01-02T00:00:00Z" }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: tls80, protocol: TLS }
      hosts: ["*"]
      tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: other, namespace: istio-system }
spec:
  selector: { istio: egressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z" }
spec:
  hosts: [bookinfo.app]
  gateways: [istio-system/public]
  http: [{ route: [{ destination: { host: productpage } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z" }
spec:
  hosts: [www.shop.com]
  gateways: [istio-system/public]
  http: [{ route: [{ destination: { host: web } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z" }
spec:
  hosts: ["*"]
  gateways: [istio-system/public, missing]
  http: [{ route: [{ destination: { host: web } }] }]
`;

function merged(labels: Record<string, string>) {
  const mesh = buildMesh(meshInputFrom(validObjects(INPUT)));
  const parsed = parseProxy({ id: "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local", metadata: { LABELS: labels } });
  if (!("proxy" in parsed)) throw new Error(parsed.error);
  return { mesh, m: mergeGateways(mesh.gateways ?? [], mesh.virtualServices, proxyView(parsed.proxy, selectedLabels(mesh)), mesh.services) };
}

describe("mergeGateways", () => {
  it("selects by labels and merges servers per port, leaving conflicting ones out with a finding", () => {
    const { m } = merged({ istio: "ingressgateway", app: "x" });
    expect(m.gateways).toEqual(["istio-system/public", "shop/late"]);
    expect(m.ports.map((p) => [p.port, p.kind, p.servers.map((s) => s.routeName ?? s.handling)])).toEqual([
      [80, "http", ["http.80"]],
      [443, "tls", ["https.443.https.public.istio-system", "https.443.https-b.public.istio-system"]],
    ]);
    // The later server keeps only the host no earlier server on the port has.
    expect(m.ports[1]!.servers[1]!.hosts).toEqual(["b.example.com"]);
    expect(m.diagnostics.map((d) => `${d.code} ${d.object?.namespace}/${d.object?.name} ${d.path}`)).toEqual([
      "MP0502 istio-system/public spec.servers[2]",
      "MP0502 shop/late spec.servers[0]",
    ]);
  });

  it("binds VirtualServices by gateway and host namespace", () => {
    const { m } = merged({ istio: "ingressgateway" });
    const http = m.ports[0]!.servers[0]!;
    // default/shop is outside the namespace `shop/*.shop.com` admits; shop/shop's `*` meets both server hosts.
    expect(http.virtualServices.map((b) => [`${b.virtualService.namespace}/${b.virtualService.name}`, b.hosts])).toEqual([
      ["default/bookinfo", ["bookinfo.app"]],
      ["shop/shop", ["bookinfo.app", "*.shop.com"]],
    ]);
  });

  it("serves nothing to a router no Gateway selects", () => {
    const { m } = merged({ app: "x" });
    expect(m.ports).toEqual([]);
  });

  it("reports a VirtualService bound to a Gateway that does not exist", () => {
    const { mesh } = merged({});
    expect(mesh.diagnostics.filter((d) => d.code === "IST0101").map((d) => `${d.object?.name} ${d.path}: ${d.message}`)).toEqual([
      'shop spec.gateways[1]: Referenced gateway not found: "missing" (shop/missing); the VirtualService is bound to no gateway proxy through it',
    ]);
  });

  it("resolves gateway names as Istio does", () => {
    expect(resolveGatewayName("mesh", "a")).toBe("mesh");
    expect(resolveGatewayName("gw", "a")).toBe("a/gw");
    expect(resolveGatewayName("b/gw", "a")).toBe("b/gw");
    expect(resolveGatewayName("gw.b", "a")).toBe("b/gw");
  });
});
