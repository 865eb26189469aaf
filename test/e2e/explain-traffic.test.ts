/**
 * `meshpilot explain` agrees with a real Envoy: for each request (a header match, a weighted split,
 * a rule shadowed by an earlier one, a fault, a redirect, a request no route takes) explain is asked
 * about the running meshpilot's config for the connected Envoy, then the request is sent through
 * that Envoy, and what answers is what explain named: the version behind the clusters it picked, the
 * status and Location of a redirect, the fault's status, the 404. The split is measured and must lie
 * in the binomial band of the explained weights. The offline explanation (from the config directory)
 * must say the same as the live one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainCommand } from "../../src/cli/explain.js";
import type { Explanation } from "../../src/explain/explain.js";
import { binomialBand } from "../support/backend.js";
import { destinationRuleYaml, eventually, startTrafficMesh, type MeshAddressing, type TrafficMesh } from "./traffic-fixture.js";

const istio = (m: MeshAddressing): string => `${destinationRuleYaml("web", { subsets: ["v1", "v2", "v3"] })}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
    - name: tester
      match: [{ headers: { x-test-user: { exact: "true" } } }]
      route: [{ destination: { host: web, subset: v3 } }]
    - name: teapot
      match: [{ uri: { prefix: /teapot } }]
      fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
      route: [{ destination: { host: web, subset: v1 } }]
    - name: moved
      match: [{ uri: { exact: /old } }]
      redirect: { uri: /new, authority: elsewhere.example, redirectCode: 302 }
    - name: api
      match: [{ uri: { prefix: /api } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - name: api-v1
      match: [{ uri: { prefix: /api/v1 } }]
      route: [{ destination: { host: web, subset: v1 } }]
    - name: split
      match: [{ uri: { prefix: /split } }]
      route:
        - { destination: { host: web, subset: v1 }, weight: 70 }
        - { destination: { host: web, subset: v2 }, weight: 30 }
# port ${m.port("web")}
`;

describe("explain agrees with a real Envoy", () => {
  let mesh: TrafficMesh;
  const node = () => "client-0.default";

  beforeAll(async () => {
    mesh = await startTrafficMesh({
      name: "explain",
      services: [{ name: "web", workloads: [{ version: "v1" }, { version: "v2" }, { version: "v3" }] }],
      istio,
    });
    await eventually(async () => (await mesh.get("web", "/api")).headers["x-backend-version"] === "v2", "the VirtualService in Envoy");
  }, 90_000);
  afterAll(() => mesh?.stop());

  const ask = async (request: string, source: "live" | "offline" = "live"): Promise<Explanation> => {
    const r = await explainCommand({
      proxy: source === "live" ? node() : fullId(),
      request,
      output: "json",
      ...(source === "live"
        ? { server: `http://127.0.0.1:${mesh.server.debugPort}` }
        : { configDir: mesh.dir, metadata: { INTERCEPTION_MODE: "NONE", LABELS: { app: "client" } } }),
    });
    if ("error" in r) throw new Error(r.error);
    return r.explanation;
  };
  const fullId = () => `sidecar~${mesh.ip("web", "v1").split(".").slice(0, 3).join(".")}.2~client-0.default~default.svc.cluster.local`;
  const url = (path: string, headers: string[] = []) => `GET http://web:${mesh.port("web")}${path}${headers.map((h) => ` -H ${h}`).join("")}`;
  /** Versions behind the clusters explain picked: the versions of the endpoints the load balancer may use. */
  const versions = (e: Explanation) => new Set(e.clusters.flatMap((c) => c.endpoints.filter((x) => x.eligible).map((x) => x.workload?.version)));

  it("a header match: the answering version is the one explain named", async () => {
    const e = await ask(url("/", ["x-test-user:true"]));
    expect(e.http?.route?.name).toBe("tester");
    expect(e.http?.route?.origin).toEqual({ kind: "VirtualService", namespace: "default", name: "web", rule: "spec.http[0].match[0]" });
    expect([...versions(e)]).toEqual(["v3"]);
    const res = await mesh.get("web", "/", { headers: { "x-test-user": "true" } });
    expect(versions(e).has(res.headers["x-backend-version"])).toBe(true);
  });

  it("a rule shadowed by an earlier, wider one: explain names the earlier rule, and so does Envoy", async () => {
    const e = await ask(url("/api/v1/items"));
    expect(e.http?.route?.name).toBe("api");
    expect(e.http?.route?.origin?.rule).toBe("spec.http[3].match[0]");
    expect(e.http?.trials.map((t) => t.name)).not.toContain("api-v1");
    expect([...versions(e)]).toEqual(["v2"]);
    const res = await mesh.get("web", "/api/v1/items");
    expect(res.headers["x-backend-version"]).toBe("v2");
  });

  it("a fault: Envoy answers with the status explain gives", async () => {
    const e = await ask(url("/teapot"));
    expect(e.http?.fault?.abort).toEqual({ httpStatus: 418, percent: 100 });
    const res = await mesh.get("web", "/teapot");
    expect(res.status).toBe(e.http!.fault!.abort!.httpStatus);
    expect(res.headers["x-backend-version"]).toBeUndefined();
  });

  it("a redirect: status and Location as explained", async () => {
    const e = await ask(url("/old?x=1"));
    expect(e.http?.action.kind).toBe("redirect");
    const res = await mesh.get("web", "/old?x=1");
    if (e.http?.action.kind !== "redirect") throw new Error("not a redirect");
    expect(res.status).toBe(e.http.action.status);
    expect(res.headers["location"]).toBe(e.http.action.location);
  });

  it("a request no route takes: explain says 404, and Envoy answers 404", async () => {
    const e = await ask(url("/nothing/here"));
    expect(e.http?.action).toMatchObject({ kind: "no-route", status: 404 });
    expect(e.http?.trials.every((t) => !t.matched)).toBe(true);
    const res = await mesh.get("web", "/nothing/here");
    expect(res.status).toBe(404);
  });

  it("a weighted route: the measured split lies in the binomial band of the explained weights", async () => {
    const e = await ask(url("/split"));
    if (e.http?.action.kind !== "forward") throw new Error("not forwarded");
    const shares = new Map(e.http.action.clusters.map((c, i) => [[...new Set(e.clusters[i]!.endpoints.map((x) => x.workload?.version))][0], c.percent / 100]));
    expect(shares).toEqual(
      new Map([
        ["v1", 0.7],
        ["v2", 0.3],
      ]),
    );
    const n = 400;
    const counts = await mesh.tally("web", "/split", n);
    expect(Object.keys(counts).sort()).toEqual(["v1", "v2"]);
    const band = binomialBand(n, shares.get("v1")!);
    expect(counts["v1"]).toBeGreaterThanOrEqual(band.lo);
    expect(counts["v1"]).toBeLessThanOrEqual(band.hi);
  }, 60_000);

  it("offline (from the config directory) it says what the running meshpilot's config says", async () => {
    for (const r of [url("/", ["x-test-user:true"]), url("/api/v1/items"), url("/teapot"), url("/old"), url("/nothing"), url("/split")]) {
      const [live, off] = [await ask(r), await ask(r, "offline")];
      expect({ request: r, outcome: off.outcome, listener: off.listener }).toEqual({ request: r, outcome: live.outcome, listener: live.listener });
    }
  });
});
