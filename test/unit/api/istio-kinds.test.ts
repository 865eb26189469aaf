/** The Istio kinds that are read but not translated yet: each parses when valid and is refused when broken. */
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../../src/api/diagnostics.js";
import { SPEC_FIELDS, type UntranslatedIstioKind } from "../../../src/api/istio-resource.js";
import { apiVersion, kindInfo, KINDS } from "../../../src/api/kinds.js";
import { parseObject } from "../../../src/api/parse.js";

/** A valid spec per kind, as users write them (Istio 1.30 documentation examples, shortened). */
const VALID: Record<UntranslatedIstioKind, Record<string, unknown>> = {
  WorkloadGroup: { metadata: { labels: { app: "vm" } }, template: { serviceAccount: "vm" }, probe: { httpGet: { port: 8080 } } },
  EnvoyFilter: {
    workloadSelector: { labels: { app: "web" } },
    configPatches: [{ applyTo: "HTTP_FILTER", patch: { operation: "INSERT_BEFORE" } }],
    priority: 10,
  },
  ProxyConfig: { selector: { matchLabels: { app: "web" } }, concurrency: 2, environmentVariables: { A: "b" } },
  WasmPlugin: { url: "oci://example/auth:1", phase: "AUTHN", priority: 10, pluginConfig: { a: 1 } },
};

const untranslated = KINDS.filter((k) => !k.translation.translated);
const object = (kind: UntranslatedIstioKind, spec: unknown, version?: string) => {
  const info = kindInfo(kind)!;
  return { apiVersion: apiVersion(info, version ?? info.versions[0]!), kind, metadata: { name: "x", namespace: "shop" }, spec };
};

describe("Istio kinds read but not translated yet", () => {
  it("are every kind with a spec-field table, and nothing else", () => {
    expect(untranslated.map((k) => k.kind).sort()).toEqual(Object.keys(SPEC_FIELDS).sort());
    for (const k of untranslated) expect(k.translation.translated ? "" : k.translation.effect, k.kind).toMatch(/\w{3,}/);
  });

  for (const kind of Object.keys(VALID) as UntranslatedIstioKind[]) {
    describe(kind, () => {
      it("parses a valid object in each served version, spec kept as written", () => {
        for (const v of kindInfo(kind)!.versions) {
          const r = parseObject({ value: object(kind, VALID[kind], v) });
          expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
          expect(r.status).toBe("valid");
          if (r.status === "valid") expect(r.stored.object).toMatchObject({ kind, metadata: { name: "x", namespace: "shop" }, spec: VALID[kind] });
        }
      });

      it("refuses a spec that is not a map, and a field of the wrong type, naming the field", () => {
        const notMap = parseObject({ value: object(kind, ["a"]) });
        expect(notMap.status).toBe("invalid");
        expect(notMap.diagnostics.map(formatDiagnostic)).toEqual([`error IST0106 ${kind} shop/x spec: spec must be a map, got a list`]);

        const [field, type] = Object.entries(SPEC_FIELDS[kind])[0]!;
        const wrong = type === "string" || type === "integer" ? { a: 1 } : "text";
        const bad = parseObject({ value: object(kind, { ...VALID[kind], [field]: wrong }) });
        expect(bad.status).toBe("invalid");
        expect(bad.diagnostics).toHaveLength(1);
        expect(bad.diagnostics[0]).toMatchObject({ severity: "error", code: "IST0106", path: `spec.${field}`, object: { kind, namespace: "shop", name: "x" } });
        expect(bad.diagnostics[0]!.message).toMatch(/^expected (a|an) /);
      });

      it("refuses a broken metadata name and an unknown top-level field", () => {
        const r = parseObject({ value: { ...object(kind, VALID[kind]), metadata: { name: "Not_Valid", namespace: "shop" }, specs: {} } });
        expect(r.status).toBe("invalid");
        expect(r.diagnostics.map((d) => d.path)).toEqual(expect.arrayContaining(["metadata.name", "specs"]));
      });
    });
  }

  it("warns about an unknown spec field and keeps the object", () => {
    const r = parseObject({ value: object("WasmPlugin", { urll: "oci://x" }) });
    expect(r.status).toBe("valid");
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      expect.stringMatching(/^warning IST0106 WasmPlugin shop\/x spec.urll: unknown field "urll" in WasmPlugin; known fields: selector, /),
    ]);
  });

  it("accepts an object without spec", () => {
    const r = parseObject({
      value: { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "plugin", namespace: "istio-system" } },
    });
    expect(r.status).toBe("valid");
  });
});
