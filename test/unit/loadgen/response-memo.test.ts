// The load clients read each distinct span of resources once (src/loadgen/response-memo.ts): a
// response with the same resource bytes gets what that reading found, and any other byte is read.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { DeltaDiscoveryResponseSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { EnvoyFlow, type FlowSender } from "../../../src/loadgen/flow.js";
import { ResponseMemo } from "../../../src/loadgen/response-memo.js";
import { clusterRefs, readDeltaResponse } from "../../../src/loadgen/wire.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

const cluster = (name: string, serviceName: string): Uint8Array =>
  toBinary(ClusterSchema, fromJson(ClusterSchema, { name, type: "EDS", edsClusterConfig: { serviceName, edsConfig: { ads: {} } } }));

/** A CDS response of clusters c0..c9, each asking for EDS name `eds(i)`. */
function clusters(nonce: string, eds: (i: number) => string): Buffer {
  const resources = Array.from({ length: 10 }, (_, i) => ({
    name: `c${i}`,
    version: `v${i}`,
    resource: { typeUrl: TYPE_URL.cluster, value: cluster(`c${i}`, eds(i)) },
  }));
  return Buffer.from(toBinary(DeltaDiscoveryResponseSchema, create(DeltaDiscoveryResponseSchema, { typeUrl: TYPE_URL.cluster, nonce, resources })));
}

describe("the load clients' response memo", () => {
  it("reads the same resource bytes once, whatever the nonce, and shares what it read", () => {
    const memo = new ResponseMemo();
    const a = readDeltaResponse(
      clusters("1", (i) => `cla-${i}`),
      memo.resources,
    );
    const b = readDeltaResponse(
      clusters("2", (i) => `cla-${i}`),
      memo.resources,
    );
    expect([a.nonce, b.nonce]).toEqual(["1", "2"]);
    expect(memo.stats).toMatchObject({ hits: 1, misses: 1 });
    expect(b.resources).toBe(a.resources);
    expect(b.resources.map((r) => [r.name, r.version, clusterRefs(r).eds])).toEqual(Array.from({ length: 10 }, (_, i) => [`c${i}`, `v${i}`, `cla-${i}`]));
    // Read once from the shared body, kept with it.
    expect(clusterRefs(b.resources[3]!)).toBe(clusterRefs(a.resources[3]!));
  });

  it("reads again a response of the same length that differs in any byte", () => {
    const memo = new ResponseMemo();
    readDeltaResponse(
      clusters("1", (i) => `cla-${i}`),
      memo.resources,
    );
    // One byte of one EDS name differs, every length is the same.
    for (const k of [0, 4, 9]) {
      const r = readDeltaResponse(
        clusters("1", (i) => (i === k ? `clb-${i}` : `cla-${i}`)),
        memo.resources,
      );
      expect(r.resources.map((x) => clusterRefs(x).eds)).toEqual(Array.from({ length: 10 }, (_, i) => (i === k ? `clb-${i}` : `cla-${i}`)));
    }
    expect(memo.stats).toMatchObject({ hits: 0, misses: 4 });
  });

  it("keeps at most its budget of bytes, dropping the oldest", () => {
    const one = clusters("1", (i) => `cla-${i}`).length;
    const memo = new ResponseMemo(2 * one);
    for (let k = 0; k < 5; k++)
      readDeltaResponse(
        clusters("1", (i) => `c${k}-${i}`),
        memo.resources,
      );
    expect(memo.stats.bytes).toBeLessThanOrEqual(2 * one);
    readDeltaResponse(
      clusters("1", (i) => `c4-${i}`),
      memo.resources,
    );
    readDeltaResponse(
      clusters("1", (i) => `c0-${i}`),
      memo.resources,
    );
    expect(memo.stats).toMatchObject({ hits: 1, misses: 6 });
  });
});

describe("Envoy's flow on clusters", () => {
  it("adds the EDS names of new clusters, and drops the one a changed cluster no longer asks for", () => {
    const sent: string[] = [];
    const sender: FlowSender = { subscribe: (t, a, r) => void sent.push(`${t} +${a.join(",")} -${r.join(",")}`) };
    const flow = new EnvoyFlow(sender);
    flow.onClusters(readDeltaResponse(clusters("1", (i) => `cla-${i % 5}`)).resources, [], false);
    flow.onClusters(readDeltaResponse(clusters("2", (i) => (i === 7 ? "cla-7" : `cla-${i % 5}`))).resources, [], false);
    flow.onClusters(readDeltaResponse(clusters("3", (i) => (i === 2 || i === 7 ? "cla-7" : `cla-${i % 5}`))).resources, [], false);
    expect(sent).toEqual(["eds +cla-0,cla-1,cla-2,cla-3,cla-4 -", "eds +cla-7 -", "eds + -cla-2"]);
    expect(flow.eds.names).toEqual(new Set(["cla-0", "cla-1", "cla-3", "cla-4", "cla-7"]));
  });
});
