// Service visibility as Istio computes it: a Service's networking.istio.io/exportTo annotation,
// a ServiceEntry's exportTo, else mesh config defaultServiceExportTo; applied to sidecars (with
// and without a Sidecar resource) and to what a gateway's routes may reach.
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import { meshConfigFrom, type MeshConfig } from "../../../src/model/mesh-config.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { buildProxyScope } from "../../../src/model/scope.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { annotationExportTo } from "../../../src/model/visibility.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../support/objects.js";

const service = (name: string, ns: string, exportTo?: string) => `
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
${exportTo === undefined ? "" : `  annotations: { networking.istio.io/exportTo: "${exportTo}" }\n`}spec: { clusterIP: 10.96.0.${name.length}, ports: [{ name: http, port: 80 }] }
`;

const INPUT = [
  service("own", "a", "."),
  service("listed", "b", " a , c "),
  service("nowhere", "b", "~"),
  service("public", "b", "*"),
  service("elsewhere", "b", "c"),
  service("plain", "b"),
  `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: b }
spec: { hosts: [ext.example.com], resolution: DNS, ports: [{ number: 80, name: http, protocol: HTTP }] }
`,
].join("---\n");

function visible(ns: string, config?: MeshConfig, input = INPUT): string[] {
  const mesh = buildMesh(meshInputFrom(validObjects(input, { strict: true })), undefined, config);
  const parsed = parseProxy({ id: `sidecar~10.244.0.9~client.${ns}~${ns}.svc.cluster.local` });
  if ("error" in parsed) throw new Error(parsed.error);
  const scope = buildProxyScope(mesh, proxyView(parsed.proxy, selectedLabels(mesh)));
  return scope.services.map((s) => s.service.name).sort();
}

const mesh = (doc: unknown): MeshConfig => {
  const r = meshConfigFrom(doc);
  if ("error" in r) throw new Error(r.error);
  return r.config;
};

describe("service visibility (exportTo)", () => {
  it("honours a Service's annotation: '.', '*', '~' and namespace lists", () => {
    expect(visible("a")).toEqual(["ext.example.com", "listed", "own", "plain", "public"]);
    expect(visible("b")).toEqual(["ext.example.com", "plain", "public"]);
    expect(visible("c")).toEqual(["elsewhere", "ext.example.com", "listed", "plain", "public"]);
  });

  it("applies mesh config defaultServiceExportTo to Services and entries that set nothing", () => {
    const own = mesh({ defaultServiceExportTo: ["."] });
    expect(visible("a", own)).toEqual(["listed", "own", "public"]);
    expect(visible("b", own)).toEqual(["ext.example.com", "plain", "public"]);
    expect(visible("c", mesh({ defaultServiceExportTo: ["~"] }))).toEqual(["elsewhere", "listed", "public"]);
    expect(visible("c", mesh({ defaultServiceExportTo: ["c"] }))).toEqual(["elsewhere", "ext.example.com", "listed", "plain", "public"]);
  });

  it("keeps a Sidecar from importing what is not exported to its namespace", () => {
    const sidecar = `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: a }
spec: { egress: [{ hosts: ["b/*"] }] }
`;
    expect(visible("a", undefined, INPUT + sidecar)).toEqual(["ext.example.com", "listed", "plain", "public"]);
  });

  it("refuses a bad mesh config value", () => {
    expect(meshConfigFrom({ defaultServiceExportTo: "." })).toMatchObject({ error: expect.stringContaining("defaultServiceExportTo") });
  });

  it("reads the annotation as Istio does, and names an entry that is no namespace", () => {
    const ref = { kind: "Service", namespace: "a", name: "s" };
    expect(annotationExportTo({ "networking.istio.io/exportTo": " x, ,y " }, ref)).toEqual({ exportTo: ["x", "y"], diagnostics: [] });
    expect(annotationExportTo({}, ref)).toEqual({ diagnostics: [] });
    const bad = annotationExportTo({ "networking.istio.io/exportTo": "Not_A_Ns" }, ref);
    expect(bad.exportTo).toEqual(["Not_A_Ns"]);
    expect(bad.diagnostics.map((d) => d.code)).toEqual(["MP0124"]);
  });
});
