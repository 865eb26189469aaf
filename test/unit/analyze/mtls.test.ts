/** MP0871: a DestinationRule sending plaintext to workloads whose PeerAuthentication is STRICT; and the near misses that are fine. */
import { describe, expect, it } from "vitest";
import { analyzeMesh, analysisFindings } from "../../../src/analyze/analyze.js";
import { buildMesh } from "../../../src/model/build.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../support/objects.js";

const base = `
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: shop }
spec: { clusterIP: 10.96.0.5, selector: { app: ratings }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: ratings-v1, namespace: shop, labels: { app: ratings, version: v1, security.istio.io/tlsMode: istio } }
status: { podIP: 10.244.0.5 }
---
apiVersion: v1
kind: Pod
metadata: { name: ratings-v2, namespace: shop, labels: { app: ratings, version: v2 } }
status: { podIP: 10.244.0.6 }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ratings-1, namespace: shop, labels: { kubernetes.io/service-name: ratings } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints:
  - { addresses: [10.244.0.5], targetRef: { kind: Pod, name: ratings-v1, namespace: shop } }
  - { addresses: [10.244.0.6], targetRef: { kind: Pod, name: ratings-v2, namespace: shop } }
`;

function findings(extra: string): string[] {
  const mesh = buildMesh(meshInputFrom(validObjects(base + extra, { strict: true })));
  return analysisFindings(analyzeMesh(mesh), () => undefined)
    .filter((d) => d.code === "MP0871")
    .map((d) => `${d.object?.name} ${d.path}: ${d.message}`);
}

const strict = (spec = "mtls: { mode: STRICT }") => `
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: shop }
spec: { ${spec} }
`;
const rule = (tls: string) => `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: shop }
spec:
  host: ratings.shop.svc.cluster.local
${tls}
`;

describe("mTLS conflicts", () => {
  it("reports tls DISABLE to workloads under STRICT, naming the policy, the port and a pod", () => {
    expect(findings(strict() + rule("  trafficPolicy: { tls: { mode: DISABLE } }"))).toEqual([
      "ratings spec.trafficPolicy.tls.mode: tls mode DISABLE sends plaintext to ratings.shop.svc.cluster.local, but PeerAuthentication shop/strict requires mTLS (STRICT) on workload port 8080 of its pods (e.g. ratings-v1): their sidecars refuse these connections; use ISTIO_MUTUAL (or drop the tls setting for auto mTLS), or relax the PeerAuthentication",
    ]);
  });

  it("near misses: ISTIO_MUTUAL, PERMISSIVE, a port-level DISABLE on the port, a subset of pods outside the mesh", () => {
    expect(findings(strict() + rule("  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }"))).toEqual([]);
    expect(findings(strict("mtls: { mode: PERMISSIVE }") + rule("  trafficPolicy: { tls: { mode: DISABLE } }"))).toEqual([]);
    expect(
      findings(
        strict("selector: { matchLabels: { app: ratings } }, mtls: { mode: STRICT }, portLevelMtls: { '8080': { mode: DISABLE } }") +
          rule("  trafficPolicy: { tls: { mode: DISABLE } }"),
      ),
    ).toEqual([]);
    expect(findings(strict() + rule("  subsets: [{ name: v2, labels: { version: v2 }, trafficPolicy: { tls: { mode: DISABLE } } }]"))).toEqual([]);
    expect(findings(rule("  trafficPolicy: { tls: { mode: DISABLE } }"))).toEqual([]);
  });

  it("reports a subset whose pods are under STRICT", () => {
    expect(findings(strict() + rule("  subsets: [{ name: v1, labels: { version: v1 }, trafficPolicy: { tls: { mode: DISABLE } } }]"))).toHaveLength(1);
  });
});
