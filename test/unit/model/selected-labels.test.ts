import { describe, expect, it } from "vitest";
import { buildMesh, buildMeshState } from "../../../src/model/build.js";
import { outboundLabels, projectLabels, selectedLabels, selectionStats, selectionText } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { validObjects } from "../../support/objects.js";

function mesh(yaml: string) {
  return buildMesh(meshInputFrom(validObjects(yaml, { strict: true })));
}

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { clusterIP: 10.96.0.10, ports: [{ name: http, port: 80 }, { name: tcp-db, port: 5432 }, { name: tls, port: 443 }] }
`;

describe("selectedLabels", () => {
  it("walks each model list once, however many builds and selections read it", () => {
    const m = mesh(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: default }
spec: { host: web, workloadSelector: { matchLabels: { app: client } } }
`);
    const before = selectionStats.walked;
    const first = selectionText(selectedLabels(m));
    // VirtualServices, DestinationRules, Service selectors.
    expect(selectionStats.walked - before).toBe(3);
    expect(selectionText(selectedLabels({ ...m }))).toBe(first);
    expect(selectionText(outboundLabels(m))).toBe(`[["app",["client"]]]`);
    expect(selectionStats.walked - before).toBe(3);
  });

  it("walks an edited VirtualService's matches, not every VirtualService's", () => {
    const vs = (name: string, version: string): string => `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.example.com]
  http:
    - match: [{ sourceLabels: { version: ${version} } }]
      route: [{ destination: { host: web } }]
`;
    const input = (edited: string): ReturnType<typeof meshInputFrom> =>
      meshInputFrom(validObjects(`${SERVICES}${vs("a", "v1")}${vs("b", "v2")}${vs("c", edited)}`, { strict: true }));
    const first = buildMeshState(input("v3"));
    expect(selectionText(outboundLabels(first.mesh))).toBe(`[["version",["v1","v2","v3"]]]`);
    const before = selectionStats.virtualServices;
    const edited = buildMeshState(input("v4"), undefined, undefined, first);
    expect(selectionText(outboundLabels(edited.mesh))).toBe(`[["version",["v1","v2","v4"]]]`);
    expect(selectionStats.virtualServices - before).toBe(1);
  });

  it("is empty when nothing selects on proxy labels", () => {
    expect(selectionText(selectedLabels(mesh(SERVICES)))).toBe("[]");
  });

  it("collects sourceLabels of HTTP, TCP and TLS matches, DestinationRule workloadSelectors and failoverPriority keys", () => {
    const m = mesh(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
    - match: [{ sourceLabels: { version: v2 } }, { sourceLabels: { version: v3, track: canary } }]
      route: [{ destination: { host: web } }]
  tcp:
    - match: [{ port: 5432, sourceLabels: { tier: db-client } }]
      route: [{ destination: { host: web, port: { number: 5432 } } }]
  tls:
    - match: [{ port: 443, sniHosts: [web], sourceLabels: { zone-pinned: "yes" } }]
      route: [{ destination: { host: web, port: { number: 443 } } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web-for-batch, namespace: default }
spec:
  host: web
  workloadSelector: { matchLabels: { role: batch } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: other }
spec:
  host: web.default.svc.cluster.local
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3 }
    portLevelSettings:
      - port: { number: 80 }
        loadBalancer: { localityLbSetting: { failoverPriority: [cell, "rack=r1"] } }
  subsets:
    - name: s
      labels: { version: v1 }
      trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 }, loadBalancer: { localityLbSetting: { failoverPriority: [shard] } } }
`);
    const sel = selectedLabels(m);
    expect(JSON.parse(selectionText(sel))).toEqual([
      ["cell", "*"],
      ["rack", "*"],
      ["role", ["batch"]],
      ["shard", "*"],
      ["tier", ["db-client"]],
      ["track", ["canary"]],
      ["version", ["v2", "v3"]],
      ["zone-pinned", ["yes"]],
    ]);
    expect(projectLabels({ app: "x", version: "v1", track: "canary", cell: "c7", "pod-template-hash": "abc" }, sel)).toEqual({ cell: "c7", track: "canary" });
    expect(projectLabels({ version: "v3", role: "web" }, sel)).toEqual({ version: "v3" });
  });
});
