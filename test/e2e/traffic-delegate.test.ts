/**
 * Delegate VirtualServices through a real Envoy: a root VirtualService hands path prefixes to
 * delegates (one in its namespace, one in another), whose rules are merged with the root's
 * (matches narrowed, root headers inherited); a missing delegate and a delegate rule outside the
 * root's match fall through to later root rules; editing only the delegate changes the traffic.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { destinationRuleYaml, eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

const root = `${destinationRuleYaml("web", { subsets: ["v1", "v2"] })}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
    - name: shop
      match: [{ uri: { prefix: /shop } }]
      delegate: { name: shop }
      headers: { request: { set: { x-root: shop } } }
    - name: reviews
      match: [{ uri: { prefix: /reviews } }]
      delegate: { name: reviews, namespace: team-b }
    - name: missing
      match: [{ uri: { prefix: /missing } }]
      delegate: { name: nowhere }
    - name: rest
      route: [{ destination: { host: fallback } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: team-b }
spec:
  http:
    - route: [{ destination: { host: reviews.default.svc.cluster.local } }]
`;

const shop = (defaultSubset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: default }
spec:
  http:
    - name: testers
      match: [{ headers: { x-user: { exact: jason } } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: outside
      match: [{ uri: { prefix: /admin } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - route: [{ destination: { host: web, subset: ${defaultSubset} } }]
`;

let mesh: TrafficMesh;

beforeAll(async () => {
  mesh = await startTrafficMesh({
    name: "delegate",
    services: [
      { name: "web", workloads: [{ version: "v1" }, { version: "v2" }] },
      { name: "reviews", workloads: [{ version: "r1" }] },
      { name: "fallback", workloads: [{ version: "f1" }] },
    ],
    istio: () => `${root}---\n${shop("v1")}`,
  });
  await eventually(
    async () => (await mesh.get("web", "/shop/x", { headers: { "x-user": "jason" } })).headers["x-backend-version"] === "v2",
    "the merged routes in Envoy",
  );
});
afterAll(() => mesh?.stop());
beforeEach(() => mesh.resetBackends());

const version = async (path: string, headers: Record<string, string> = {}) => (await mesh.get("web", path, { headers })).headers["x-backend-version"];

describe("delegate VirtualServices", () => {
  it("a delegate's rules apply inside the root's match, with the root's header operations", async () => {
    expect(await version("/shop/cart", { "x-user": "jason" })).toBe("v2");
    expect(await version("/shop/cart")).toBe("v1");
    expect(mesh.backend("web", "v1").requests.at(-1)?.headers["x-root"]).toBe("shop");
    // The delegate's header rule is narrowed by the root's prefix: elsewhere it does not apply.
    expect(await version("/other", { "x-user": "jason" })).toBe("f1");
  });

  it("a delegate in another namespace routes its prefix", async () => {
    expect(await version("/reviews/1")).toBe("r1");
    expect(mesh.backend("reviews", "r1").count).toBe(1);
  });

  it("a missing delegate and a delegate rule outside the root's match fall through to later root rules", async () => {
    expect(await version("/missing/page")).toBe("f1");
    expect(await version("/admin")).toBe("f1");
    expect(await version("/shop/admin")).toBe("v1");
    expect(mesh.backend("web", "v2").count).toBe(0);
  });

  it("editing only the delegate changes the merged routes", async () => {
    mesh.setIstio(`${root}---\n${shop("v2")}`);
    await eventually(async () => (await version("/shop/cart")) === "v2", "the edited delegate in Envoy");
    for (let i = 0; i < 5; i++) expect(await version("/shop/cart")).toBe("v2");
    expect(await version("/reviews/1")).toBe("r1");
    mesh.setIstio(`${root}---\n${shop("v1")}`);
    await eventually(async () => (await version("/shop/cart")) === "v1", "the delegate restored");
  });
});
