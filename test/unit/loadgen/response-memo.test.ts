// The load clients read each distinct span of resources once (src/loadgen/response-memo.ts): a
// response with the same resource bytes gets what that reading found, and any other byte is read.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { DeltaDiscoveryResponseSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { EnvoyFlow, type FlowSender } from "../../../src/loadgen/flow.js";
import { ResponseMemo } from "../../../src/loadgen/response-memo.js";
import { clusterRefs, DELTA_RESOURCES_FIELD, FieldReader, readDeltaResponse, WireResource } from "../../../src/loadgen/wire.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";

const cluster = (name: string, serviceName: string): Uint8Array =>
  toBinary(ClusterSchema, fromJson(ClusterSchema, { name, type: "EDS", edsClusterConfig: { serviceName, edsConfig: { ads: {} } } }));

/** A CDS response of clusters c0..c9 (or those `order` names), each asking for EDS name `eds(i)`. */
function clusters(nonce: string, eds: (i: number) => string, order: readonly number[] = Array.from({ length: 10 }, (_, i) => i)): Buffer {
  const resources = order.map((i) => ({
    name: `c${i}`,
    version: `v${i}`,
    resource: { typeUrl: TYPE_URL.cluster, value: cluster(`c${i}`, eds(i)) },
  }));
  return Buffer.from(toBinary(DeltaDiscoveryResponseSchema, create(DeltaDiscoveryResponseSchema, { typeUrl: TYPE_URL.cluster, nonce, resources })));
}

const WireResourceOf = (name: string, eds: string): WireResource => WireResource.of(name, cluster(name, eds));

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

  it("reads only the resource a response does not share with one remembered, in place or moved", () => {
    const memo = new ResponseMemo();
    const first = readDeltaResponse(
      clusters("1", (i) => `cla-${i}`),
      memo.resources,
    );
    expect(memo.stats.resourcesRead).toBe(10);
    const expected = (eds: (i: number) => string, order = Array.from({ length: 10 }, (_, i) => i)): [string, string, string | undefined][] =>
      order.map((i) => [`c${i}`, `v${i}`, clusterRefs(WireResourceOf(`c${i}`, eds(i))).eds]);
    const cases: [string, (i: number) => string, number[]?][] = [
      // The same length: found by comparing the run of resources that follow a known one, halved.
      ["one EDS name of the same length", (i) => (i === 4 ? "clb-4" : `cla-${i}`)],
      // Another length: the run breaks there, and the rest is found again.
      ["one EDS name longer", (i) => (i === 7 ? "cla-7-longer" : `cla-${i}`)],
      ["the first one", (i) => (i === 0 ? "clz-0" : `cla-${i}`)],
      ["the last one", (i) => (i === 9 ? "clz-9" : `cla-${i}`)],
      ["one more cluster among them", (i) => `cla-${i}`, [0, 1, 2, 3, 10, 4, 5, 6, 7, 8, 9]],
      ["one cluster fewer, the rest in another order", (i) => `cla-${i}`, [9, 8, 7, 6, 5, 3, 2, 1, 0]],
    ];
    for (const [what, eds, order] of cases) {
      const before = memo.stats.resourcesRead;
      const r = readDeltaResponse(clusters("2", eds, order), memo.resources);
      const want = expected(eds, order);
      expect(
        r.resources.map((x) => [x.name, x.version, clusterRefs(x).eds]),
        what,
      ).toEqual(want);
      expect(r.resourceBytes, what).toBe(r.resources.reduce((a, x) => a + x.body.length, 0));
      const changed = order ? (order.includes(10) ? 1 : 0) : 1;
      expect(memo.stats.resourcesRead - before, what).toBe(changed);
    }
    // What is read once is shared: the cluster the first response had, as it read it.
    const again = readDeltaResponse(
      clusters("3", (i) => (i === 4 ? "clb-4" : `cla-${i}`)),
      memo.resources,
    );
    expect(again.resources[3]).toBe(first.resources[3]);
    expect(again.resources[4]).not.toBe(first.resources[4]);
  });

  it("compares a response differing in one resource of many in a few calls, not one per resource", () => {
    const memo = new ResponseMemo();
    const many = (odd: string): Buffer => {
      const resources = Array.from({ length: 1000 }, (_, i) => ({
        name: `c${i}`,
        version: "v1",
        resource: { typeUrl: TYPE_URL.cluster, value: cluster(`c${i}`, i === 500 ? odd : `cla-${i}`) },
      }));
      return Buffer.from(toBinary(DeltaDiscoveryResponseSchema, create(DeltaDiscoveryResponseSchema, { typeUrl: TYPE_URL.cluster, nonce: "1", resources })));
    };
    readDeltaResponse(many("cla-500"), memo.resources);
    const before = memo.stats;
    const r = readDeltaResponse(many("clb-500"), memo.resources);
    expect(clusterRefs(r.resources[500]!).eds).toBe("clb-500");
    expect(memo.stats.resourcesRead - before.resourcesRead).toBe(1);
    // Halving a run of 1000 down to the one that differs: two comparisons per level.
    expect(memo.stats.comparisons - before.comparisons).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(1000)) + 2);
  });

  it("keeps spans that differ only in bytes its key does not sample side by side", () => {
    // Resources are a response's first fields here (field order), so a span starts at 0; it ends
    // where the type URL field begins.
    const spanOf = (b: Buffer): [number, number] => {
      const r = new FieldReader(b, 0, b.length);
      let end = 0;
      while (r.next()) if (r.isLen(DELTA_RESOURCES_FIELD)) end = r.e;
      return [0, end];
    };
    const a = clusters("1", (i) => `cla-${i}`);
    const [start, end] = spanOf(a);
    const step = Math.floor((end - start) / 64);
    // One byte of one EDS name changed, at a position the key's samples skip.
    const b = [...Array(10).keys()]
      .map((k) => clusters("1", (i) => (i === k ? `clb-${i}` : `cla-${i}`)))
      .find((x) => {
        const d = x.findIndex((v, i) => v !== a[i]);
        return (d - start) % step !== 0 && d < end - 16;
      })!;
    expect(b).toBeDefined();
    const memo = new ResponseMemo();
    for (const x of [a, b, a, b]) memo.resources(x, start, end, TYPE_URL.cluster);
    const before = memo.stats.hits;
    const ra = memo.resources(a, start, end, TYPE_URL.cluster);
    const rb = memo.resources(b, start, end, TYPE_URL.cluster);
    expect(memo.stats.hits - before).toBe(2);
    expect([ra.resources, rb.resources].map((rs) => rs.map((x) => clusterRefs(x).eds).join(","))).toEqual([
      Array.from({ length: 10 }, (_, i) => `cla-${i}`).join(","),
      readDeltaResponse(b)
        .resources.map((x) => clusterRefs(x).eds)
        .join(","),
    ]);
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
