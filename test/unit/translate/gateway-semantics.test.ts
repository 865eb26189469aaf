import { describe, expect, it } from "vitest";
import { routeMatch } from "../../../src/translate/route-match.js";
import { httpRoutes } from "../../../src/translate/route.js";
import type { HttpRouteModel } from "../../../src/model/routes.js";
import { gatewayCredentialName, parseGatewayCredentialName, credentialSdsName, credentialCaSdsName } from "../../../src/model/names.js";

const vs = { name: "r", namespace: "ns" };

describe("routes converted from the Gateway API keep its semantics", () => {
  it("a path prefix matches whole segments only with the Gateway API's semantics", () => {
    expect(routeMatch({ uri: { prefix: "/foo" } }, true)).toMatchObject({ pathSeparatedPrefix: "/foo" });
    expect(routeMatch({ uri: { prefix: "/foo/" } }, true)).toMatchObject({ pathSeparatedPrefix: "/foo" });
    expect(routeMatch({ uri: { prefix: "/" } }, true)).toMatchObject({ prefix: "/" });
    // An Istio VirtualService keeps Istio's plain prefix (/foo also takes /foobar).
    expect(routeMatch({ uri: { prefix: "/foo" } }, false)).toMatchObject({ prefix: "/foo" });
  });

  it("a missing cluster answers 500, and a ReplacePrefixMatch redirect replaces only the prefix", () => {
    const forward: HttpRouteModel = {
      match: { uri: { prefix: "/a" } },
      action: { kind: "forward", destinations: [{ cluster: "outbound|80||x.ns.svc.cluster.local", weight: 1 }], mirrors: [] },
      virtualService: vs,
      rule: "spec.http[0]",
      gatewaySemantics: true,
    };
    const redirect = (uri: string, gatewaySemantics: boolean): HttpRouteModel => ({
      match: { uri: { prefix: "/old" } },
      action: { kind: "redirect", redirect: { uri } },
      virtualService: vs,
      rule: "spec.http[1]",
      ...(gatewaySemantics ? { gatewaySemantics: true as const } : {}),
    });
    const [f] = httpRoutes([forward], 80);
    expect(f!.route!.clusterNotFoundResponseCode).toBe("INTERNAL_SERVER_ERROR");
    expect(httpRoutes([{ ...forward, gatewaySemantics: undefined } as HttpRouteModel], 80)[0]!.route!.clusterNotFoundResponseCode).toBeUndefined();
    expect(httpRoutes([redirect("%PREFIX()%/new/", true)], 80)[0]!.redirect).toEqual({ prefixRewrite: "/new" });
    expect(httpRoutes([redirect("%PREFIX()%/", true)], 80)[0]!.redirect).toEqual({ regexRewrite: { pattern: { regex: "^/old/*" }, substitution: "/" } });
    expect(httpRoutes([redirect("/full", true)], 80)[0]!.redirect).toEqual({ pathRedirect: "/full" });
    // Without the Gateway API's semantics the marker means nothing special (Istio's full-path redirect).
    expect(httpRoutes([redirect("%PREFIX()%/new", false)], 80)[0]!.redirect).toEqual({ pathRedirect: "%PREFIX()%/new" });
  });

  it("certificateRefs are named kubernetes-gateway://<ns>/<name>, and only that form parses", () => {
    const name = gatewayCredentialName("certs", "shared");
    expect(name).toBe("kubernetes-gateway://certs/shared");
    expect(parseGatewayCredentialName(name)).toEqual({ namespace: "certs", name: "shared" });
    expect(credentialSdsName(name)).toBe(name);
    expect(credentialCaSdsName(name)).toBe("kubernetes-gateway://certs/shared-cacert");
    expect(credentialSdsName("plain")).toBe("kubernetes://plain");
    for (const bad of [
      "plain",
      "kubernetes://a/b",
      "kubernetes-gateway://a",
      "kubernetes-gateway:///b",
      "kubernetes-gateway://a/",
      "kubernetes-gateway://a/b/c",
    ])
      expect(parseGatewayCredentialName(bad)).toBeUndefined();
  });
});
