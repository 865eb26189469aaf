/** The findings the gateway and Sidecar kinds brought: when they judge, what they say, and what they leave alone. */
import { describe, expect, it } from "vitest";
import { analysisFindings, analyzeMesh } from "../../../src/analyze/analyze.js";
import { buildMesh } from "../../../src/model/build.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../support/objects.js";
import { BASE } from "./finding-cases.js";

function findings(yaml: string, code: string, pods?: "none"): string[] {
  const input = meshInputFrom(validObjects(BASE + yaml, { strict: true }));
  const mesh = buildMesh(input);
  return analysisFindings(analyzeMesh(mesh, undefined, pods === "none" ? [] : input.pods), () => undefined)
    .filter((d) => d.code === code)
    .map((d) => `${d.object?.kind} ${d.object?.namespace}/${d.object?.name} ${d.path}: ${d.message}`);
}

const GATEWAY = `
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: web, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
`;
const ingressPod = (ns: string, labels: string) => `
---
apiVersion: v1
kind: Pod
metadata: { name: ingress-1, namespace: ${ns}, labels: { ${labels} } }
status: { podIP: 10.244.0.20 }
`;

describe("IST0101 for a Gateway that selects no pod", () => {
  it("names the selector and says what it means", () => {
    expect(findings(GATEWAY, "IST0101")).toEqual([
      `Gateway istio-system/web spec.selector: Referenced selector not found: "istio=ingressgateway": no pod has these labels, so no gateway proxy serves this Gateway and its servers accept no traffic`,
    ]);
  });

  it("matches pods in any namespace (Istio does not scope Gateways to their namespace by default)", () => {
    expect(findings(GATEWAY + ingressPod("ingress", "istio: ingressgateway"), "IST0101")).toEqual([]);
  });

  it("needs every selector label on one pod", () => {
    const gw = GATEWAY.replace("{ istio: ingressgateway }", "{ istio: ingressgateway, app: edge }");
    expect(findings(gw + ingressPod("ingress", "istio: ingressgateway"), "IST0101")).toHaveLength(1);
    expect(findings(gw + ingressPod("ingress", "istio: ingressgateway, app: edge"), "IST0101")).toEqual([]);
  });

  it("stays silent when the input has no pods at all (gateway proxies started by hand)", () => {
    expect(findings(GATEWAY, "IST0101", "none")).toEqual([]);
  });

  it("leaves Gateways converted from the Gateway API to their own status", () => {
    const gwapi = `
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: meshpilot }
spec: { controllerName: meshpilot.io/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { gatewayClassName: meshpilot, listeners: [{ name: http, port: 80, protocol: HTTP }] }
`;
    expect(findings(gwapi, "IST0101")).toEqual([]);
  });

  it("is judged again when only pods change (the endpoint fast path)", () => {
    const before = meshInputFrom(validObjects(BASE + GATEWAY, { strict: true }));
    const first = analyzeMesh(buildMesh(before), undefined, before.pods);
    expect(first.endpoints.filter((d) => d.code === "IST0101")).toHaveLength(1);
    const after = meshInputFrom(validObjects(BASE + GATEWAY + ingressPod("istio-system", "istio: ingressgateway"), { strict: true }));
    const again = analyzeMesh(buildMesh(after), first, after.pods);
    expect(again.endpoints.filter((d) => d.code === "IST0101")).toEqual([]);
  });
});

const sidecar = (hosts: string, ns = "default") => `
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: scoped, namespace: ${ns} }
spec:
  egress: [{ hosts: [${hosts}] }]
`;
const ROUTE = `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - match: [{ headers: { x-test: { exact: "1" } } }]
      route: [{ destination: { host: ratings } }]
    - route: [{ destination: { host: reviews } }]
`;

describe("MP0901 for a Sidecar that hides a host a route uses", () => {
  it("names the hidden host, the VirtualService and the route, on the Sidecar's egress hosts", () => {
    expect(findings(sidecar("./reviews.default.svc.cluster.local") + ROUTE, "MP0901")).toEqual([
      `Sidecar default/scoped spec.egress[0].hosts: the egress hosts do not include "default/ratings.default.svc.cluster.local", which VirtualService default/reviews (spec.http[0].route[0].destination) routes to: the proxies this Sidecar applies to get that route but no cluster for it, so those requests fail with 503 (cluster not found); add the host to the egress hosts or route elsewhere`,
    ]);
  });

  it("accepts any egress listener that imports the host, wildcards included", () => {
    expect(findings(sidecar("./reviews.default.svc.cluster.local, ./*") + ROUTE, "MP0901")).toEqual([]);
    expect(findings(sidecar('"*/*"') + ROUTE, "MP0901")).toEqual([]);
  });

  it("does not judge routes its proxies never get (a VirtualService for a host the Sidecar does not import)", () => {
    expect(findings(sidecar("./ratings.default.svc.cluster.local") + ROUTE, "MP0901")).toEqual([]);
  });

  it("judges a Sidecar of another namespace for what that namespace sees", () => {
    expect(findings(sidecar("default/reviews.default.svc.cluster.local", "shop") + ROUTE, "MP0901")).toHaveLength(1);
    expect(findings(sidecar('default/reviews.default.svc.cluster.local, "default/ratings.default.svc.cluster.local"', "shop") + ROUTE, "MP0901")).toEqual([]);
  });
});

const STRICT_PA = `
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: pa, namespace: default }
spec: { mtls: { mode: MODE } }
`;
const rule = (tls: string) => `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews, trafficPolicy: { tls: { mode: ${tls} } } }
`;

describe("MP0871 both ways", () => {
  it("reports ISTIO_MUTUAL to workloads whose PeerAuthentication DISABLEs mTLS, naming policy, port and pod", () => {
    expect(findings(STRICT_PA.replace("MODE", "DISABLE") + rule("ISTIO_MUTUAL"), "MP0871")).toEqual([
      "DestinationRule default/reviews spec.trafficPolicy.tls.mode: tls mode ISTIO_MUTUAL sends mTLS to reviews.default.svc.cluster.local, but PeerAuthentication default/pa disables mTLS on workload port 9080 of its pods (e.g. reviews-v1): their sidecars take only plaintext there, so these connections fail; drop the tls setting (auto mTLS follows the PeerAuthentication), or enable mTLS in the PeerAuthentication",
    ]);
  });

  it("leaves the modes that work together alone", () => {
    for (const [pa, tls] of [
      ["PERMISSIVE", "ISTIO_MUTUAL"],
      ["PERMISSIVE", "DISABLE"],
      ["STRICT", "ISTIO_MUTUAL"],
      ["DISABLE", "DISABLE"],
    ])
      expect(findings(STRICT_PA.replace("MODE", pa!) + rule(tls!), "MP0871"), `${pa} / ${tls}`).toEqual([]);
  });
});
