// Cluster policies of equal content are one object, whichever rule, subset or port they come from
// (policies.ts): what is made of a policy (its parsed durations, its clusters' encoded settings)
// is then made once for a mesh whose rules say the same.
import { describe, expect, it } from "vitest";
import type { TrafficPolicy } from "../../../src/api/istio-types.js";
import type { DestinationRuleModel } from "../../../src/model/ir.js";
import { clusterPolicy } from "../../../src/model/policies.js";

function rule(name: string, trafficPolicy: TrafficPolicy | undefined, subsetPolicy?: TrafficPolicy): DestinationRuleModel {
  return {
    host: `${name}.ns.svc.cluster.local`,
    namespace: "ns",
    name,
    ...(trafficPolicy ? { trafficPolicy } : {}),
    subsets: [{ name: "v1", labels: { version: "v1" }, ...(subsetPolicy ? { trafficPolicy: subsetPolicy } : {}) }],
    exportTo: [],
    refs: [],
  };
}

/** A fresh copy each time: equal content, no object in common. */
const policy = (minHealthPercent = 0): TrafficPolicy => ({
  connectionPool: { tcp: { maxConnections: 10, connectTimeout: "2s" } },
  outlierDetection: { consecutive5xxErrors: 5, minHealthPercent },
});

describe("cluster policies shared by content", () => {
  it("equal policies of different rules, subsets and ports are one object, with durations parsed", () => {
    const a = clusterPolicy(rule("a", policy()), undefined, 80);
    const b = clusterPolicy(rule("b", policy()), undefined, 80);
    const subset = clusterPolicy(rule("c", policy()), "v1", 8080);
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(subset).toBe(a);
    expect(a!.connectionPool?.tcp?.connectTimeout).toEqual({ totalNanos: 2_000_000_000n, seconds: 2n, nanos: 0 });
  });

  it("different policies are not", () => {
    const a = clusterPolicy(rule("a", policy()), undefined, 80);
    const other = clusterPolicy(rule("d", policy(), { loadBalancer: { simple: "RANDOM" } }), "v1", 80);
    expect(other).not.toBe(a);
    expect(other!.loadBalancer?.simple).toBe("RANDOM");
  });

  it("numbers JSON text cannot tell apart (-0 from 0, NaN) keep a policy to itself", () => {
    const zero = clusterPolicy(rule("a", policy(0)), undefined, 80);
    const negative = clusterPolicy(rule("e", policy(-0)), undefined, 80);
    expect(negative).not.toBe(zero);
    expect(Object.is(negative!.outlierDetection?.minHealthPercent, -0)).toBe(true);
    const nan = clusterPolicy(rule("f", policy(Number.NaN)), undefined, 80);
    expect(nan).not.toBe(clusterPolicy(rule("g", policy(Number.NaN)), undefined, 80));
  });
});
