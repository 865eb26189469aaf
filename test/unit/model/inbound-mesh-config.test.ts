// The inbound side's inputs (which Services select a proxy, which target ports win) and the mesh
// config a user hands over (flag, file, ConfigMap), each checked against values written by hand.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import { inboundScope } from "../../../src/model/inbound.js";
import type { ServiceModel } from "../../../src/model/ir.js";
import { meshConfigFrom } from "../../../src/model/mesh-config.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { loadMeshConfig } from "../../../src/runtime/mesh-config-file.js";
import { validObjects } from "../../support/objects.js";

const MESH = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { clusterIP: 10.96.0.1, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }, { name: tcp-x, port: 81, targetPort: 8080 }, { name: grpc, port: 90 }] }
---
apiVersion: v1
kind: Service
metadata: { name: canary, namespace: shop }
spec: { clusterIP: 10.96.0.2, selector: { app: web, track: canary }, ports: [{ name: tcp-c, port: 7000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: other }
spec: { clusterIP: 10.96.0.3, selector: { app: web }, ports: [{ name: http, port: 6000 }] }
`;

function inboundFor(labels: Record<string, string>, mode = "REDIRECT") {
  const mesh = buildMesh(meshInputFrom(validObjects(MESH)));
  const parsed = parseProxy({ id: "sidecar~10.0.0.1~web-1.shop~shop.svc.cluster.local", metadata: { LABELS: labels, INTERCEPTION_MODE: mode } });
  if ("error" in parsed) throw new Error(parsed.error);
  return inboundScope(mesh, proxyView(parsed.proxy, selectedLabels(mesh)));
}

describe("inbound scope", () => {
  it("takes the target ports of the proxy's namespace's Services that select it, the first Service winning a shared port", () => {
    const ports = inboundFor({ app: "web", "pod-template-hash": "x" }).ports.map((p) => [p.targetPort, p.protocol, p.service.name, p.servicePort.port]);
    expect(ports).toEqual([
      [90, "GRPC", "web", 90],
      [8080, "HTTP", "web", 80],
    ]);
  });

  it("needs every selector label", () => {
    expect(inboundFor({ app: "web", track: "canary" }).ports.map((p) => p.targetPort)).toEqual([90, 7000, 8080]);
    expect(inboundFor({ app: "other" }).ports).toEqual([]);
  });

  it("walks the Services once per registry, not once per proxy", () => {
    const built = buildMesh(meshInputFrom(validObjects(MESH)));
    let walks = 0;
    class Counting extends Map<string, ServiceModel> {
      override values(): MapIterator<ServiceModel> {
        walks++;
        return super.values();
      }
    }
    const mesh = { ...built, services: new Counting(built.services) };
    const labels = selectedLabels(mesh);
    const views = ["web-1", "web-2", "web-3"].map((pod) => {
      const parsed = parseProxy({
        id: `sidecar~10.0.0.1~${pod}.shop~shop.svc.cluster.local`,
        metadata: { LABELS: { app: "web" }, INTERCEPTION_MODE: "REDIRECT" },
      });
      if ("error" in parsed) throw new Error(parsed.error);
      return proxyView(parsed.proxy, labels);
    });
    walks = 0;
    for (const view of views)
      expect(inboundScope(mesh, view).ports.map((p) => [p.targetPort, p.service.name])).toEqual([
        [90, "web"],
        [8080, "web"],
      ]);
    expect(walks).toBe(1);
  });

  it("is empty without capture", () => {
    expect(inboundFor({ app: "web" }, "NONE").ports).toEqual([]);
  });
});

describe("mesh config", () => {
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-meshcfg-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads outboundTrafficPolicy and refuses an unknown mode", () => {
    expect(meshConfigFrom(undefined)).toEqual({ config: { outboundTrafficPolicy: { mode: "ALLOW_ANY" } } });
    expect(meshConfigFrom({ outboundTrafficPolicy: { mode: "REGISTRY_ONLY" }, enableTracing: true })).toEqual({
      config: { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } },
    });
    expect(meshConfigFrom({ outboundTrafficPolicy: { mode: "ALLOW_SOME" } })).toEqual({
      error: 'outboundTrafficPolicy.mode "ALLOW_SOME" must be one of ALLOW_ANY, REGISTRY_ONLY',
    });
  });

  it("loads a mesh config file or the istio ConfigMap, the flag overriding either", () => {
    const plain = join(dir, "mesh.yaml");
    writeFileSync(plain, "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n");
    const cm = join(dir, "istio.yaml");
    writeFileSync(cm, "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: istio }\ndata:\n  mesh: |\n    outboundTrafficPolicy:\n      mode: REGISTRY_ONLY\n");
    expect(loadMeshConfig(plain, undefined).outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    expect(loadMeshConfig(cm, undefined).outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    expect(loadMeshConfig(cm, "ALLOW_ANY").outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    expect(loadMeshConfig(undefined, undefined).outboundTrafficPolicy.mode).toBe("ALLOW_ANY");
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "outboundTrafficPolicy: { mode: 3 }\n");
    expect(() => loadMeshConfig(bad, undefined)).toThrow(`--mesh-config ${bad}: outboundTrafficPolicy.mode must be a string`);
  });
});
