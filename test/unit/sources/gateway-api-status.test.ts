// What the Gateway API status writer patches: times kept while a condition holds, other
// controllers' route parent entries kept, nothing written when the object already shows it.
import { describe, expect, it } from "vitest";
import { statusPatch } from "../../../src/sources/kube-status/gateway-api-status.js";
import type { KubeObjectInfo } from "../../../src/sources/kube/kube-source.js";
import { cond } from "../../../src/api/gateway-api/status.js";

const info = (status: unknown, generation = 2): KubeObjectInfo => ({
  key: "HTTPRoute/ns/r",
  kind: "HTTPRoute",
  apiVersion: "gateway.networking.k8s.io/v1",
  namespace: "ns",
  name: "r",
  generation,
  status,
  path: "/apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes/r",
});
const ME = "meshpilot.io/gateway-controller";
const want = {
  parents: [{ parentRef: { name: "gw" }, controllerName: ME, conditions: [cond("Accepted", true, "Accepted", "route accepted")] }],
};

describe("Gateway API status patches", () => {
  it("keeps other controllers' parents and sets generation and time", () => {
    const other = { parentRef: { name: "theirs" }, controllerName: "example.com/other", conditions: [] };
    const p = statusPatch(info({ parents: [other] }), want, [ME], "2026-01-01T00:00:00Z") as { parents: unknown[] };
    expect(p.parents).toEqual([
      other,
      {
        parentRef: { name: "gw" },
        controllerName: ME,
        conditions: [
          {
            type: "Accepted",
            status: "True",
            reason: "Accepted",
            message: "route accepted",
            observedGeneration: 2,
            lastTransitionTime: "2026-01-01T00:00:00Z",
          },
        ],
      },
    ]);
    // Written once: the same status again is no patch.
    expect(statusPatch(info(p), want, [ME], "2026-02-02T00:00:00Z")).toBeUndefined();
    // A new generation is written, the transition time kept (the condition did not flip).
    const again = statusPatch(info(p, 3), want, [ME], "2026-03-03T00:00:00Z") as { parents: Array<{ conditions: Array<{ lastTransitionTime: string }> }> };
    expect(again.parents[1]!.conditions[0]!.lastTransitionTime).toBe("2026-01-01T00:00:00Z");
  });

  it("a flipped condition gets a new transition time", () => {
    const first = statusPatch(info({}), want, [ME], "2026-01-01T00:00:00Z");
    const refused = { parents: [{ ...want.parents[0]!, conditions: [cond("Accepted", false, "NoMatchingParent", "gone")] }] };
    const p = statusPatch(info(first), refused, [ME], "2026-04-04T00:00:00Z") as {
      parents: Array<{ conditions: Array<{ lastTransitionTime: string; reason: string }> }>;
    };
    expect(p.parents[0]!.conditions[0]).toMatchObject({ reason: "NoMatchingParent", lastTransitionTime: "2026-04-04T00:00:00Z" });
  });
});
