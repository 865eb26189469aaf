/**
 * Authorization on a sidecar's inbound side, checked on the translated listener: which policies a
 * workload enforces (root namespace, own namespace, selector), Istio's filter order (JWT, AUDIT,
 * DENY, ALLOW before fault), and Istio's rule for HTTP-only fields on TCP chains (ALLOW leaves the
 * rule out, DENY ignores the field).
 */
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { validObjects } from "../../support/objects.js";

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { clusterIP: 10.96.0.20, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }, { name: tcp-db, port: 5432 }] }
`;

const policy = (ns: string, name: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec: ${spec}
`;

type Json = Record<string, unknown>;
interface Chain {
  name: string;
  filters: { name: string; typedConfig: Json }[];
}

function inbound(yaml: string, labels: Record<string, string> = { app: "web" }, ns = "shop") {
  const mesh = buildMesh(meshInputFrom(validObjects(SERVICE + yaml)));
  const parsed = parseProxy({ id: `sidecar~10.244.0.9~web-1.${ns}~${ns}.svc.cluster.local`, metadata: { LABELS: labels } });
  if ("error" in parsed) throw new Error(parsed.error);
  const r = translateProxy(mesh, proxyView(parsed.proxy, selectedLabels(mesh)));
  const listener = r.listeners.find((l) => l.name === "virtualInbound") as unknown as { filterChains: Chain[] };
  const chain = (name: string) => listener.filterChains.find((c) => c.name === name)!;
  const httpFilters = (name: string) =>
    (chain(name).filters[0]!.typedConfig["httpFilters"] as { name: string; typedConfig: Json }[]).map((f) => ({
      name: f.name,
      action: (f.typedConfig["rules"] as Json | undefined)?.["action"],
      policies: Object.keys(((f.typedConfig["rules"] as Json | undefined)?.["policies"] as Json | undefined) ?? {}),
    }));
  const tcpRbac = (name: string) =>
    chain(name)
      .filters.filter((f) => f.name === "envoy.filters.network.rbac")
      .map((f) => f.typedConfig["rules"] as Json);
  return { httpFilters, tcpRbac, diagnostics: r.diagnostics };
}

describe("inbound authorization", () => {
  it("applies root-namespace, own-namespace and selected policies only", () => {
    const r = inbound(
      policy("istio-system", "mesh", "{ rules: [{ from: [{ source: { namespaces: [ops] } }] }] }") +
        policy("shop", "ns", "{ rules: [{}] }") +
        policy("shop", "mine", "{ selector: { matchLabels: { app: web } }, rules: [{}] }") +
        policy("shop", "theirs", "{ selector: { matchLabels: { app: db } }, rules: [{}] }") +
        policy("other", "elsewhere", "{ rules: [{}] }"),
    );
    expect(r.httpFilters("0.0.0.0_8080").map((f) => f.policies)).toEqual([
      ["ns[istio-system]-policy[mesh]-rule[0]", "ns[shop]-policy[mine]-rule[0]", "ns[shop]-policy[ns]-rule[0]"],
      [],
      [],
      [],
    ]);
  });

  it("orders AUDIT, DENY, ALLOW before fault, CORS and the router, on every HTTP chain", () => {
    const r = inbound(
      policy("shop", "a", "{ action: ALLOW, rules: [{}] }") +
        policy("shop", "d", "{ action: DENY, rules: [{}] }") +
        policy("shop", "l", "{ action: AUDIT, rules: [{}] }"),
    );
    for (const chain of ["0.0.0.0_8080", "virtualInbound-catchall-http"])
      expect(r.httpFilters(chain).map((f) => `${f.name}${f.action ? `:${f.action}` : ""}`)).toEqual([
        "envoy.filters.http.rbac:LOG",
        "envoy.filters.http.rbac:DENY",
        "envoy.filters.http.rbac:ALLOW",
        "envoy.filters.http.fault",
        "envoy.filters.http.cors",
        "envoy.filters.http.router",
      ]);
  });

  it("adds no filter to a workload no policy selects", () => {
    const r = inbound(policy("shop", "theirs", "{ selector: { matchLabels: { app: db } }, rules: [{}] }"));
    expect(r.httpFilters("0.0.0.0_8080").map((f) => f.name)).toEqual(["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]);
    expect(r.tcpRbac("0.0.0.0_5432")).toEqual([]);
  });

  it("on TCP chains leaves an ALLOW rule with HTTP-only fields out and drops only the field of a DENY rule", () => {
    const r = inbound(
      policy("shop", "allow", "{ rules: [{ to: [{ operation: { paths: [/a] } }] }, { from: [{ source: { namespaces: [shop] } }] }] }") +
        policy("shop", "deny", "{ action: DENY, rules: [{ from: [{ source: { ipBlocks: [192.0.2.0/24] } }], to: [{ operation: { methods: [POST] } }] }] }"),
    );
    const [deny, allow] = r.tcpRbac("0.0.0.0_5432");
    expect(Object.keys(allow!["policies"] as Json)).toEqual(["ns[shop]-policy[allow]-rule[1]"]);
    expect((deny!["policies"] as Json)["ns[shop]-policy[deny]-rule[0]"]).toEqual({
      permissions: [{ andRules: { rules: [{ any: true }] } }],
      principals: [{ andIds: { ids: [{ orIds: { ids: [{ directRemoteIp: { addressPrefix: "192.0.2.0", prefixLen: 24 } }] } }] } }],
    });
    expect(r.diagnostics.filter((d) => d.code === "MP0863").map((d) => `${d.object?.name} ${d.path}`)).toEqual([
      "deny spec.rules[0].to[0].operation.methods",
      "allow spec.rules[0].to[0].operation.paths",
    ]);
  });

  it("gives a policy without rules one policy that never matches", () => {
    const r = inbound(policy("shop", "nothing", "{}"));
    expect(r.tcpRbac("0.0.0.0_5432")).toEqual([
      {
        action: "ALLOW",
        policies: { "ns[shop]-policy[nothing]-rule[0]": { permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] } },
      },
    ]);
  });

  it("puts the JWT filter first and demands a valid token only when one is sent", () => {
    const authn = `---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: shop }
spec: { jwtRules: [{ issuer: b, jwks: '{"keys":[{"kty":"oct","k":"AA"}]}' }, { issuer: a, jwks: '{"keys":[{"kty":"oct","k":"AA"}]}' }] }
`;
    const r = inbound(authn + policy("shop", "p", "{ rules: [{ from: [{ source: { requestPrincipals: [a/alice] } }] }] }"));
    expect(r.httpFilters("0.0.0.0_8080").map((f) => f.name)[0]).toBe("envoy.filters.http.jwt_authn");
    expect(r.tcpRbac("0.0.0.0_5432")).toEqual([{ action: "ALLOW", policies: {} }]);
  });
});
