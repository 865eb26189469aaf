/**
 * VirtualService routing through a real Envoy: matches (header, uri, method, query, authority,
 * sourceLabels, ignoreUriCase, port) pick the version, a catch-all above a
 * narrow rule shadows it, redirect, direct response, rewrite and header operations as the backend
 * and client see them, mirroring, and CORS preflight.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTrafficMesh, type MeshAddressing, type TrafficMesh } from "./traffic-fixture.js";

const istio = (m: MeshAddressing): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: default }
spec:
  host: web
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
    - name: by-header
      match: [{ headers: { x-user: { exact: jason } } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: by-uri
      match: [{ uri: { prefix: /beta/ } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: by-method
      match: [{ method: { exact: DELETE } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: by-query
      match: [{ queryParams: { tier: { exact: gold } } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: by-authority
      match: [{ authority: { regex: "web:[0-9]+" } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: by-source-labels
      match: [{ uri: { prefix: /src/mine }, sourceLabels: { app: client } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: by-other-source-labels
      match: [{ uri: { prefix: /src/theirs }, sourceLabels: { app: someone-else } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: ignore-case
      match: [{ uri: { exact: /CaseTest }, ignoreUriCase: true }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: by-port
      match: [{ uri: { prefix: /port/right }, port: ${m.port("web")} }, { uri: { prefix: /port/wrong }, port: ${m.port("web") + 1} }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: without-header
      match: [{ uri: { prefix: /private }, withoutHeaders: { x-token: {} } }]
      directResponse: { status: 401, body: { string: "token required\\n" } }
    - name: redirect
      match: [{ uri: { prefix: /old } }]
      redirect: { uri: /new/place, authority: elsewhere.example, redirectCode: 302 }
    - name: rewrite
      match: [{ uri: { prefix: /api/v1/ } }]
      rewrite: { uri: /internal/ }
      headers:
        request: { set: { x-added: "yes" }, remove: [x-remove-me] }
        response: { set: { x-resp: hello } }
      route:
        - destination: { host: web, subset: v1 }
          headers: { request: { add: { x-dest: v1 } } }
    - name: regex-rewrite
      match: [{ uri: { regex: "/users/[0-9]+/profile" } }]
      rewrite: { uriRegexRewrite: { match: "^/users/([0-9]+)/profile$", rewrite: "/profiles/\\\\1" } }
      route: [{ destination: { host: web, subset: v1 } }]
    - name: mirrored
      match: [{ uri: { prefix: /mirror } }]
      mirror: { host: shadow }
      route: [{ destination: { host: web, subset: v1 } }]
    - name: cors
      match: [{ uri: { prefix: /cors } }]
      corsPolicy:
        allowOrigins: [{ exact: "https://ok.example" }]
        allowMethods: [GET, POST]
        allowHeaders: [x-token]
        maxAge: 1h
      route: [{ destination: { host: web, subset: v1 } }]
    - name: everything-else
      route: [{ destination: { host: web, subset: v1 } }]
    - name: shadowed
      match: [{ uri: { prefix: /narrow } }]
      route: [{ destination: { host: web, subset: v2 } }]
`;

let mesh: TrafficMesh;

beforeAll(async () => {
  mesh = await startTrafficMesh({
    name: "routing",
    services: [
      { name: "web", workloads: [{ version: "v1" }, { version: "v2" }] },
      { name: "shadow", workloads: [{ version: "s1" }] },
    ],
    istio,
  });
  await eventually(async () => (await mesh.get("web", "/beta/x")).headers["x-backend-version"] === "v2", "the VirtualService in Envoy");
});
afterAll(() => mesh?.stop());
beforeEach(() => mesh.resetBackends());

const version = async (path: string, opts: Parameters<TrafficMesh["get"]>[2] = {}) => (await mesh.get("web", path, opts)).headers["x-backend-version"];

describe("matches pick the version", () => {
  it("header, uri, method, query and authority send to v2; anything else to v1", async () => {
    expect(await version("/", { headers: { "x-user": "jason" } })).toBe("v2");
    expect(await version("/", { headers: { "x-user": "jasonx" } })).toBe("v1");
    expect(await version("/beta/page")).toBe("v2");
    expect(await version("/betamax")).toBe("v1");
    expect(await version("/thing", { method: "DELETE" })).toBe("v2");
    expect(await version("/thing", { method: "PUT" })).toBe("v1");
    expect(await version("/list?tier=gold")).toBe("v2");
    expect(await version("/list?tier=silver")).toBe("v1");
    expect(await version("/", { host: `web:${mesh.port("web")}` })).toBe("v2");
    expect(await version("/", { host: "web" })).toBe("v1");
  });

  it("sourceLabels, ignoreUriCase and port narrow a match as Istio does", async () => {
    // The client sidecar's pod is labelled app=client.
    expect(await version("/src/mine")).toBe("v2");
    expect(await version("/src/theirs")).toBe("v1");
    expect(await version("/casetest")).toBe("v2");
    expect(await version("/CASETEST")).toBe("v2");
    expect(await version("/casetest/more")).toBe("v1");
    // A match block for another port does not land on this port's routes at all.
    expect(await version("/port/right")).toBe("v2");
    expect(await version("/port/wrong")).toBe("v1");
  });

  it("a catch-all rule above a narrow one shadows it, as in Envoy (the narrow rule is never reached)", async () => {
    for (let i = 0; i < 5; i++) expect(await version("/narrow/x")).toBe("v1");
    expect(mesh.backend("web", "v2").count).toBe(0);
  });

  it("withoutHeaders matches only when the header is absent", async () => {
    const denied = await mesh.get("web", "/private/data");
    expect(denied.status).toBe(401);
    expect(denied.body).toBe("token required\n");
    const allowed = await mesh.get("web", "/private/data", { headers: { "x-token": "t" } });
    expect(allowed.status).toBe(200);
  });
});

describe("actions", () => {
  it("redirect answers with the configured code and Location, without reaching a backend", async () => {
    const res = await mesh.get("web", "/old/page?q=1");
    expect(res.status).toBe(302);
    expect(res.headers["location"]).toBe("http://elsewhere.example/new/place?q=1");
    expect(mesh.backend("web", "v1").count + mesh.backend("web", "v2").count).toBe(0);
  });

  it("rewrite and header operations are seen by the backend and the client", async () => {
    const res = await mesh.get("web", "/api/v1/items/7", { headers: { "x-remove-me": "secret" } });
    expect(res.status).toBe(200);
    expect(res.headers["x-resp"]).toBe("hello");
    const seen = mesh.backend("web", "v1").requests.at(-1)!;
    expect(seen.path).toBe("/internal/items/7");
    expect(seen.headers["x-added"]).toBe("yes");
    expect(seen.headers["x-dest"]).toBe("v1");
    expect(seen.headers["x-remove-me"]).toBeUndefined();
  });

  it("uriRegexRewrite substitutes capture groups", async () => {
    expect((await mesh.get("web", "/users/42/profile")).status).toBe(200);
    expect(mesh.backend("web", "v1").requests.at(-1)?.path).toBe("/profiles/42");
  });

  it("a mirror backend receives copies while the client sees only the primary", async () => {
    const n = 10;
    for (let i = 0; i < n; i++) {
      const res = await mesh.get("web", `/mirror/${i}`);
      expect(res.headers["x-backend-version"]).toBe("v1");
    }
    const shadow = mesh.backend("shadow", "s1");
    await eventually(() => shadow.count === n, `${n} mirrored requests`, 10_000);
    expect(shadow.requests.map((r) => r.path).sort()).toEqual(Array.from({ length: n }, (_, i) => `/mirror/${i}`).sort());
    expect(mesh.backend("web", "v1").count).toBe(n);
  });

  it("CORS preflight is answered by Envoy for an allowed origin", async () => {
    const res = await mesh.get("web", "/cors/x", {
      method: "OPTIONS",
      headers: { origin: "https://ok.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe("https://ok.example");
    expect(res.headers["access-control-allow-methods"]).toBe("GET,POST");
    expect(res.headers["access-control-max-age"]).toBe("3600");
    expect(mesh.backend("web", "v1").count).toBe(0);
    const simple = await mesh.get("web", "/cors/x", { headers: { origin: "https://ok.example" } });
    expect(simple.headers["access-control-allow-origin"]).toBe("https://ok.example");
    const other = await mesh.get("web", "/cors/x", { headers: { origin: "https://evil.example" } });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });
});
