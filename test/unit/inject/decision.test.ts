import { describe, expect, it } from "vitest";
import { decideInjection, selectingWebhook } from "../../../src/inject/decision.js";
import type { AdmittedPod } from "../../../src/inject/pod.js";

const pod = (
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
  spec: AdmittedPod["spec"] = { containers: [{ name: "app" }] },
): AdmittedPod => ({
  metadata: { name: "p", namespace: "shop", labels, annotations },
  spec,
});
const enabled = { "istio-injection": "enabled" };

describe("selectingWebhook (the two webhooks' selectors)", () => {
  it("namespace webhook: istio-injection=enabled unless the pod says false", () => {
    expect(selectingWebhook(enabled, {})).toBe("namespace");
    expect(selectingWebhook(enabled, { "sidecar.istio.io/inject": "true" })).toBe("namespace");
    expect(selectingWebhook(enabled, { "sidecar.istio.io/inject": "false" })).toBeUndefined();
  });
  it("object webhook: pod label true in a namespace without istio-injection or istio.io/rev", () => {
    expect(selectingWebhook({}, { "sidecar.istio.io/inject": "true" })).toBe("object");
    expect(selectingWebhook({}, {})).toBeUndefined();
    expect(selectingWebhook({ "istio-injection": "disabled" }, { "sidecar.istio.io/inject": "true" })).toBeUndefined();
    expect(selectingWebhook({ "istio.io/rev": "canary" }, { "sidecar.istio.io/inject": "true" })).toBeUndefined();
    expect(selectingWebhook({}, { "sidecar.istio.io/inject": "true", "istio.io/rev": "canary" })).toBeUndefined();
  });
});

describe("decideInjection", () => {
  it("injects in an enabled namespace", () => {
    expect(decideInjection(pod(), "shop", enabled).inject).toBe(true);
  });
  it("pod label false opts out of an enabled namespace", () => {
    const d = decideInjection(pod({ "sidecar.istio.io/inject": "false" }), "shop", enabled);
    expect(d).toEqual({ inject: false, reason: "pod label sidecar.istio.io/inject=false opts out of namespace injection" });
  });
  it("pod label true opts in where the namespace has no label", () => {
    expect(decideInjection(pod({ "sidecar.istio.io/inject": "true" }), "shop", {}).inject).toBe(true);
  });
  it("namespace disabled wins over a pod label true", () => {
    const d = decideInjection(pod({ "sidecar.istio.io/inject": "true" }), "shop", { "istio-injection": "disabled" });
    expect(d).toEqual({ inject: false, reason: "namespace label istio-injection=disabled" });
  });
  it("no opt-in at all: not injected", () => {
    expect(decideInjection(pod(), "shop", {}).inject).toBe(false);
  });
  it("a pod label other than true/false in an enabled namespace is Istio's 'not true': not injected", () => {
    expect(decideInjection(pod({ "sidecar.istio.io/inject": "no" }), "shop", enabled).inject).toBe(false);
    expect(decideInjection(pod({ "sidecar.istio.io/inject": "yes" }), "shop", enabled).inject).toBe(true);
  });
  it("the legacy annotation counts when no label is set; the label wins over it", () => {
    expect(decideInjection(pod({}, { "sidecar.istio.io/inject": "false" }), "shop", enabled).inject).toBe(false);
    expect(decideInjection(pod({ "sidecar.istio.io/inject": "true" }, { "sidecar.istio.io/inject": "false" }), "shop", enabled).inject).toBe(true);
  });
  it("already injected pods are left alone", () => {
    const d = decideInjection(pod({}, { "sidecar.istio.io/status": "{}" }), "shop", enabled);
    expect(d.inject).toBe(false);
    expect(d.reason).toContain("already injected");
  });
  it("hostNetwork pods are skipped", () => {
    const d = decideInjection(pod({}, {}, { hostNetwork: true, containers: [{ name: "app" }] }), "shop", enabled);
    expect(d.inject).toBe(false);
    expect(d.reason).toContain("host network");
  });
  it("kube-system is never injected", () => {
    expect(decideInjection(pod(), "kube-system", enabled).inject).toBe(false);
  });
  it("unknown namespace labels: the apiserver's selector already chose, only the pod's opt-out counts", () => {
    expect(decideInjection(pod(), "shop", undefined).inject).toBe(true);
    expect(decideInjection(pod({ "sidecar.istio.io/inject": "false" }), "shop", undefined).inject).toBe(false);
  });
});
