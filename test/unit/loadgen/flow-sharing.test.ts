// Proxies that get the same responses share their flow's state (src/loadgen/flow.ts): a
// response applied to a shared state by one proxy is a transition the others take by reference,
// and a proxy that gets a response of its own goes on from a copy, leaving the others as they were.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ClusterLoadAssignmentSchema } from "../../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { DeltaDiscoveryResponseSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { EnvoyFlow, flowTransitions, type FlowSender } from "../../../src/loadgen/flow.js";
import { ResponseMemo } from "../../../src/loadgen/response-memo.js";
import { readDeltaResponse, type DeltaSummary } from "../../../src/loadgen/wire.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

const cluster = (name: string): Uint8Array =>
  toBinary(ClusterSchema, fromJson(ClusterSchema, { name, type: "EDS", edsClusterConfig: { serviceName: `cla-${name}`, edsConfig: { ads: {} } } }));
const assignment = (name: string): Uint8Array =>
  toBinary(
    ClusterLoadAssignmentSchema,
    fromJson(ClusterLoadAssignmentSchema, {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "10.0.0.1", portValue: 80 } } } }] }],
    }),
  );

function response(typeUrl: string, nonce: string, resources: [string, Uint8Array][], removed: string[] = []): Buffer {
  return Buffer.from(
    toBinary(
      DeltaDiscoveryResponseSchema,
      create(DeltaDiscoveryResponseSchema, {
        typeUrl,
        nonce,
        removedResources: removed,
        resources: resources.map(([name, value]) => ({ name, version: "v1", resource: { typeUrl, value } })),
      }),
    ),
  );
}

const NAMES = Array.from({ length: 20 }, (_, i) => `c${i}`);
const cds = (nonce: string, names = NAMES): Buffer =>
  response(
    TYPE_URL.cluster,
    nonce,
    names.map((n) => [n, cluster(n)]),
  );
const eds = (nonce: string, names = NAMES): Buffer =>
  response(
    TYPE_URL.endpoint,
    nonce,
    names.map((n) => [`cla-${n}`, assignment(`cla-${n}`)]),
  );
const lds = (nonce: string): Buffer => response(TYPE_URL.listener, nonce, []);

/** A flow and what it sent. */
function proxy(expect: ReadonlySet<string>, initialFetchTimeoutMs?: number): { flow: EnvoyFlow; sent: string[] } {
  const sent: string[] = [];
  const sender: FlowSender = { subscribe: (t, a, r) => void sent.push(`${t} +${a.join(",")} -${r.join(",")}`) };
  const flow = new EnvoyFlow(sender, expect, initialFetchTimeoutMs);
  flow.start();
  return { flow, sent };
}

function apply(flow: EnvoyFlow, r: DeltaSummary): void {
  if (r.typeUrl === TYPE_URL.cluster) flow.onClusters(r.resources, r.removed, false, r.shared);
  else if (r.typeUrl === TYPE_URL.endpoint) flow.onEndpoints(r.resources, r.shared);
  else flow.onListeners(r.resources, r.removed, false, r.shared);
}

describe("proxies that get the same responses", () => {
  it("compute each step once and end where each would have on its own", () => {
    const expect_ = new Set(NAMES);
    const memo = new ResponseMemo();
    const alone = proxy(expect_);
    const fleet = Array.from({ length: 5 }, () => proxy(expect_));
    const steps = [(n: string) => cds(n), (n: string) => eds(n), (n: string) => lds(n)];
    for (const step of steps) apply(alone.flow, readDeltaResponse(step("a")));
    const before = { ...flowTransitions };
    for (const step of steps) fleet.forEach((p, i) => apply(p.flow, readDeltaResponse(step(`n${i}`), memo.resources)));
    expect(flowTransitions.computed - before.computed).toBe(steps.length);
    expect(flowTransitions.shared - before.shared).toBe(steps.length * (fleet.length - 1));
    for (const p of fleet) {
      expect(p.sent).toEqual(alone.sent);
      expect(p.flow.names()).toEqual(alone.flow.names());
      expect(p.flow.synced).toBe(true);
      expect(p.flow.waitingFor()).toEqual([]);
    }
    expect(alone.sent).toEqual(["cds +* -", `eds +${NAMES.map((n) => `cla-${n}`).join(",")} -`, "lds +* -"]);

    // One proxy gets a cluster more, another one fewer (removed): each goes on alone, the rest as they were.
    const [a, b, ...rest] = fleet;
    apply(a!.flow, readDeltaResponse(cds("x", ["c99"]), memo.resources));
    apply(b!.flow, readDeltaResponse(response(TYPE_URL.cluster, "y", [], ["c3"]), memo.resources));
    expect(a!.flow.names().clusters).toContain("c99");
    expect(a!.flow.synced).toBe(false);
    expect(a!.flow.waitingFor()).toEqual(["EDS: 1 of 21 not received (cla-c99)"]);
    expect(b!.flow.names().clusters).not.toContain("c3");
    expect(b!.flow.names().eds).not.toContain("cla-c3");
    expect(b!.sent.at(-1)).toBe("eds + -cla-c3");
    for (const p of rest) {
      expect(p.flow.names()).toEqual(alone.flow.names());
      expect(p.flow.synced).toBe(true);
    }
    apply(a!.flow, readDeltaResponse(eds("z", ["c99"]), memo.resources));
    expect(a!.flow.synced).toBe(true);
    for (const p of fleet) p.flow.stop();
    alone.flow.stop();
  });
});

describe("a proxy whose responses are its own", () => {
  it("changes its state in place, even when the memo keeps its responses", () => {
    const memo = new ResponseMemo();
    const p = proxy(new Set());
    const before = { ...flowTransitions };
    // Each response new to the memo (kept: all its resources are new), taken by no other proxy.
    for (let k = 0; k < 5; k++) {
      const r = readDeltaResponse(cds(`n${k}`, [`own-${k}-a`, `own-${k}-b`, `own-${k}-c`]), memo.resources);
      expect(r.shared).toBe(true);
      apply(p.flow, r);
    }
    expect(flowTransitions.computed - before.computed).toBe(5);
    // The shared initial state copied once; then its own.
    expect(flowTransitions.copies - before.copies).toBe(1);
    expect(p.flow.names().clusters).toHaveLength(15);
    p.flow.stop();
  });
});

describe("proxies whose clusters stay cold", () => {
  it("ask for listeners after the initial fetch timeout, by one transition", async () => {
    const expect_ = new Set(NAMES);
    const memo = new ResponseMemo();
    const fleet = Array.from({ length: 3 }, () => proxy(expect_, 5));
    for (const [i, p] of fleet.entries()) apply(p.flow, readDeltaResponse(cds(`n${i}`), memo.resources));
    const before = { ...flowTransitions };
    await new Promise((r) => setTimeout(r, 50));
    expect(flowTransitions.computed - before.computed).toBe(1);
    expect(flowTransitions.shared - before.shared).toBe(fleet.length - 1);
    for (const p of fleet) {
      expect(p.sent.at(-1)).toBe("lds +* -");
      expect(p.flow.waitingFor()).toEqual([`EDS: ${NAMES.length} of ${NAMES.length} not received (cla-c0 and ${NAMES.length - 1} more)`, "LDS: no response"]);
      p.flow.stop();
    }
  });
});

describe("the response memo's spans", () => {
  it("hands the same read for the same small span, and keeps a span that comes again", () => {
    const memo = new ResponseMemo();
    const small = (nonce: string): Buffer => response(TYPE_URL.cluster, nonce, [["c0", new Uint8Array([8, 1])]]);
    const s1 = readDeltaResponse(small("1"), memo.resources);
    const s2 = readDeltaResponse(small("2"), memo.resources);
    expect(s2.resources).toBe(s1.resources);
    expect(s2.shared).toBe(true);
    expect(s2.resources[0]!.version).toBe("v1");

    // A span of few new resources is not kept the first time (one proxy's own), but is the second.
    readDeltaResponse(cds("1"), memo.resources);
    const own = [...NAMES.slice(0, 19), "c19x"];
    const o1 = readDeltaResponse(cds("2", own), memo.resources);
    const o2 = readDeltaResponse(cds("3", own), memo.resources);
    const o3 = readDeltaResponse(cds("4", own), memo.resources);
    expect(o1.shared).toBe(false);
    expect(o2.shared).toBe(true);
    expect(o3.resources).toBe(o2.resources);
  });
});
