import { describe, expect, it } from "vitest";
import { injectOptions } from "../../../src/cli/inject-options.js";

const flags = { inject: true, injectService: "meshpilot.mesh", proxyImage: "p:1", proxyInitImage: "i:1" };

describe("serve's injection flags", () => {
  it("serve the webhook on 15017 by default in a cluster, not outside one", () => {
    expect(injectOptions(flags, true, false, true)).toEqual({
      address: "0.0.0.0:15017",
      caSecretNamespace: "mesh",
      dnsNames: ["meshpilot.mesh.svc", "meshpilot.mesh.svc.cluster.local", "meshpilot.mesh", "meshpilot"],
      settings: { xdsAddress: "meshpilot.mesh.svc:15010", proxyImage: "p:1", captureImage: "i:1" },
    });
    expect(injectOptions(flags, true, false, false)).toBeUndefined();
    expect(injectOptions({ ...flags, injectAddress: "127.0.0.1:9443" }, false, false, false)?.address).toBe("127.0.0.1:9443");
  });
  it("with the mesh CA, injected proxies go to the secure port with their token", () => {
    expect(injectOptions(flags, true, true, true)?.settings).toEqual({
      xdsAddress: "meshpilot.mesh.svc:15012",
      secureXds: { serverName: "meshpilot.mesh.svc", tokenAudience: "istio-ca" },
      proxyImage: "p:1",
      captureImage: "i:1",
    });
    expect(injectOptions({ ...flags, injectXdsAddress: "10.0.0.1:15012" }, true, true, true)?.settings?.xdsAddress).toBe("10.0.0.1:15012");
  });
  it("--no-inject turns it off; a service without a namespace is an error", () => {
    expect(injectOptions({ ...flags, inject: false }, true, true, true)).toBeUndefined();
    expect(() => injectOptions({ ...flags, injectService: "meshpilot" }, true, true, true)).toThrow('--inject-service "meshpilot" must be <name>.<namespace>');
  });
});
