import { describe, expect, it } from "vitest";
import { takesVhds } from "../../../src/xds/route-form.js";

const node = (id: string, userAgentVersion?: string) => ({
  id,
  cluster: "c",
  metadata: {},
  userAgentName: "envoy",
  ...(userAgentVersion ? { userAgentVersion } : {}),
});

describe("takesVhds", () => {
  it("is for sidecar Envoys from 1.38 on, never for gateways or other clients", () => {
    expect(takesVhds(node("sidecar~10.0.0.1~a.ns~ns.svc.cluster.local", "1.40.0"))).toBe(true);
    expect(takesVhds(node("sidecar~10.0.0.1~a.ns~ns.svc.cluster.local", "1.37.2"))).toBe(false);
    expect(takesVhds(node("router~10.0.0.1~gw.ns~ns.svc.cluster.local", "1.40.0"))).toBe(false);
    expect(takesVhds({ ...node("sidecar~10.0.0.1~a.ns~ns.svc.cluster.local", "1.40.0"), userAgentName: "grpc-go" })).toBe(false);
  });
});
