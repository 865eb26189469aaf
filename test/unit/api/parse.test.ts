import { describe, expect, it } from "vitest";
import { formatDiagnostic, type Diagnostic } from "../../../src/api/diagnostics.js";
import { parseDocument, parseObject, type ParseResult } from "../../../src/api/parse.js";
import { parseYamlFile } from "../../../src/sources/file/loader.js";

/** 1-based line of the first line containing `needle` (after `from`, if given). */
function lineOf(text: string, needle: string, from?: string): number {
  const lines = text.split("\n");
  let start = 0;
  if (from) start = lines.findIndex((l) => l.includes(from));
  const i = lines.findIndex((l, idx) => idx >= start && l.includes(needle));
  if (i < 0) throw new Error(`"${needle}" not in text`);
  return i + 1;
}

const FILE = "cfg/mixed.yaml";

// One file with a valid and an invalid object of every kind, interleaved.
const MIXED = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Namespace
metadata:
  name: Bad_Namespace
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: shop
spec:
  clusterIP: 10.96.0.20
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080, protocol: TCP, appProtocol: http}
---
apiVersion: v1
kind: Service
metadata:
  name: ratings
  namespace: shop
spec:
  ports:
  - name: http
    port: 70000
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-abc
  namespace: shop
  labels: {kubernetes.io/service-name: reviews}
addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: reviews-v1-0, namespace: shop}
ports:
- {name: http, port: 9080, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ratings-abc
  namespace: shop
  labels: {kubernetes.io/service-name: ratings}
addressType: IPv4
endpoints:
- addresses:
  - 10.1.0.6
  - 10.1.0.300
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1-0
  namespace: shop
  labels: {app: reviews, version: v1}
status:
  podIP: 10.1.0.5
  podIPs: [{ip: 10.1.0.5}]
---
apiVersion: v1
kind: Pod
metadata:
  name: ratings-v1-0
  namespace: shop
status:
  podIP: not-an-ip
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: shop
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings, subset: v1}
      weight: 100
    - destination: {host: ratings, subset: v2}
      weight: -5
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
  namespace: shop
spec:
  host: ratings
  trafficPolicy:
    loadBalancer:
      simple: FASTEST
`;

describe("parse: every kind, one invalid object per kind in a file with valid ones", () => {
  const load = parseYamlFile(FILE, MIXED);
  const byDoc = (doc: number): ParseResult & { document: number } => {
    const r = load.results.find((x) => x.document === doc);
    if (!r) throw new Error(`no document ${doc}`);
    return r;
  };
  const errorOf = (doc: number): Diagnostic => {
    const r = byDoc(doc);
    expect(r.status).toBe("invalid");
    const errs = r.diagnostics.filter((d) => d.severity === "error");
    expect(errs).toHaveLength(1);
    return errs[0] as Diagnostic;
  };

  it("loads the valid object of every kind", () => {
    expect(load.ok).toBe(true);
    const valid = load.results.filter((r) => r.status === "valid").map((r) => (r.status === "valid" ? r.key : ""));
    expect(valid).toEqual([
      "Namespace//shop",
      "Service/shop/reviews",
      "EndpointSlice/shop/reviews-abc",
      "Pod/shop/reviews-v1-0",
      "VirtualService/shop/reviews",
      "DestinationRule/shop/reviews",
    ]);
  });

  const cases: { doc: number; kind: string; ns?: string; name: string; path: string; line: [string, string?]; reason: RegExp }[] = [
    { doc: 2, kind: "Namespace", name: "Bad_Namespace", path: "metadata.name", line: ["name: Bad_Namespace"], reason: /DNS-1123 label/ },
    {
      doc: 4,
      kind: "Service",
      ns: "shop",
      name: "ratings",
      path: "spec.ports[0].port",
      line: ["port: 70000"],
      reason: /port number 70000 must be in the range 1\.\.65535/,
    },
    {
      doc: 6,
      kind: "EndpointSlice",
      ns: "shop",
      name: "ratings-abc",
      path: "endpoints[0].addresses[1]",
      line: ["- 10.1.0.300"],
      reason: /"10\.1\.0\.300" is not a valid IPv4 address/,
    },
    {
      doc: 8,
      kind: "Pod",
      ns: "shop",
      name: "ratings-v1-0",
      path: "status.podIP",
      line: ["podIP: not-an-ip"],
      reason: /"not-an-ip" is not a valid IP address/,
    },
    { doc: 10, kind: "VirtualService", ns: "shop", name: "ratings", path: "spec.http[0].route[1].weight", line: ["weight: -5"], reason: /weight -5 < 0/ },
    {
      doc: 12,
      kind: "DestinationRule",
      ns: "shop",
      name: "ratings",
      path: "spec.trafficPolicy.loadBalancer.simple",
      line: ["simple: FASTEST"],
      reason: /expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST/,
    },
  ];
  for (const c of cases) {
    it(`refuses the invalid ${c.kind} with file, document, line, object, path and reason`, () => {
      const d = errorOf(c.doc);
      expect(d.source?.file).toBe(FILE);
      expect(d.source?.document).toBe(c.doc);
      expect(d.source?.line).toBe(lineOf(MIXED, c.line[0], c.line[1]));
      expect(d.object).toEqual({ kind: c.kind, ...(c.ns ? { namespace: c.ns } : {}), name: c.name });
      expect(d.path).toBe(c.path);
      expect(d.message).toMatch(c.reason);
      const text = formatDiagnostic(d);
      expect(text).toContain(`${FILE} (document ${c.doc}, line ${d.source?.line})`);
      expect(text).toContain(`${c.kind} ${c.ns ? `${c.ns}/` : ""}${c.name}`);
      expect(text).toContain(c.path);
    });
  }

  it("keeps the key of an invalid object so a source can keep its last valid version", () => {
    const r = byDoc(10);
    expect(r.status === "invalid" && r.key).toBe("VirtualService/shop/ratings");
  });
});

describe("parse: kinds, versions, defaults", () => {
  const vs = (apiVersion: string) => ({
    apiVersion,
    kind: "VirtualService",
    metadata: { name: "r" },
    spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] },
  });
  const dr = (apiVersion: string) => ({ apiVersion, kind: "DestinationRule", metadata: { name: "r" }, spec: { host: "reviews" } });

  for (const v of ["v1", "v1beta1", "v1alpha3"]) {
    it(`accepts networking.istio.io/${v} VirtualService and DestinationRule`, () => {
      const a = parseObject({ value: vs(`networking.istio.io/${v}`) });
      const b = parseObject({ value: dr(`networking.istio.io/${v}`) });
      expect(a.status).toBe("valid");
      expect(b.status).toBe("valid");
      if (a.status === "valid") expect(a.stored.object.apiVersion).toBe(`networking.istio.io/${v}`);
    });
  }

  it("refuses a known kind under an unsupported apiVersion", () => {
    const r = parseObject({ value: vs("networking.istio.io/v2"), source: { file: "x.yaml", document: 3 } });
    expect(r.status).toBe("invalid");
    const d = r.diagnostics[0] as Diagnostic;
    expect(d.severity).toBe("error");
    expect(d.code).toBe("MP0005");
    expect(d.path).toBe("apiVersion");
    expect(d.message).toMatch(
      /networking\.istio\.io\/v2.*not supported.*networking\.istio\.io\/v1, networking\.istio\.io\/v1beta1, networking\.istio\.io\/v1alpha3/,
    );
    expect(r.status === "invalid" && r.key).toBe("VirtualService/default/r");
    const es = parseObject({ value: { apiVersion: "discovery.k8s.io/v1beta1", kind: "EndpointSlice", metadata: { name: "x" } } });
    expect(es.status).toBe("invalid");
  });

  it("skips unknown kinds with an info diagnostic (a warning for other *.istio.io kinds)", () => {
    const r = parseObject({ value: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "reviews-v1" } }, source: { file: "d.yaml", document: 1 } });
    expect(r.status).toBe("skipped");
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]?.severity).toBe("info");
    expect(r.diagnostics[0]?.message).toMatch(/apps\/v1 Deployment is not read by meshpilot; skipped/);
    const op = parseObject({ value: { apiVersion: "install.istio.io/v1alpha1", kind: "IstioOperator", metadata: { name: "op" } } });
    expect(op.status).toBe("skipped");
    expect(op.diagnostics[0]?.severity).toBe("warning");
    const gw = parseObject({
      value: {
        apiVersion: "networking.istio.io/v1",
        kind: "Gateway",
        metadata: { name: "gw" },
        spec: { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
      },
    });
    expect(gw.status).toBe("valid");
  });

  it("gives namespaced objects without a namespace the default namespace, and none to Namespaces", () => {
    const svc = parseObject({ value: { apiVersion: "v1", kind: "Service", metadata: { name: "a" }, spec: { ports: [{ port: 80 }] } } });
    expect(svc.status === "valid" && svc.key).toBe("Service/default/a");
    expect(svc.status === "valid" && svc.stored.object.metadata.namespace).toBe("default");
    const ns = parseObject({ value: { apiVersion: "v1", kind: "Namespace", metadata: { name: "a", namespace: "x" } } });
    expect(ns.status === "valid" && ns.key).toBe("Namespace//a");
    expect(ns.diagnostics[0]?.severity).toBe("warning");
  });

  it("reads Nodes (cluster-scoped) for their labels only", () => {
    const node = parseObject({
      value: {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "n-1", labels: { "topology.kubernetes.io/zone": "a" } },
        spec: { podCIDR: "10.0.0.0/24" },
        status: { phase: "Ready" },
      },
    });
    expect(node.status === "valid" && node.key).toBe("Node//n-1");
    expect(node.status === "valid" && node.stored.object).toEqual({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n-1", labels: { "topology.kubernetes.io/zone": "a" } },
    });
    const bad = parseObject({ value: { apiVersion: "v1", kind: "Node", metadata: { name: "N_1" } } });
    expect(bad.status).toBe("invalid");
    expect(bad.diagnostics[0]?.path).toBe("metadata.name");
  });

  it("skips empty documents and refuses documents that are not objects", () => {
    expect(parseObject({ value: null }).status).toBe("skipped");
    const r = parseObject({ value: ["a"] });
    expect(r.status).toBe("invalid");
    expect(r.diagnostics[0]?.message).toMatch(/not a Kubernetes object/);
    const nk = parseObject({ value: { metadata: { name: "x" } } });
    expect(nk.diagnostics.map((d) => d.path)).toEqual(["apiVersion", "kind"]);
  });

  it("expands a v1 List", () => {
    const rs = parseDocument({
      value: {
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "Namespace", metadata: { name: "a" } },
          { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, status: { podIP: "x" } },
        ],
      },
    });
    expect(rs.map((r) => r.status)).toEqual(["valid", "invalid"]);
    expect(rs[1]?.diagnostics[0]?.path).toBe("items[1].status.podIP");
  });

  it("normalizes: drops fields meshpilot does not read, nulls, and freezes the result", () => {
    const r = parseObject({
      value: {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "a", namespace: "n", managedFields: [{}], labels: { app: "a" } },
        spec: { sessionAffinity: "None", ports: [{ port: 80, nodePort: 30080 }] },
        status: { loadBalancer: {} },
      },
    });
    expect(r.status).toBe("valid");
    if (r.status !== "valid") return;
    expect(r.stored.object).toEqual({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "a", namespace: "n", labels: { app: "a" } },
      spec: { ports: [{ port: 80 }] },
    });
    expect(Object.isFrozen(r.stored.object)).toBe(true);
    const v = parseObject({
      value: { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "d" }, spec: { host: "a", exportTo: null } },
    });
    expect(v.status === "valid" && v.stored.object.kind === "DestinationRule" && v.stored.object.spec).toEqual({ host: "a" });
  });

  it("reports a missing name, and a wrong label value type", () => {
    const r = parseObject({ value: { apiVersion: "v1", kind: "Pod", metadata: { labels: { version: 1 } } } });
    expect(r.status).toBe("invalid");
    expect(r.status === "invalid" && r.key).toBeUndefined();
    const paths = r.diagnostics.map((d) => `${d.path}: ${d.message}`);
    expect(paths).toContainEqual(expect.stringMatching(/^metadata\.name: metadata\.name is required/));
    expect(paths).toContainEqual(expect.stringMatching(/^metadata\.labels\.version: label value must be a string, got integer 1/));
  });
});
