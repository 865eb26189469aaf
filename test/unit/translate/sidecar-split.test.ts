// A sidecar's translation is its outbound side, shared by every proxy whose labels agree through
// the outbound selection, composed with its own inbound side. The composition must be exactly the
// unsplit translation: checked on every golden case, for the case's proxy and for a pod of each of
// its Services (each with labels of its own that no configuration reads).
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import type { MeshModel } from "../../../src/model/ir.js";
import { parseProxy, proxyView, sharedView, type NodeLike, type ProxyView } from "../../../src/model/proxy.js";
import { outboundLabels, selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { composeProxy, translateOwn, translateProxy, translateShared } from "../../../src/translate/proxy.js";
import { caseNodes, goldenCaseInput, goldenCases } from "../../support/golden-cases.js";
import { validObjects } from "../../support/objects.js";

function viewOf(mesh: MeshModel, node: NodeLike): ProxyView {
  const parsed = parseProxy(node);
  if ("error" in parsed) throw new Error(parsed.error);
  return proxyView(parsed.proxy, selectedLabels(mesh));
}

describe("sidecar translation split into a shared outbound side and an own inbound side", () => {
  for (const name of goldenCases()) {
    it(`${name}: composed = unsplit, for the case's proxy and a pod of each Service`, () => {
      const c = goldenCaseInput(name);
      const parsed = parseProxy(c.node);
      if ("error" in parsed) throw new Error(parsed.error);
      const mesh = buildMesh(meshInputFrom(c.objects), parsed.proxy.dnsDomain, c.meshConfig);
      const outbound = outboundLabels(mesh);
      for (const node of caseNodes(mesh, c.node)) {
        const view = viewOf(mesh, node);
        const whole = translateProxy(mesh, view);
        const shared = translateShared(mesh, sharedView(view, outbound));
        const composed = view.type === "router" ? shared : composeProxy(shared, translateOwn(mesh, view));
        // EDS recipes carry the proxy's labels, of which a ClusterLoadAssignment reads only the
        // failoverPriority ones (in the outbound selection): the CLAs themselves must be equal.
        const { edsTargets: _a, ...rest } = composed;
        const { edsTargets: _b, ...wholeRest } = whole;
        expect(rest, `${name}, proxy ${node.id}`).toEqual(wholeRest);
        expect(composed.edsTargets.map((t) => t.cluster)).toEqual(whole.edsTargets.map((t) => t.cluster));
      }
    });
  }
});

const MESH = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { clusterIP: 10.96.0.21, selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - match: [{ sourceLabels: { app: ratings } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
    - route: [{ destination: { host: reviews, subset: v1 } }]
`;

describe("outboundLabels", () => {
  const mesh = buildMesh(meshInputFrom(validObjects(MESH, { strict: true })));
  const pod = (app: string, hash: string): ProxyView =>
    viewOf(mesh, { id: `sidecar~10.244.0.9~${app}-${hash}.default~default.svc.cluster.local`, metadata: { LABELS: { app, "pod-template-hash": hash } } });

  it("holds what outbound configuration reads, not the Service selectors", () => {
    const out = outboundLabels(mesh);
    expect([...out.keys()]).toEqual(["app"]);
    expect([...(out.get("app") as ReadonlySet<string>)]).toEqual(["ratings"]);
    expect(selectedLabels(mesh).get("app")).toEqual(new Set(["reviews", "ratings"]));
  });

  it("gives pods of different Services one outbound view, unless sourceLabels tell them apart", () => {
    const out = outboundLabels(mesh);
    const [reviews, other, ratings] = [pod("reviews", "a1"), pod("other", "b2"), pod("ratings", "c3")];
    expect(reviews.labels).not.toEqual(other.labels);
    expect(sharedView(reviews, out)).toEqual(sharedView(other, out));
    expect(sharedView(ratings, out).labels).toEqual({ app: "ratings" });
    const route = (v: ProxyView): unknown =>
      translateShared(mesh, sharedView(v, out)).routes[0]!.virtualHosts!.find((h) => h.name!.startsWith("reviews"))!.routes![0]!.route;
    expect(route(ratings)).toMatchObject({ cluster: "outbound|9080|v2|reviews.default.svc.cluster.local" });
    expect(route(reviews)).toMatchObject({ cluster: "outbound|9080|v1|reviews.default.svc.cluster.local" });
  });
});
