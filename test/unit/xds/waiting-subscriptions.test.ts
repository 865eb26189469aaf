// A delta stream subscribes, on its first EDS request, to every cluster of its view, and then waits
// for its turn to be answered: in a full sync of many proxies, most streams wait at once. What
// such a stream holds must not grow with the names it subscribed when they are exactly its view's:
// heap after GC per waiting stream, with thousands of names. Counts of bytes, never times.
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DeltaDiscoveryRequestSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { NameSet } from "../../../src/xds/name-set.js";
import { DELTA_METHOD_PATH } from "../../../src/xds/service-definition.js";
import { RawGrpcStream } from "../../support/raw-grpc.js";
import { deltaNames } from "../../support/xds-client.js";
import { CDS, EDS, World, cla, cluster, eventually, node, startHarness, type Harness } from "./harness.js";

setFlagsFromString("--expose_gc");
const gc = runInNewContext("gc") as () => void;

/** Enough clusters that the CDS response (~0.4 MB) stays stuck behind a 64 KiB window. */
const CLUSTERS = 3000;
const STREAMS = 12;

const clusterName = (i: number): string => `outbound|9080||service-${i}.namespace-${i % 10}.svc.cluster.local`;

function heapBytes(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

let h: Harness | undefined;
const raws: RawGrpcStream[] = [];
afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.close()));
  await h?.close();
  h = undefined;
});

/** A world of CLUSTERS clusters, each with its ClusterLoadAssignment, and their names. */
function clusters(): { world: World; names: string[] } {
  const world = new World();
  const names: string[] = [];
  for (let i = 0; i < CLUSTERS; i++) {
    names.push(clusterName(i));
    world.put(CDS, clusterName(i), cluster(clusterName(i))).put(EDS, clusterName(i), cla(clusterName(i), `10.0.${i >> 8}.${i & 255}`));
  }
  return { world, names };
}

describe("a delta stream waiting to be answered", () => {
  it("holds no copy of an EDS subscription that names exactly its view's resources", { timeout: 120_000 }, async () => {
    const { world, names } = clusters();
    h = await startHarness(world);
    const harness = h;
    const request = (init: Parameters<typeof create<typeof DeltaDiscoveryRequestSchema>>[1]): Uint8Array =>
      toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, init));
    const ids = Array.from({ length: STREAMS }, (_, i) => `sidecar~10.0.0.1~waiting-${i}.default~default.svc.cluster.local`);
    const streams = ids.map((id) => {
      // Never reads: the CDS response stays unflushed, so the EDS request is taken but never answered.
      const raw = new RawGrpcStream(`127.0.0.1:${harness.port}`, DELTA_METHOD_PATH, { read: false });
      raws.push(raw);
      raw.send(request({ node: node(id), typeUrl: CDS, resourceNamesSubscribe: ["*"] }));
      return raw;
    });
    const status = (id: string) => harness.server.syncStatus().find((s) => s.id === id);
    await eventually(() => ids.every((id) => status(id)?.types.cds?.nonceSent), "CDS responses written", 60_000);
    const subscribe = (raw: RawGrpcStream): void => raw.send(request({ typeUrl: EDS, resourceNamesSubscribe: names }));
    const taken = (of: readonly string[]) => () => of.every((id) => status(id)?.types.eds?.subscribed === CLUSTERS);
    // The first stream's request is decoded and remembered for the others (request-memo.ts): held
    // once, not per stream, so it is in the baseline.
    subscribe(streams[0]!);
    await eventually(taken(ids.slice(0, 1)), "the first EDS subscription taken", 60_000);
    const before = heapBytes();
    for (const raw of streams.slice(1)) subscribe(raw);
    await eventually(taken(ids), "EDS subscriptions taken", 60_000);
    for (const id of ids) expect(status(id)?.types.eds?.nonceSent).toBe(""); // still waiting
    const perStream = (heapBytes() - before) / (STREAMS - 1);
    // A Set of 3000 names is ~80 KiB; the subscription and the names to re-send were one each.
    expect(perStream).toBeLessThan(16 * 1024);
    for (const raw of streams) expect(raw.error).toBeUndefined();
  });

  it("takes a first EDS request that names exactly its view's resources without a step per name, and answers it whole", { timeout: 120_000 }, async () => {
    const { world, names } = clusters();
    h = await startHarness(world);
    const open = async (i: number) => {
      const s = h!.client.delta();
      s.send({ node: node(`sidecar~10.0.0.1~whole-${i}.default~default.svc.cluster.local`), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
      s.ack(await s.nextOf(CDS, 30_000));
      return s;
    };
    // The first stream's request is remembered (request-memo.ts); the others' are the same bytes.
    const first = await open(0);
    first.send({ typeUrl: EDS, resourceNamesSubscribe: names });
    expect(deltaNames(await first.nextOf(EDS, 30_000))).toHaveLength(CLUSTERS);
    const others = await Promise.all([1, 2, 3].map(open));
    const adds = vi.spyOn(NameSet.prototype, "add");
    try {
      for (const s of others) s.send({ typeUrl: EDS, resourceNamesSubscribe: names });
      const answers = await Promise.all(others.map((s) => s.nextOf(EDS, 30_000)));
      for (const a of answers) expect(new Set(deltaNames(a))).toEqual(new Set(names));
      // Before, the subscription and the names to re-send took one step per name each: 2 × 3000 per stream.
      expect(adds).not.toHaveBeenCalled();
    } finally {
      adds.mockRestore();
    }
  });
});
