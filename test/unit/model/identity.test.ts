/**
 * A service's workload identities feed its clusters (ISTIO_MUTUAL SANs, auto mTLS): an endpoint
 * change that alters them is a full build, one that does not stays on the EDS fast path.
 */
import { describe, expect, it } from "vitest";
import { buildMeshState, rebuildEndpoints } from "../../../src/model/build.js";
import { parseProxy } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { proxyView } from "../../../src/model/proxy.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { validObjects } from "../../support/objects.js";

const svc = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { clusterIP: 10.96.0.9, selector: { app: web }, ports: [{ name: http, port: 80 }] }
`;
const pod = (name: string, ip: string, sa: string, member = true) => `
---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: default, labels: { app: web${member ? ", security.istio.io/tlsMode: istio" : ""} } }
spec: { serviceAccountName: ${sa} }
status: { podIP: ${ip} }
`;
const slice = (...pods: [string, string][]) => `
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 80 }]
endpoints:
${pods.map(([n, ip]) => `  - { addresses: [${ip}], targetRef: { kind: Pod, name: ${n}, namespace: default } }`).join("\n")}
`;

const input = (yaml: string) => meshInputFrom(validObjects(yaml, { strict: true }));

function cluster(mesh: ReturnType<typeof buildMeshState>["mesh"]) {
  const parsed = parseProxy({ id: "sidecar~10.0.0.1~client.default~default.svc.cluster.local", metadata: { INTERCEPTION_MODE: "NONE" } });
  if ("error" in parsed) throw new Error(parsed.error);
  const out = translateProxy(mesh, proxyView(parsed.proxy, selectedLabels(mesh)));
  return out.clusters.find((c) => c.name === "outbound|80||web.default.svc.cluster.local")!;
}

describe("service identities", () => {
  it("a new pod with the same service account keeps the fast path", () => {
    const before = buildMeshState(input(svc + pod("a", "10.244.0.1", "web") + slice(["a", "10.244.0.1"])));
    const next = rebuildEndpoints(
      before,
      input(svc + pod("a", "10.244.0.1", "web") + pod("b", "10.244.0.2", "web") + slice(["a", "10.244.0.1"], ["b", "10.244.0.2"])),
    );
    expect(next.changedHosts?.has("web.default.svc.cluster.local")).toBe(true);
    expect(next.mesh.identities?.get("web.default.svc.cluster.local")).toEqual({ accounts: ["spiffe://cluster.local/ns/default/sa/web"], meshEndpoints: true });
  });

  it("a new service account is a full build, and the cluster pins both", () => {
    const before = buildMeshState(input(svc + pod("a", "10.244.0.1", "web") + slice(["a", "10.244.0.1"])));
    const after = input(svc + pod("a", "10.244.0.1", "web") + pod("b", "10.244.0.2", "web-v2") + slice(["a", "10.244.0.1"], ["b", "10.244.0.2"]));
    const next = rebuildEndpoints(before, after);
    expect(next.changedHosts).toBeUndefined();
    expect(next.mesh).toEqual(buildMeshState(after).mesh);
    const sans = JSON.stringify(cluster(next.mesh).transportSocketMatches);
    expect(sans).toContain("spiffe://cluster.local/ns/default/sa/web-v2");
    expect(sans).toContain("spiffe://cluster.local/ns/default/sa/web");
  });

  it("the first mesh member turns auto mTLS on for the service (a full build)", () => {
    const before = buildMeshState(input(svc + pod("a", "10.244.0.1", "web", false) + slice(["a", "10.244.0.1"])));
    expect(cluster(before.mesh).transportSocketMatches).toBeUndefined();
    const next = rebuildEndpoints(before, input(svc + pod("a", "10.244.0.1", "web", true) + slice(["a", "10.244.0.1"])));
    expect(next.changedHosts).toBeUndefined();
    expect(cluster(next.mesh).transportSocketMatches?.map((m) => m.name)).toEqual(["tlsMode-istio", "tlsMode-disabled"]);
  });

  it("no auto mTLS when the mesh config turns it off or proxies hold no certificates", () => {
    const yaml = svc + pod("a", "10.244.0.1", "web") + slice(["a", "10.244.0.1"]);
    for (const config of [{ enableAutoMtls: false }, { workloadCertificates: false }]) {
      const mesh = buildMeshState(input(yaml), undefined, { outboundTrafficPolicy: { mode: "ALLOW_ANY" }, ...config }).mesh;
      expect(cluster(mesh).transportSocketMatches, JSON.stringify(config)).toBeUndefined();
    }
  });
});
