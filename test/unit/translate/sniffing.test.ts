// Outbound ports that name no protocol: a captured sidecar sniffs each on its service's own
// `<VIP>_<port>` listener (HTTP routed by `<fqdn>:<port>`, the rest to the service over TCP), as
// Istio does; without capture the port stays on the local HTTP socket. Values written by hand.
import { describe, expect, it } from "vitest";
import { buildMesh } from "../../../src/model/build.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateProxy } from "../../../src/translate/proxy.js";
import { validObjects } from "../../support/objects.js";

const MESH = `
apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: shop }
spec: { clusterIP: 10.96.0.9, ports: [{ port: 7000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { clusterIP: 10.96.0.8, ports: [{ name: http, port: 7000 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: legacy, namespace: shop }
spec: { hosts: [legacy], tcp: [{ route: [{ destination: { host: web, port: { number: 7000 } } }] }] }
---`;

function translate(mode: string) {
  const mesh = buildMesh(meshInputFrom(validObjects(MESH)));
  const parsed = parseProxy({ id: "sidecar~10.244.0.7~c.shop~shop.svc.cluster.local", metadata: { INTERCEPTION_MODE: mode } });
  if ("error" in parsed) throw new Error(parsed.error);
  return translateProxy(mesh, proxyView(parsed.proxy, selectedLabels(mesh)));
}

describe("ports that name no protocol", () => {
  it("get a sniffing listener on the service VIP next to the shared HTTP listener of the port", () => {
    const r = translate("REDIRECT");
    const sniff = r.listeners.find((l) => l.name === "10.96.0.9_7000")!;
    expect(sniff.listenerFilters?.map((f) => f.name)).toEqual(["envoy.filters.listener.http_inspector"]);
    expect(JSON.stringify(sniff.filterChains)).toContain('"routeConfigName":"legacy.shop.svc.cluster.local:7000"');
    // The VirtualService's tcp route decides where non-HTTP traffic goes.
    expect(JSON.stringify(sniff.defaultFilterChain)).toContain('"cluster":"outbound|7000||web.shop.svc.cluster.local"');
    expect(r.listeners.some((l) => l.name === "0.0.0.0_7000")).toBe(true);
    const rc = r.routes.find((x) => x.name === "legacy.shop.svc.cluster.local:7000")!;
    expect(rc.virtualHosts?.map((v) => [v.name, v.domains])).toEqual([["legacy.shop.svc.cluster.local:7000", ["*"]]]);
    expect(r.routes.find((x) => x.name === "7000")!.virtualHosts?.map((v) => v.name)).toEqual(["web.shop.svc.cluster.local:7000", "allow_any"]);
  });

  it("stay on the local HTTP socket of a proxy without capture", () => {
    const r = translate("NONE");
    expect(r.listeners.map((l) => l.name)).toEqual(["127.0.0.1_7000"]);
    expect(r.routes.find((x) => x.name === "7000")!.virtualHosts?.map((v) => v.name)).toEqual([
      "legacy.shop.svc.cluster.local:7000",
      "web.shop.svc.cluster.local:7000",
      "allow_any",
    ]);
  });
});
