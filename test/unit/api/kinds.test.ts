/**
 * The kind registry is the one list of input kinds: deploy/ (the ClusterRole and the CRDs) and the
 * README's table must say the same. `UPDATE_README=1` rewrites the README table from the registry.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { apiKindOf, apiVersion, INPUT_KINDS, KINDS, kindInfo, kindOfObject, relevantPart, type KindInfo } from "../../../src/api/kinds.js";
import { SPEC_FIELDS } from "../../../src/api/istio-resource.js";
import { parseObject } from "../../../src/api/parse.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const docs = (file: string): Array<Record<string, unknown>> =>
  parseAllDocuments(readFileSync(`${ROOT}deploy/${file}`, "utf8"))
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null);

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** group → resource → verbs, from a list of RBAC rules. */
function grants(rules: readonly Rule[]): Map<string, Map<string, Set<string>>> {
  const out = new Map<string, Map<string, Set<string>>>();
  for (const r of rules)
    for (const g of r.apiGroups)
      for (const res of r.resources) {
        const byRes = out.get(g) ?? new Map<string, Set<string>>();
        const verbs = byRes.get(res) ?? new Set<string>();
        for (const v of r.verbs) verbs.add(v);
        byRes.set(res, verbs);
        out.set(g, byRes);
      }
  return out;
}

const asPlain = (m: Map<string, Map<string, Set<string>>>) =>
  Object.fromEntries(
    [...m]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([g, byRes]) => [g, Object.fromEntries([...byRes].sort(([a], [b]) => a.localeCompare(b)).map(([r, v]) => [r, [...v].sort()]))]),
  );

/** The README table, rendered from the registry. */
function kindsTable(): string {
  const rows = KINDS.map((k) => {
    const versions = k.versions.map((v, i) => `\`${i === 0 ? apiVersion(k, v) : v}\``).join(", ");
    const what = k.translation.translated ? k.readFor : `**not translated yet** (${k.readFor}): ${k.translation.effect}`;
    return `| ${apiKindOf(k)} | ${versions} | ${what} |`;
  });
  return ["| kind | apiVersion (first: the one watched when served) | read for |", "|---|---|---|", ...rows].join("\n");
}

const START = "<!-- kinds: generated from src/api/kinds.ts; UPDATE_README=1 npx vitest run test/unit/api/kinds.test.ts -->";
const END = "<!-- /kinds -->";

describe("the kind registry", () => {
  it("lists every input kind once, with versions and a plural", () => {
    expect(new Set(INPUT_KINDS).size).toBe(INPUT_KINDS.length);
    for (const k of KINDS) {
      expect(k.versions.length, k.kind).toBeGreaterThan(0);
      expect(k.plural, k.kind).toBe(k.plural.toLowerCase());
      expect(kindInfo(k.kind)).toBe(k);
    }
    expect(kindInfo("ConfigMap")).toBeUndefined();
  });

  it("tells the Istio Gateway from the Gateway API's by the apiVersion's group", () => {
    expect(kindOfObject("networking.istio.io/v1", "Gateway")?.kind).toBe("Gateway");
    expect(kindOfObject("gateway.networking.k8s.io/v1", "Gateway")?.kind).toBe("KubernetesGateway");
    expect(kindOfObject("gateway.networking.k8s.io/v1", "HTTPRoute")?.kind).toBe("HTTPRoute");
    const r = parseObject({
      value: {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        metadata: { name: "gw", namespace: "ns" },
        spec: { gatewayClassName: "c", listeners: [] },
      },
    });
    expect(r.status === "valid" ? r.stored.object.kind : r.diagnostics).toBe("KubernetesGateway");
  });

  it("parses an object in every version of every kind, and refuses other versions", () => {
    for (const k of KINDS) {
      for (const v of k.versions) {
        const r = parseObject({
          value: { apiVersion: apiVersion(k, v), kind: apiKindOf(k), metadata: { name: "x", ...(k.namespaced ? { namespace: "ns" } : {}) } },
        });
        expect(r.status === "invalid" ? r.diagnostics.map((d) => d.code) : r.status, `${k.kind} ${v}`).not.toContain("MP0005");
      }
      const r = parseObject({ value: { apiVersion: apiVersion(k, "v9"), kind: apiKindOf(k), metadata: { name: "x" } } });
      expect(r.status).toBe("invalid");
      expect(r.diagnostics[0]!.code).toBe("MP0005");
      expect(r.diagnostics[0]!.message).toContain(apiVersion(k, k.versions[0]!));
    }
  });

  it("drops what never matters before change detection", () => {
    const pod = kindInfo("Pod")!;
    const a = relevantPart(pod, {
      metadata: { name: "p", resourceVersion: "1", managedFields: [] },
      status: { podIP: "10.0.0.1", conditions: [{ type: "Ready" }], phase: "Running" },
    });
    expect(a).toEqual({ metadata: { name: "p" }, status: { podIP: "10.0.0.1", phase: "Running" } });
    const vs = kindInfo("VirtualService")!;
    expect(relevantPart(vs, { metadata: { name: "v" }, spec: { hosts: ["a"] }, status: { conditions: [] } })).toEqual({
      metadata: { name: "v" },
      spec: { hosts: ["a"] },
    });
    const secret = kindInfo("Secret")!;
    const s = relevantPart(secret, {
      metadata: { name: "s", annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{…}" } },
      data: { "tls.crt": "x", other: "y" },
    });
    expect(s).toEqual({ metadata: { name: "s" }, data: { "tls.crt": "x" } });
  });
});

describe("deploy/ agrees with the registry", () => {
  it("the ClusterRole reads every kind and writes exactly the status of the kinds whose status is written", () => {
    // The informers' role; the injector's own ClusterRole is not the registry's business.
    const role = docs("meshpilot.yaml").find((d) => d["kind"] === "ClusterRole" && (d["metadata"] as { name?: string }).name === "meshpilot") as {
      rules: Rule[];
    };
    expect(role, "ClusterRole meshpilot").toBeDefined();
    const want = grants(
      KINDS.flatMap((k: KindInfo) => [
        { apiGroups: [k.group], resources: [k.plural], verbs: ["get", "list", "watch"] },
        ...(k.status ? [{ apiGroups: [k.group], resources: [`${k.plural}/status`], verbs: ["update", "patch"] }] : []),
      ]),
    );
    expect(asPlain(grants(role.rules))).toEqual(asPlain(want));
  });

  it("a CRD serves each Istio kind in the registry's versions, with a status subresource where status is written", () => {
    const crds = docs("crds.yaml").filter((d) => d["kind"] === "CustomResourceDefinition") as Array<{
      metadata: { name: string };
      spec: {
        group: string;
        scope: string;
        names: { kind: string; plural: string };
        versions: Array<{ name: string; served: boolean; storage: boolean; subresources?: { status?: object }; schema?: unknown }>;
      };
    }>;
    const byKind = new Map(crds.map((c) => [`${c.spec.group}/${c.spec.names.kind}`, c]));
    const custom = KINDS.filter((k) => k.group.endsWith(".istio.io"));
    for (const k of custom) {
      const crd = byKind.get(`${k.group}/${k.kind}`);
      expect(crd, `CRD for ${k.kind}`).toBeDefined();
      expect(crd!.metadata.name).toBe(`${k.plural}.${k.group}`);
      expect(crd!.spec.names.plural).toBe(k.plural);
      expect(crd!.spec.scope).toBe(k.namespaced ? "Namespaced" : "Cluster");
      expect(
        crd!.spec.versions
          .filter((v) => v.served)
          .map((v) => v.name)
          .sort(),
      ).toEqual([...k.versions].sort());
      expect(crd!.spec.versions.filter((v) => v.storage).map((v) => v.name)).toEqual([k.versions[0]]);
      const fields = (SPEC_FIELDS as Partial<Record<string, Readonly<Record<string, string>>>>)[k.kind];
      for (const v of crd!.spec.versions) {
        if (fields) {
          const props = (v.schema as { openAPIV3Schema: { properties: { spec: { properties: Record<string, { type: string }> } } } }).openAPIV3Schema.properties
            .spec.properties;
          expect(Object.fromEntries(Object.entries(props).map(([f, p]) => [f, p.type])), `${k.kind} ${v.name} spec fields`).toEqual(fields);
        }
        expect(v.subresources?.status !== undefined, `${k.kind} ${v.name} status subresource`).toBe(k.status);
        expect(v.schema, `${k.kind} ${v.name} schema`).toBeDefined();
      }
    }
    expect([...byKind.keys()].sort()).toEqual(custom.map((k) => `${k.group}/${k.kind}`).sort());
  });
});

describe("the README's list of kinds", () => {
  it("is the registry's", () => {
    const path = `${ROOT}README.md`;
    const readme = readFileSync(path, "utf8");
    const a = readme.indexOf(START);
    const b = readme.indexOf(END);
    expect(a, "README has the kinds markers").toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    const current = readme.slice(a + START.length, b).trim();
    const want = kindsTable();
    if (process.env["UPDATE_README"] && current !== want) {
      writeFileSync(path, `${readme.slice(0, a + START.length)}\n${want}\n${readme.slice(b)}`);
      return;
    }
    expect(current).toBe(want);
  });
});
