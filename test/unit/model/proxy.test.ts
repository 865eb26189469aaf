import { describe, expect, it } from "vitest";
import { nodeClassKey, parseProxy, proxyView, viewKey, type ProxyNode } from "../../../src/model/proxy.js";
import type { LabelSelection } from "../../../src/model/selected-labels.js";

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
    expect(new Set([east.proxy, west.proxy, none.proxy].map((p) => viewKey(proxyView(p, NONE)))).size).toBe(3);
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

const NONE: LabelSelection = new Map();

function parsed(id: string, metadata: Record<string, unknown> = {}): ProxyNode {
  const r = parseProxy({ id, metadata });
  if (!("proxy" in r)) throw new Error(r.error);
  return r.proxy;
}

describe("viewKey", () => {
  it("is shared by proxies that differ only in IP and pod name", () => {
    const a = parsed("sidecar~10.0.0.1~a-1.ns~ns.svc.cluster.local", { LABELS: { app: "a" } });
    const b = parsed("sidecar~10.0.0.2~a-2.ns~ns.svc.cluster.local", { LABELS: { app: "a" } });
    const c = parsed("sidecar~10.0.0.3~a-3.ns~ns.svc.cluster.local", { LABELS: { app: "a" }, INTERCEPTION_MODE: "NONE" });
    const key = (p: ProxyNode): string => viewKey(proxyView(p, NONE));
    expect(key(a)).toBe(key(b));
    expect(key(a)).not.toBe(key(c));
    expect(nodeClassKey(a)).toBe(nodeClassKey(b));
  });

  it("holds only the selected labels, and of those only the values some selector names", () => {
    const v1 = parsed("sidecar~10.0.0.1~a-1.ns~ns.svc.cluster.local", { LABELS: { app: "a", version: "v1", "pod-template-hash": "1" } });
    const v2 = parsed("sidecar~10.0.0.2~b-1.ns~ns.svc.cluster.local", { LABELS: { app: "b", version: "v2", "pod-template-hash": "2" } });
    const v3 = parsed("sidecar~10.0.0.3~c-1.ns~ns.svc.cluster.local", { LABELS: { app: "c", version: "v3" } });
    const key = (p: ProxyNode, s: LabelSelection): string => viewKey(proxyView(p, s));
    expect(new Set([v1, v2, v3].map((p) => nodeClassKey(p))).size).toBe(3);
    expect(new Set([v1, v2, v3].map((p) => key(p, NONE))).size).toBe(1);
    // A selector on version=v1 tells v1 from the others; v2 and v3 both simply do not match it.
    const onV1: LabelSelection = new Map([["version", new Set(["v1"])]]);
    expect(key(v1, onV1)).not.toBe(key(v2, onV1));
    expect(key(v2, onV1)).toBe(key(v3, onV1));
    expect(proxyView(v1, onV1).labels).toEqual({ version: "v1" });
    // failoverPriority reads the value itself.
    const any: LabelSelection = new Map([["version", "any"]]);
    expect(new Set([v1, v2, v3].map((p) => key(p, any))).size).toBe(3);
  });

  it("does not let a comma or equals sign in a label make two label sets alike", () => {
    const a = parsed("sidecar~10.0.0.1~a.ns~ns.svc.cluster.local", { LABELS: { x: "1,y=2" } });
    const b = parsed("sidecar~10.0.0.2~b.ns~ns.svc.cluster.local", { LABELS: { x: "1", y: "2" } });
    expect(nodeClassKey(a)).not.toBe(nodeClassKey(b));
  });
});
