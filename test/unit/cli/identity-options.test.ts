import { describe, expect, it } from "vitest";
import { identityOptions, workloadCertTtlSeconds } from "../../../src/cli/identity-options.js";
import { servedMeshConfig } from "../../../src/runtime/serve.js";

const flags = { secureXds: true, injectService: "meshpilot.mesh" };

describe("serve's identity flags", () => {
  it("the secure port is on by default in a cluster, elsewhere only with an address; --no-secure-xds turns it off", () => {
    expect(identityOptions(flags, true)).toMatchObject({ secureXdsAddress: "0.0.0.0:15012", caNamespace: "mesh" });
    expect(identityOptions(flags, false)).toBeUndefined();
    expect(identityOptions({ ...flags, secureXdsAddress: "127.0.0.1:0" }, false)?.secureXdsAddress).toBe("127.0.0.1:0");
    expect(identityOptions({ ...flags, secureXds: false, secureXdsAddress: "127.0.0.1:0" }, true)).toBeUndefined();
  });

  it("the serving certificate names the Service and istiod's names", () => {
    expect(identityOptions(flags, true)?.dnsNames).toEqual([
      "meshpilot.mesh.svc",
      "meshpilot.mesh.svc.cluster.local",
      "meshpilot.mesh",
      "istiod.mesh.svc",
      "istiod.mesh.svc.cluster.local",
      "istiod.mesh",
      "istiod.istio-system.svc",
    ]);
  });

  it("--workload-cert-ttl takes a Go duration between 60 s and Istio's 90 days", () => {
    expect(identityOptions({ ...flags, workloadCertTtl: "90s" }, true)?.workloadCertTtlSeconds).toBe(90);
    expect(identityOptions(flags, true)?.workloadCertTtlSeconds).toBeUndefined();
    expect(workloadCertTtlSeconds("24h")).toBe(86400);
    expect(workloadCertTtlSeconds("1h30m")).toBe(5400);
    expect(workloadCertTtlSeconds("30s")).toEqual({ error: '--workload-cert-ttl "30s" must be at least 60s' });
    expect(workloadCertTtlSeconds("91d")).toMatchObject({ error: expect.stringContaining("must be a duration") });
    expect(workloadCertTtlSeconds("2200h")).toMatchObject({ error: expect.stringContaining("90 days") });
    expect(() => identityOptions({ ...flags, workloadCertTtl: "soon" }, true)).toThrow('--workload-cert-ttl "soon" must be a duration');
  });

  it("proxies hold workload certificates exactly when the mesh CA runs", () => {
    const identity = identityOptions(flags, true)!;
    expect(servedMeshConfig({ identity }).workloadCertificates).toBe(true);
    expect(servedMeshConfig({}).workloadCertificates).toBe(false);
    expect(servedMeshConfig({ meshConfig: { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" }, trustDomain: "example.org" }, identity })).toEqual({
      outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
      trustDomain: "example.org",
      workloadCertificates: true,
    });
  });
});
