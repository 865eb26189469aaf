// The proxy contract: every proxy kind gets one ProxyResources shape; a router (gateway) that no
// Gateway selects is served a well-formed, empty config with a finding, never refused; the HTTP filter list keeps
// its hooks in order with the router last.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import type { MeshModel } from "../../../src/model/ir.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { encodeProxyResources } from "../../../src/pipeline/encode-view.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateOffline } from "../../../src/pipeline/offline.js";
import { httpFilters, type HttpFilterHook } from "../../../src/translate/filters.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { validObjects } from "../../support/objects.js";

const INPUT = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, ports: [{ name: http, port: 9080 }] }
`;

const objects = () => validObjects(INPUT);

const ROUTER = "router~10.244.0.5~ingress-1.istio-system~istio-system.svc.cluster.local";
const SIDECAR = "sidecar~10.244.0.9~client.default~default.svc.cluster.local";

function proxy(id: string, mesh: MeshModel) {
  const parsed = parseProxy({ id });
  if ("error" in parsed) throw new Error(parsed.error);
  return proxyView(parsed.proxy, selectedLabels(mesh));
}

describe("translateProxy", () => {
  it("gives a router no Gateway selects an empty, encodable config and says so", () => {
    const mesh = buildMesh(meshInputFrom(objects()));
    const r = translateProxy(mesh, proxy(ROUTER, mesh));
    expect(r.clusters.map((c) => c.name)).toEqual(["BlackHoleCluster"]);
    expect([r.endpoints, r.listeners, r.routes, r.secrets, r.edsTargets]).toEqual([[], [], [], [], []]);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ severity: "info", code: "MP0501" });
    expect(r.diagnostics[0]!.message).toMatch(/no Gateway selects/);
    const maps = encodeProxyResources(r);
    expect([...maps.values()].map((m) => m.size).reduce((a, b) => a + b)).toBe(1);
  });

  it("translates a sidecar through the same entry point", () => {
    const mesh = buildMesh(meshInputFrom(objects()));
    const r = translateProxy(mesh, proxy(SIDECAR, mesh));
    expect(r.clusters.map((c) => c.name)).toContain("outbound|9080||reviews.default.svc.cluster.local");
    expect(r.edsTargets.map((t) => t.cluster)).toEqual(r.endpoints.map((e) => e.clusterName));
  });

  it("meshpilot translate answers for a router instead of refusing it", () => {
    const result = translateOffline(objects(), [], { id: ROUTER });
    if ("error" in result) throw new Error(result.error);
    expect(result.resources.listeners).toEqual([]);
    expect(result.diagnostics.map((d) => d.code)).toContain("MP0501");
  });

  it("the control plane serves a router view and reports its finding", () => {
    const cache = new SnapshotCache();
    const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }) });
    const node = { id: ROUTER, cluster: "ingress", metadata: {} };
    const key = cp.viewKey(node);
    if ("error" in key) throw new Error(key.error);
    cp.activate(key.key, node);
    cp.update(meshInputFrom(objects()), "all");
    expect(cache.get(key.key)?.resources.get(TYPE_URL.listener)?.size).toBe(0);
    expect(cp.diagnostics().map((d) => d.code)).toContain("MP0501");
  });
});

describe("HTTP filter hooks", () => {
  it("fault and CORS by default, router always last", () => {
    expect(httpFilters({ direction: "outbound" }).map((f) => f.name)).toEqual([
      "envoy.filters.http.fault",
      "envoy.filters.http.cors",
      "envoy.filters.http.router",
    ]);
  });

  it("a hook adds its filter in list order, or nothing when it does not apply", () => {
    const inboundOnly: HttpFilterHook = (ctx) => (ctx.direction === "inbound" ? { name: "envoy.filters.http.rbac" } : undefined);
    expect(httpFilters({ direction: "outbound" }, [inboundOnly]).map((f) => f.name)).toEqual(["envoy.filters.http.router"]);
    expect(httpFilters({ direction: "inbound" }, [inboundOnly]).map((f) => f.name)).toEqual(["envoy.filters.http.rbac", "envoy.filters.http.router"]);
  });
});
