/** AuthorizationPolicy and RequestAuthentication validation: what Istio's webhook refuses is refused here, naming the field. */
import { describe, expect, it } from "vitest";
import { parseObject } from "../../../src/api/parse.js";

const obj = (kind: string, spec: unknown) => ({ apiVersion: "security.istio.io/v1", kind, metadata: { name: "p", namespace: "shop" }, spec });
const errors = (kind: string, spec: unknown): string[] =>
  parseObject({ value: obj(kind, spec) })
    .diagnostics.filter((d) => d.severity === "error")
    .map((d) => `${d.path}: ${d.message}`);

describe("AuthorizationPolicy validation", () => {
  it("accepts every field in its valid form", () => {
    const spec = {
      selector: { matchLabels: { app: "web" } },
      action: "DENY",
      rules: [
        {
          from: [{ source: { principals: ["cluster.local/ns/a/sa/b"], notNamespaces: ["x"], ipBlocks: ["10.0.0.0/8", "::1"], remoteIpBlocks: ["1.2.3.4"] } }],
          to: [{ operation: { hosts: ["*.example.com"], methods: ["GET"], paths: ["/a/*"], ports: ["8080"], notPorts: ["0"] } }],
          when: [
            { key: "request.headers[x-a]", values: ["1"] },
            { key: "request.auth.claims[realm][role]", notValues: ["guest"] },
            { key: "destination.port", values: ["80"] },
          ],
        },
        {},
      ],
    };
    expect(errors("AuthorizationPolicy", spec)).toEqual([]);
    expect(errors("AuthorizationPolicy", {})).toEqual([]);
  });

  it("refuses what Istio refuses, naming the field", () => {
    expect(errors("AuthorizationPolicy", { action: "REJECT" })).toEqual(['spec.action: expected one of ALLOW, DENY, AUDIT, CUSTOM, got string "REJECT"']);
    expect(errors("AuthorizationPolicy", { action: "CUSTOM" })).toEqual(["spec.provider: a CUSTOM policy needs a provider with a name"]);
    expect(errors("AuthorizationPolicy", { provider: { name: "opa" } })).toEqual(["spec.provider: a provider may be set only with action CUSTOM, not ALLOW"]);
    expect(errors("AuthorizationPolicy", { selector: { matchLabels: { a: "b" } }, targetRef: { kind: "Gateway", name: "g" } })).toEqual([
      "spec: only one of selector or targetRef/targetRefs may be set",
    ]);
    expect(errors("AuthorizationPolicy", { rules: [{ from: [{ source: {} }], to: [{}] }] })).toEqual([
      "spec.rules[0].from[0].source: `from.source` must set at least one field",
      "spec.rules[0].to[0].operation: `to.operation` must set at least one field",
    ]);
    expect(errors("AuthorizationPolicy", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.300"], principals: [""] } }] }] })).toEqual([
      "spec.rules[0].from[0].source.principals[0]: empty value is not allowed",
      'spec.rules[0].from[0].source.ipBlocks[0]: "10.0.0.300" is not an IP address or CIDR block',
    ]);
    expect(errors("AuthorizationPolicy", { rules: [{ to: [{ operation: { ports: ["http"], notPorts: ["70000"] } }] }] })).toEqual([
      'spec.rules[0].to[0].operation.ports[0]: "http" is not a port number (0..65535)',
      'spec.rules[0].to[0].operation.notPorts[0]: "70000" is not a port number (0..65535)',
    ]);
    const when = errors("AuthorizationPolicy", {
      rules: [
        { when: [{ key: "source.user", values: ["a"] }, { key: "request.headers", values: ["a"] }, { key: "source.ip" }, { key: "remote.ip", values: ["x"] }] },
      ],
    });
    expect(when[0]).toMatch(/^spec\.rules\[0\]\.when\[0\]\.key: unknown condition key "source.user"/);
    expect(when[1]).toMatch(/^spec\.rules\[0\]\.when\[1\]\.key: "request.headers" must name one header in brackets/);
    expect(when.slice(2)).toEqual([
      'spec.rules[0].when[2]: condition "source.ip" needs values or notValues',
      'spec.rules[0].when[3].values[0]: "x" is not an IP address or CIDR block',
    ]);
    expect(errors("AuthorizationPolicy", { rules: [{ from: [{ source: { principal: ["a"] } }] }] })[0]).toMatch(/unknown field "principal" in Istio Source/);
  });
});

describe("RequestAuthentication validation", () => {
  it("accepts a full JWT rule", () => {
    const rule = {
      issuer: "https://issuer.example",
      audiences: ["a"],
      jwks: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}',
      fromHeaders: [{ name: "x-token", prefix: "Bearer " }],
      fromParams: ["t"],
      forwardOriginalToken: true,
      outputPayloadToHeader: "x-payload",
      outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }],
      timeout: "3s",
    };
    expect(errors("RequestAuthentication", { selector: { matchLabels: { app: "web" } }, jwtRules: [rule] })).toEqual([]);
  });

  it("refuses a rule Envoy or Istio would refuse, naming the field", () => {
    expect(errors("RequestAuthentication", { jwtRules: [{ jwksUri: "https://x/keys" }] })).toEqual(["spec.jwtRules[0].issuer: issuer must be set"]);
    expect(errors("RequestAuthentication", { jwtRules: [{ issuer: "i", jwksUri: "file:///keys" }] })).toEqual([
      'spec.jwtRules[0].jwksUri: "file:///keys": the scheme must be http or https',
    ]);
    expect(errors("RequestAuthentication", { jwtRules: [{ issuer: "i", jwks: "{not json" }] })).toEqual([
      "spec.jwtRules[0].jwks: jwks is not JSON (a JSON Web Key Set is expected)",
    ]);
    expect(errors("RequestAuthentication", { jwtRules: [{ issuer: "i", jwks: '{"keys":[{"n":"x"}]}' }] })).toEqual([
      'spec.jwtRules[0].jwks: jwks keys[0] is not a JSON Web Key (it needs "kty")',
    ]);
    expect(
      errors("RequestAuthentication", { jwtRules: [{ issuer: "i", fromHeaders: [{ prefix: "B" }, { name: "bad header" }], outputPayloadToHeader: "a:b" }] }),
    ).toEqual([
      "spec.jwtRules[0].fromHeaders[0].name: a token location header needs a name",
      'spec.jwtRules[0].fromHeaders[1].name: "bad header" is not a valid header name',
      'spec.jwtRules[0].outputPayloadToHeader: "a:b" is not a valid header name',
    ]);
  });
});
