import { describe, expect, it } from "vitest";
import { parseProxy, viewKey } from "../../../src/model/proxy.js";

describe("parseProxy", () => {
  it("reads Istio's sidecar node id and metadata", () => {
    const r = parseProxy({
      id: "sidecar~10.1.2.3~productpage-abc.shop~shop.svc.cluster.local",
      metadata: { INTERCEPTION_MODE: "NONE", LABELS: { app: "productpage", version: "v1" } },
    });
    expect(r).toEqual({
      proxy: {
        type: "sidecar",
        id: "sidecar~10.1.2.3~productpage-abc.shop~shop.svc.cluster.local",
        ip: "10.1.2.3",
        podName: "productpage-abc",
        namespace: "shop",
        dnsDomain: "cluster.local",
        labels: { app: "productpage", version: "v1" },
        interceptionMode: "NONE",
      },
    });
  });

  it("takes node.locality, and proxies in different localities get different views", () => {
    const id = "sidecar~10.0.0.1~a.b~b.svc.cluster.local";
    const east = parseProxy({ id, locality: { region: "us-east", zone: "zone-a", subZone: "" } });
    const west = parseProxy({ id, locality: { region: "us-west", zone: "", subZone: "" } });
    const none = parseProxy({ id, locality: { region: "", zone: "", subZone: "" } });
    expect("proxy" in east && east.proxy.locality).toEqual({ region: "us-east", zone: "zone-a", subZone: "" });
    expect("proxy" in none && none.proxy.locality).toBeUndefined();
    if (!("proxy" in east) || !("proxy" in west) || !("proxy" in none)) throw new Error("parse failed");
    expect(new Set([viewKey(east.proxy), viewKey(west.proxy), viewKey(none.proxy)]).size).toBe(3);
  });

  it("prefers metadata NAMESPACE and defaults interception to REDIRECT", () => {
    const r = parseProxy({ id: "sidecar~10.0.0.1~a.b~b.svc.corp.example", metadata: { NAMESPACE: "other" } });
    expect("proxy" in r && r.proxy.namespace).toBe("other");
    expect("proxy" in r && r.proxy.interceptionMode).toBe("REDIRECT");
    expect("proxy" in r && r.proxy.dnsDomain).toBe("corp.example");
  });

  it.each([
    ["sidecar~10.0.0.1~pod.ns", "4 parts"],
    ["gateway~10.0.0.1~pod.ns~ns.svc.cluster.local", 'type "gateway"'],
    ["sidecar~~pod.ns~ns.svc.cluster.local", "IP part is empty"],
  ])("rejects %s", (id, reason) => {
    const r = parseProxy({ id });
    expect("error" in r && r.error).toContain(reason);
  });

  it("rejects an unknown interception mode", () => {
    const r = parseProxy({ id: "sidecar~1.1.1.1~p.ns~ns.svc.cluster.local", metadata: { INTERCEPTION_MODE: "MAGIC" } });
    expect("error" in r && r.error).toContain("INTERCEPTION_MODE");
  });
});

describe("viewKey", () => {
  it("is shared by proxies that differ only in IP and pod name", () => {
    const a = parseProxy({ id: "sidecar~10.0.0.1~a-1.ns~ns.svc.cluster.local", metadata: { LABELS: { app: "a" } } });
    const b = parseProxy({ id: "sidecar~10.0.0.2~a-2.ns~ns.svc.cluster.local", metadata: { LABELS: { app: "a" } } });
    const c = parseProxy({ id: "sidecar~10.0.0.3~a-3.ns~ns.svc.cluster.local", metadata: { LABELS: { app: "a" }, INTERCEPTION_MODE: "NONE" } });
    if (!("proxy" in a && "proxy" in b && "proxy" in c)) throw new Error("parse failed");
    expect(viewKey(a.proxy)).toBe(viewKey(b.proxy));
    expect(viewKey(a.proxy)).not.toBe(viewKey(c.proxy));
  });
});
