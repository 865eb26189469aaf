import { describe, expect, it } from "vitest";
import { snapshotFrom } from "../../../src/xds/encode.js";
import { routeForm, takesVhds } from "../../../src/xds/route-form.js";
import type { Resource, ResourceMap } from "../../../src/xds/snapshot.js";
import { TYPE_URL, type TypeUrl } from "../../../src/xds/type-urls.js";

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

describe("routeForm", () => {
  const res = (name: string): Resource => ({ name, version: "1", body: new Uint8Array([1]) });
  const mapOf = (...rs: Resource[]): ResourceMap => new Map(rs.map((r) => [r.name, r]));

  it("keeps each form on its snapshot, made once, so that it goes with the snapshot and no table of forms grows", () => {
    const s = snapshotFrom(
      new Map<TypeUrl, ResourceMap>([
        [TYPE_URL.route, mapOf(res("80"))],
        [TYPE_URL.virtualHost, mapOf(res("80/a:80"))],
      ]),
    );
    const vhds = routeForm(s, true);
    const whole = routeForm(s, false);
    expect([s.vhdsForm, s.wholeForm]).toEqual([vhds, whole]);
    expect(routeForm(s, true)).toBe(vhds);
    expect(routeForm(s, false)).toBe(whole);
    expect(vhds).not.toBe(whole);
    expect(whole.resources.get(TYPE_URL.virtualHost)?.size).toBe(0);
  });
});
