/** PeerAuthentication: Istio's precedence (mesh < namespace < workload, oldest within a scope, UNSET inherits), and its validation. */
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../../src/api/diagnostics.js";
import type { PeerAuthenticationObject } from "../../../src/api/istio-resource.js";
import type { StoredObject } from "../../../src/api/objects.js";
import { parseObject } from "../../../src/api/parse.js";
import { buildPeerAuthentications, mtlsModeForPort, mtlsPolicyForPort, namespaceMtlsMode, workloadMtls } from "../../../src/model/peer-authentication.js";

let n = 0;
function pa(namespace: string, spec: Record<string, unknown>, name = `pa${++n}`, created = `2026-01-01T00:00:${String(n).padStart(2, "0")}Z`) {
  const r = parseObject({
    value: { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name, namespace, creationTimestamp: created }, spec },
  });
  if (r.status !== "valid") throw new Error(r.diagnostics.map(formatDiagnostic).join("; "));
  return r.stored as StoredObject<PeerAuthenticationObject>;
}

const web = { app: "web" };

describe("PeerAuthentication precedence", () => {
  it("is PERMISSIVE without any policy", () => {
    const { peerAuthentications } = buildPeerAuthentications([]);
    expect(workloadMtls(peerAuthentications, "shop", web).mode).toBe("PERMISSIVE");
    expect(namespaceMtlsMode(peerAuthentications, "shop")).toBeUndefined();
  });

  it("takes the narrowest scope that sets a mode: workload over namespace over mesh", () => {
    const mesh = pa("istio-system", { mtls: { mode: "STRICT" } });
    const ns = pa("shop", { mtls: { mode: "DISABLE" } });
    const wl = pa("shop", { selector: { matchLabels: web }, mtls: { mode: "PERMISSIVE" } });
    const { peerAuthentications: all } = buildPeerAuthentications([mesh, ns, wl]);
    expect(workloadMtls(all, "shop", web).mode).toBe("PERMISSIVE");
    expect(workloadMtls(all, "shop", { app: "db" }).mode).toBe("DISABLE");
    expect(workloadMtls(all, "other", web).mode).toBe("STRICT");
    expect(workloadMtls(all, "istio-system", web).mode).toBe("STRICT");
    expect(namespaceMtlsMode(all, "shop")).toBe("DISABLE");
    expect(namespaceMtlsMode(all, "other")).toBe("STRICT");
  });

  it("lets UNSET inherit, at workload and at port level", () => {
    const { peerAuthentications } = buildPeerAuthentications([
      pa("istio-system", { mtls: { mode: "STRICT" } }),
      pa("shop", {}),
      pa("shop", { selector: { matchLabels: web }, mtls: { mode: "UNSET" }, portLevelMtls: { "8080": { mode: "DISABLE" }, "9000": {} } }, "web"),
    ]);
    const m = workloadMtls(peerAuthentications, "shop", web);
    expect(m.mode).toBe("STRICT");
    expect(mtlsModeForPort(m, 8080)).toBe("DISABLE");
    expect(mtlsModeForPort(m, 9000)).toBe("STRICT");
    expect(mtlsModeForPort(m, 7000)).toBe("STRICT");
    expect(mtlsPolicyForPort(m, 8080)).toMatchObject({ name: "web" });
    expect(mtlsPolicyForPort(m, 7000)).toMatchObject({ namespace: "istio-system" });
  });

  it("keeps the oldest of two policies in one scope, and ignores selectors in the root namespace", () => {
    const { peerAuthentications, diagnostics } = buildPeerAuthentications([
      pa("shop", { mtls: { mode: "DISABLE" } }, "newer", "2026-02-01T00:00:00Z"),
      pa("shop", { mtls: { mode: "STRICT" } }, "older", "2026-01-01T00:00:00Z"),
      pa("shop", { selector: { matchLabels: web }, mtls: { mode: "DISABLE" } }, "wl-new", "2026-02-01T00:00:00Z"),
      pa("shop", { selector: { matchLabels: web }, mtls: { mode: "PERMISSIVE" } }, "wl-old", "2026-01-01T00:00:00Z"),
      pa("istio-system", { selector: { matchLabels: web }, mtls: { mode: "DISABLE" } }, "root-selector"),
    ]);
    expect(workloadMtls(peerAuthentications, "shop", { app: "db" }).mode).toBe("STRICT");
    expect(workloadMtls(peerAuthentications, "shop", web).mode).toBe("PERMISSIVE");
    expect(workloadMtls(peerAuthentications, "other", web).mode).toBe("PERMISSIVE");
    expect(diagnostics.map((d) => `${d.code} ${d.object?.name}`).sort()).toEqual(["MP0870 newer", "MP0870 root-selector"]);
  });
});

describe("PeerAuthentication validation", () => {
  const check = (spec: unknown) =>
    parseObject({ value: { apiVersion: "security.istio.io/v1beta1", kind: "PeerAuthentication", metadata: { name: "p", namespace: "shop" }, spec } });

  it("accepts Istio's documented forms", () => {
    for (const spec of [
      undefined,
      {},
      { mtls: { mode: "STRICT" } },
      { selector: { matchLabels: web }, mtls: { mode: "UNSET" }, portLevelMtls: { "8080": { mode: "DISABLE" } } },
    ]) {
      const r = check(spec);
      expect(r.diagnostics.map(formatDiagnostic).sort()).toEqual([]);
      expect(r.status).toBe("valid");
    }
  });

  it("refuses portLevelMtls without a selector, bad ports and modes, unknown fields, naming object and field", () => {
    const r = check({ mtls: { mode: "STRICTLY" }, portLevelMtls: { "70000": { mode: "DISABLE" } }, mTLS: {} });
    expect(r.status).toBe("invalid");
    expect(r.diagnostics.map(formatDiagnostic).sort()).toEqual(
      [
        'error IST0106 PeerAuthentication shop/p spec.mtls.mode: expected one of UNSET, DISABLE, PERMISSIVE, STRICT, got string "STRICTLY"',
        "error IST0106 PeerAuthentication shop/p spec.portLevelMtls: portLevelMtls needs a workload selector with labels (spec.selector.matchLabels): a mesh- or namespace-wide PeerAuthentication cannot set per-port modes, as in Istio",
        'error IST0106 PeerAuthentication shop/p spec.portLevelMtls["70000"]: port "70000" must be a number in 1..65535 (the workload\'s port, not the Service\'s)',
        'error IST0106 PeerAuthentication shop/p spec.mTLS: unknown field "mTLS" in Istio PeerAuthentication (did you mean "mtls"?)',
      ].sort(),
    );
  });

  it("refuses wildcards and empty keys in the selector", () => {
    const r = check({ selector: { matchLabels: { app: "web*" } } });
    expect(r.status).toBe("invalid");
    expect(r.diagnostics[0]).toMatchObject({ path: "spec.selector.matchLabels.app" });
  });
});
