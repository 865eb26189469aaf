/** RequestRedirect status codes: the CRD's five are accepted, any other is refused naming the field. */
import { describe, expect, it } from "vitest";
import { parseObject } from "../../../src/api/parse.js";

const route = (statusCode: number) => ({
  value: {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "r", namespace: "ns" },
    spec: {
      parentRefs: [{ name: "gw" }],
      rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { hostname: "example.org", statusCode } }] }],
    },
  },
});

describe("HTTPRoute RequestRedirect statusCode", () => {
  it.each([301, 302, 303, 307, 308])("accepts %i", (code) => {
    expect(parseObject(route(code)).status).toBe("valid");
  });

  it("refuses a code outside the CRD's enum, naming the field", () => {
    const r = parseObject(route(304));
    expect(r.status).not.toBe("valid");
    const d = r.status === "valid" ? [] : r.diagnostics;
    expect(d.map((x) => [x.path, x.message])).toEqual([["spec.rules[0].filters[0].requestRedirect.statusCode", expect.stringContaining("got 304")]]);
  });
});
