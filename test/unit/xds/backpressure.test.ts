// Backpressure and fairness over real gRPC streams. Two kinds of slow proxy share the server with
// healthy delta clients: one never reads its socket (raw HTTP/2, so flow control stops the
// server's writes after one window), one reads everything and never ACKs. Then a series of
// changes. The healthy ones must get every change, in order, with one push each, and the
// scheduler must never hold a stream back at its cap (slow proxies' bytes stop counting against
// it); the slow ones must cost one response each (the server's own accounting), and the heap
// after GC must not grow with the number of changes. Counts, never wall-clock times.
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { DiscoveryRequestSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { SOTW_METHOD_PATH } from "../../../src/xds/service-definition.js";
import { RawGrpcStream } from "../../support/raw-grpc.js";
import { AdsClient, deltaNames, type DeltaStream } from "../../support/xds-client.js";
import { CDS, World, cluster, eventually, node, startHarness, type Harness } from "./harness.js";

setFlagsFromString("--expose_gc");
const gc = runInNewContext("gc") as () => void;

/** Enough clusters that one SotW CDS response (~0.4 MB) is several HTTP/2 windows. */
const CLUSTERS = 3000;
const CAP = 512 * 1024;
const STALL_MS = 300;
const HEALTHY = 6;
const CHANGES = 30;

const clusterName = (i: number): string => `outbound|9080||service-${i}.namespace-${i % 10}.svc.cluster.local`;
const proxyId = (name: string): string => `sidecar~10.0.0.1~${name}.default~default.svc.cluster.local`;

function bigWorld(): World {
  const w = new World();
  for (let i = 0; i < CLUSTERS; i++) w.put(CDS, clusterName(i), cluster(clusterName(i)));
  return w;
}

function heapBytes(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

let h: Harness | undefined;
const clients: AdsClient[] = [];
const raws: RawGrpcStream[] = [];
afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.close()));
  for (const c of clients.splice(0)) c.close();
  await h?.close();
  h = undefined;
});

describe("backpressure and fairness", () => {
  it("slow proxies cost one response each and never hold back healthy ones", { timeout: 120_000 }, async () => {
    const world = bigWorld();
    h = await startHarness(world, { push: { maxInFlightBytes: CAP, stallMs: STALL_MS } });
    const harness = h;
    const address = `127.0.0.1:${h.port}`;
    const sotwCds = (id: string): Uint8Array => toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { node: node(id), typeUrl: CDS }));

    // SotW wildcard CDS: every change re-sends all clusters, the heaviest a slow proxy can be owed.
    const slow = new Map<string, RawGrpcStream>();
    for (const [name, read] of [
      ["no-read-1", false],
      ["no-read-2", false],
      ["no-ack-1", true],
      ["no-ack-2", true],
    ] as const) {
      const raw = new RawGrpcStream(address, SOTW_METHOD_PATH, { read });
      raw.send(sotwCds(proxyId(name)));
      raws.push(raw);
      slow.set(proxyId(name), raw);
    }

    const healthy: { id: string; s: DeltaStream }[] = [];
    for (let i = 0; i < HEALTHY; i++) {
      // Own channel (own connection) per proxy, as one Envoy per pod.
      const c = new AdsClient(address, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
      clients.push(c);
      const id = proxyId(`healthy-${i}`);
      const s = c.delta();
      s.send({ node: node(id), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
      healthy.push({ id, s });
    }
    for (const { s } of healthy) {
      const first = await s.nextOf(CDS, 60_000);
      expect(first.resources).toHaveLength(CLUSTERS);
      s.ack(first);
    }
    const backlog = (id: string) => {
      const b = harness.server.backlog().find((x) => x.proxyId === id);
      if (!b) throw new Error(`no stream for ${id}`);
      return b;
    };
    // Every slow proxy has been sent its first response and left it unanswered past the stall;
    // every healthy one's ACK has arrived.
    await eventually(() => [...slow.keys()].every((id) => backlog(id).slow), "slow proxies recognised", 60_000);
    const synced = new Set(healthy.map((x) => x.id));
    await eventually(
      () => harness.server.syncStatus().filter((x) => synced.has(x.id) && x.types.cds?.state === "SYNCED").length === HEALTHY,
      "healthy proxies synced",
      30_000,
    );
    for (const raw of slow.values()) expect(raw.error).toBeUndefined();
    const firstResponse = Math.max(...[...slow.keys()].map((id) => backlog(id).unansweredBytes));
    // A later response of the same resources differs only in its version and nonce.
    const responseBytes = firstResponse + 64;
    expect(firstResponse).toBeGreaterThan(4 * 65_535);
    const stuckBefore = new Map([...slow.keys()].filter((id) => id.includes("no-read")).map((id) => [id, backlog(id).unflushedBytes]));
    for (const bytes of stuckBefore.values()) expect(bytes).toBe(firstResponse); // one response, held by flow control

    const stats0 = h.server.pushStats;
    const pushesBefore = new Map(healthy.map(({ id }) => [id, h!.observer.pushes.filter((p) => p.proxyId === id).length]));
    // Measured once the proxies that read have taken in their latest response: a response on
    // its way through the sockets is not a backlog.
    const readers = [...slow.keys()].filter((id) => id.includes("no-ack"));
    const quietHeap = async (): Promise<number> => {
      const latest = harness.cache.get("default")!.versions.get(CDS);
      await eventually(
        () =>
          readers.every((id) => harness.server.syncStatus().find((x) => x.id === id)?.types.cds?.versionSent === latest && backlog(id).unflushedBytes === 0),
        "readers caught up",
        30_000,
      );
      // Buffers still passing through the sockets come and go: the least of a few samples.
      let least = Infinity;
      for (let i = 0; i < 4; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        least = Math.min(least, heapBytes());
      }
      return least;
    };
    let heapAfterFew = 0;
    for (let k = 1; k <= CHANGES; k++) {
      h.cache.set("default", world.put(CDS, clusterName(0), cluster(clusterName(0), `${100 + k}s`)).snapshot());
      const version = h.cache.get("default")!.resources.get(CDS)!.get(clusterName(0))!.version;
      for (const { s } of healthy) {
        const r = await s.nextOf(CDS, 30_000);
        expect(deltaNames(r)).toEqual([clusterName(0)]);
        expect(r.resources[0]!.version).toBe(version); // this change, not an older or a later one
        s.ack(r);
      }
      if (k === 5) heapAfterFew = await quietHeap();
    }
    const stats = h.server.pushStats;
    // Healthy proxies converged on every change with one push each and never waited at the cap.
    for (const { id } of healthy) expect(h.observer.pushes.filter((p) => p.proxyId === id).length - pushesBefore.get(id)!).toBe(CHANGES);
    expect(stats.heldAtCap - stats0.heldAtCap).toBe(0);

    // Slow proxies: one response each, never a queue of versions.
    const latest = h.cache.get("default")!.versions.get(CDS);
    for (const [id, raw] of slow) {
      const b = backlog(id);
      expect(b.unansweredBytes).toBeLessThanOrEqual(responseBytes);
      if (stuckBefore.has(id)) {
        expect(b.unflushedBytes).toBe(stuckBefore.get(id));
        expect(raw.messages).toBe(0);
      } else {
        // It reads: it is sent the latest state (coalesced), at most one response per change.
        await eventually(() => harness.server.syncStatus().find((x) => x.id === id)?.types.cds?.versionSent === latest, `${id} sent the latest CDS`, 30_000);
        expect(raw.messages).toBeLessThanOrEqual(1 + CHANGES);
        expect(backlog(id).unansweredBytes).toBeLessThanOrEqual(responseBytes);
      }
      expect(raw.error).toBeUndefined();
    }
    // Queued versions for the two stuck proxies would be 2 × 25 × ~0.4 MB; the heap stays flat.
    const growth = (await quietHeap()) - heapAfterFew;
    expect(growth).toBeLessThan(4 * 1024 * 1024);
  });
});
