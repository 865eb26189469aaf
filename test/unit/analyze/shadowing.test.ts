import { describe, expect, it } from "vitest";
import type { HTTPRoute } from "../../../src/api/istio-types.js";
import { shadowedRuleFindings } from "../../../src/analyze/shadowing.js";
import type { MeshModel } from "../../../src/model/ir.js";

function mesh(http: HTTPRoute[]): MeshModel {
  return {
    services: new Map(),
    endpoints: new Map(),
    destinationRules: [],
    diagnostics: [],
    virtualServices: [
      {
        name: "vs",
        namespace: "default",
        creationTimestamp: "",
        hosts: ["a"],
        gateways: [],
        exportTo: [],
        http,
        routedHttp: http,
        tcp: [],
        tls: [],
        ref: { kind: "VirtualService", namespace: "default", name: "vs" },
      },
    ],
  };
}
const to = { route: [{ destination: { host: "a" } }] };

describe("shadowed rules", () => {
  it("rules matching different headers do not shadow each other", () => {
    const findings = shadowedRuleFindings(
      mesh([
        { match: [{ headers: { "x-test-user": { exact: "true" } } }], ...to },
        { match: [{ headers: { "x-canary": { exact: "v3" } } }], ...to },
      ]),
    );
    expect(findings).toEqual([]);
  });

  it("a repeated match is reported (IST0131) with the earlier one named", () => {
    const findings = shadowedRuleFindings(
      mesh([
        { match: [{ headers: { "x-a": { exact: "1" }, "x-b": { prefix: "p" } } }], ...to },
        { match: [{ headers: { "x-b": { prefix: "p" }, "x-a": { exact: "1" } } }], ...to },
      ]),
    );
    expect(findings.map((f) => [f.code, f.path])).toEqual([["IST0131", "spec.http[1].match[0]"]]);
    expect(findings[0]!.message).toContain("spec.http[0].match[0]");
  });

  it("a longer prefix under an earlier shorter one is reported; the reverse is not", () => {
    expect(
      shadowedRuleFindings(
        mesh([
          { match: [{ uri: { prefix: "/api" } }], ...to },
          { match: [{ uri: { prefix: "/api/v2" } }], ...to },
        ]),
      ).map((f) => f.code),
    ).toEqual(["IST0131"]);
    expect(
      shadowedRuleFindings(
        mesh([
          { match: [{ uri: { prefix: "/api/v2" } }], ...to },
          { match: [{ uri: { prefix: "/api" } }], ...to },
        ]),
      ),
    ).toEqual([]);
  });

  it("everything after a catch-all rule is unreachable (IST0130)", () => {
    const findings = shadowedRuleFindings(mesh([{ ...to }, { match: [{ uri: { exact: "/x" } }], ...to }, { ...to }]));
    expect(findings.map((f) => [f.code, f.path])).toEqual([
      ["IST0130", "spec.http[1]"],
      ["IST0130", "spec.http[2]"],
    ]);
  });
});
