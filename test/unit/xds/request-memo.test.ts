// Large requests (a proxy's whole EDS subscription) are decoded once per distinct bytes and shared,
// frozen, by every stream that sends the same: in a full sync every proxy of a view sends the same.
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DeltaDiscoveryRequestSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { MEMO_MIN_BYTES, RequestMemo } from "../../../src/xds/request-memo.js";
import { decodeDeltaRequest } from "../../../src/xds/service-definition.js";
import { EDS } from "./harness.js";

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `outbound|80||${prefix}-${i}.ns.svc.cluster.local`);
const edsRequest = (subscribe: string[]): Uint8Array =>
  toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, { typeUrl: EDS, resourceNamesSubscribe: subscribe }));

/** A memo of delta requests, and how many it decoded. */
function countingMemo(): { memo: RequestMemo<ReturnType<typeof decodeDeltaRequest>>; decoded: () => number } {
  let n = 0;
  const memo = new RequestMemo((b) => {
    n++;
    return decodeDeltaRequest(b);
  });
  return { memo, decoded: () => n };
}

describe("RequestMemo", () => {
  it("decodes the same large bytes once, and hands the same frozen request for them", () => {
    const { memo, decoded } = countingMemo();
    const raw = edsRequest(names("svc", 300));
    expect(raw.length).toBeGreaterThanOrEqual(MEMO_MIN_BYTES);
    const first = memo.get(raw);
    const again = memo.get(Buffer.from(raw)); // equal bytes, another buffer
    expect(again).toBe(first);
    expect(decoded()).toBe(1);
    expect(memo.hits).toBe(1);
    expect(Object.isFrozen(first) && Object.isFrozen(first.resourceNamesSubscribe)).toBe(true);
    expect(first.resourceNamesSubscribe).toEqual(names("svc", 300));
  });

  it("tells apart different bytes of the same length, and decodes small requests each time", () => {
    const { memo, decoded } = countingMemo();
    const a = edsRequest(names("aaa", 300));
    const b = edsRequest(names("bbb", 300));
    expect(a.length).toBe(b.length);
    expect(memo.get(a).resourceNamesSubscribe[0]).toContain("aaa-0");
    expect(memo.get(b).resourceNamesSubscribe[0]).toContain("bbb-0");
    expect(memo.get(b).resourceNamesSubscribe[0]).toContain("bbb-0");
    expect(decoded()).toBe(2);
    const small = edsRequest(names("s", 3));
    expect(small.length).toBeLessThan(MEMO_MIN_BYTES);
    expect(memo.get(small)).not.toBe(memo.get(small));
    expect(decoded()).toBe(4);
  });

  it("keeps a bounded number of distinct requests", () => {
    const { memo, decoded } = countingMemo();
    const raws = Array.from({ length: 40 }, (_, i) => edsRequest(names(`svc${i}`, 200 + i)));
    for (const r of raws) memo.get(r);
    for (const r of raws) memo.get(r);
    expect(decoded()).toBe(80); // each distinct length, oldest evicted before it came again
    memo.get(raws[39]!);
    expect(decoded()).toBe(80); // the newest is still there
  });
});
