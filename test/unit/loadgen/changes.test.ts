import { describe, expect, it } from "vitest";
import { fromJson, toBinary } from "@bufbuild/protobuf";
import { ClusterLoadAssignmentSchema } from "../../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ChangeWatch, fieldPattern, type Seen } from "../../../src/loadgen/changes.js";
import { churnIp, planChange, slotOf } from "../../../src/loadgen/churn.js";

function cla(...addresses: string[]): Buffer {
  const msg = fromJson(ClusterLoadAssignmentSchema, {
    clusterName: "outbound|8080||svc-1.bench-1.svc.cluster.local",
    endpoints: [{ lbEndpoints: addresses.map((address) => ({ endpoint: { address: { socketAddress: { address, portValue: 8080 } } } })) }],
  });
  return Buffer.from(toBinary(ClusterLoadAssignmentSchema, msg));
}

describe("change markers", () => {
  it("match a string field exactly, not a longer value that starts with it", () => {
    expect(cla("10.240.0.3").indexOf(fieldPattern("10.240.0.3"))).toBeGreaterThan(0);
    expect(cla("10.240.0.34").indexOf(fieldPattern("10.240.0.3"))).toBe(-1);
    expect(fieldPattern("x".repeat(200)).subarray(0, 2)).toEqual(Buffer.from([(200 & 0x7f) | 0x80, 1]));
  });

  it("a proxy that got a later change of a slot has the earlier ones too; other slots and types are untouched", () => {
    const w = new ChangeWatch();
    const a1 = w.begin("endpoint:1/0", "endpoint", ["eds"], churnIp(1), 1000);
    const a2 = w.begin("endpoint:1/0", "endpoint", ["eds"], churnIp(2), 1001);
    const b = w.begin("endpoint:2/0", "endpoint", ["eds"], churnIp(3), 1002);
    const seen: Seen = new Map();
    w.scan(seen, "rds", cla(churnIp(2)), 2000);
    expect(seen.size).toBe(0); // wrong type
    w.scan(seen, "eds", cla(churnIp(2)), 2001);
    expect([...seen]).toEqual([
      [a1.id, 2001],
      [a2.id, 2001],
    ]);
    w.scan(seen, "eds", cla(churnIp(1), churnIp(3)), 2002);
    expect(seen.get(a1.id)).toBe(2001); // first time counts
    expect(seen.get(b.id)).toBe(2002);
    w.end(a1);
    expect(w.active.map((c) => c.id)).toEqual([a2.id, b.id]);
  });

  it("plans distinct, deterministic changes, both kinds in turn", () => {
    const plans = Array.from({ length: 40 }, (_, n) => planChange(n, 7, ["endpoint", "weight"], "run"));
    expect(plans.map((p) => p.kind).slice(0, 4)).toEqual(["endpoint", "weight", "endpoint", "weight"]);
    expect(new Set(plans.map((p) => (p.kind === "endpoint" ? p.ip : p.mark))).size).toBe(40);
    expect(new Set(plans.map((p) => p.service)).size).toBe(7);
    expect(planChange(5, 7, ["endpoint", "weight"], "run")).toEqual(plans[5]);
    const weights = plans.flatMap((p) => (p.kind === "weight" ? [p.v1Weight] : []));
    expect(Math.min(...weights)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...weights)).toBeLessThanOrEqual(90);
    expect(slotOf(plans[0]!)).toMatch(/^endpoint:\d+\/\d$/);
  });
});
