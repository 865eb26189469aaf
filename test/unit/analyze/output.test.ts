/** `meshpilot analyze -o text|json|yaml`: the same findings in each format, and the count that sets the exit code. */
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { formatDiagnostic, type Diagnostic } from "../../../src/api/diagnostics.js";
import { analyzeCommand } from "../../../src/cli/analyze.js";
import { parseYamlFile } from "../../../src/sources/file/loader.js";
import { BASE } from "./finding-cases.js";

function analyzeText(yaml: string, format: string) {
  const load = parseYamlFile("/cfg/mesh.yaml", yaml);
  const objects = load.results.flatMap((r) => (r.status === "valid" ? [r.stored] : []));
  return analyzeCommand(objects, load.diagnostics, format);
}

const BROKEN = `${BASE}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - route: [{ destination: { host: reviews, subset: v9 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }]
  trafficPolicy: { tls: { mode: SIMPLE } }
`;

describe("analyze output formats", () => {
  it("says so when there is nothing to report, in each format", () => {
    expect(analyzeText(BASE, "text")).toEqual({ output: "✔ No validation issues found.\n", errors: 0 });
    expect(JSON.parse(analyzeText(BASE, "json").output)).toEqual([]);
    expect(parseYaml(analyzeText(BASE, "yaml").output)).toEqual([]);
  });

  it("prints the same findings as text lines, JSON and YAML, with file and line", () => {
    const json = analyzeText(BROKEN, "json");
    const findings = JSON.parse(json.output) as Diagnostic[];
    expect(findings.map((d) => `${d.severity} ${d.code} ${d.path}`)).toEqual([
      "error IST0101 spec.http[0].route[0].destination.subset",
      "warning IST0128 spec.trafficPolicy.tls.caCertificates",
    ]);
    expect(findings[0]!.source).toEqual({ file: "/cfg/mesh.yaml", document: 5, line: 31 });
    const text = analyzeText(BROKEN, "text");
    expect(text.output.trimEnd().split("\n")).toEqual(findings.map(formatDiagnostic));
    expect(text.output).toContain(
      "error IST0101 /cfg/mesh.yaml (document 5, line 31) VirtualService default/reviews spec.http[0].route[0].destination.subset:",
    );
    expect(parseYaml(analyzeText(BROKEN, "yaml").output)).toEqual(findings);
  });

  it("counts errors (the exit code), not warnings, the same in every format", () => {
    for (const format of ["text", "json", "yaml"]) expect(analyzeText(BROKEN, format).errors, format).toBe(1);
    const warningOnly = BROKEN.replace("subset: v9", "subset: v1");
    for (const format of ["text", "json", "yaml"]) expect(analyzeText(warningOnly, format).errors, format).toBe(0);
  });
});
