// Requests are handled where they cost least to the event loop (connection.ts, push-scheduler.ts):
// small ones (ACKs, which release the scheduler's cap) in the turn that read them; big ones
// (subscriptions to many names, which hundreds of proxies send in one turn after a restart) in
// the scheduler's turns, within its slice; undecodable ones end their stream with a clear error.
import { Client, credentials } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { DELTA_METHOD_PATH } from "../../../src/xds/service-definition.js";
import { CDS, cla, cluster, EDS, node, startHarness, World, type Harness } from "./harness.js";

const CLUSTERS = 100;
const name = (i: number): string => `outbound|8080||svc-${i}.default.svc.cluster.local`;
const NAMES = Array.from({ length: CLUSTERS }, (_, i) => name(i));

function world(): World {
  const w = new World();
  for (const n of NAMES) w.put(CDS, n, cluster(n)).put(EDS, n, cla(n, "10.0.0.1"));
  return w;
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A delta stream that holds every cluster (CDS ACKed), ready to subscribe to their endpoints. */
async function withClusters(harness: Harness, i: number) {
  const s = harness.client.delta();
  s.send({ node: node(`sidecar~10.0.0.${i}~p${i}.default~default.svc.cluster.local`), typeUrl: CDS });
  const cds = await s.nextOf(CDS);
  expect(cds.resources).toHaveLength(CLUSTERS);
  return { s, cds };
}

describe("request intake", () => {
  it("handles an ACK in the turn that read it and a subscription to many names in the scheduler's turn", async () => {
    h = await startHarness(world());
    const { s, cds } = await withClusters(h, 1);
    const before = h.server.pushStats.intakes;
    s.ack(cds);
    s.send({ typeUrl: EDS, resourceNamesSubscribe: NAMES });
    const eds = await s.nextOf(EDS);
    expect(eds.resources.map((r) => r.name).sort()).toEqual([...NAMES].sort());
    expect(h.server.pushStats.intakes - before).toBe(1); // the subscription; not the ACK
  });

  it("serves many big requests read at once across turns, a bounded number per turn", async () => {
    // A zero slice: one stream per scheduler turn (at least one is always served).
    h = await startHarness(world(), { push: { sliceMs: 0 } });
    const streams = await Promise.all(Array.from({ length: 12 }, (_, i) => withClusters(h!, i + 1)));
    const rounds = h.server.pushStats.rounds;
    const intakes = h.server.pushStats.intakes;
    for (const { s } of streams) s.send({ typeUrl: EDS, resourceNamesSubscribe: NAMES });
    for (const { s } of streams) expect((await s.nextOf(EDS)).resources).toHaveLength(CLUSTERS);
    expect(h.server.pushStats.intakes - intakes).toBe(12);
    // Each subscription was handled in a turn of its own, and each response built in another.
    expect(h.server.pushStats.rounds - rounds).toBeGreaterThanOrEqual(24);
  });

  it("ends a stream whose request is not a DeltaDiscoveryRequest with INVALID_ARGUMENT, and serves the others", async () => {
    h = await startHarness(world());
    const raw = new Client(`127.0.0.1:${h.port}`, credentials.createInsecure());
    try {
      const call = raw.makeBidiStreamRequest<Buffer, Buffer>(
        DELTA_METHOD_PATH,
        (b) => b,
        (b) => b,
      );
      const ended = new Promise<{ code: number; details: string }>((resolve) => call.on("error", (e: { code: number; details: string }) => resolve(e)));
      call.on("data", () => {});
      call.write(Buffer.from([0xff, 0xff, 0xff, 0x07, 0x00])); // a field key of wire type 7
      const end = await ended;
      expect(end.code).toBe(3);
      expect(end.details).toMatch(/not a valid DeltaDiscoveryRequest/);
    } finally {
      raw.close();
    }
    const { s } = await withClusters(h, 2);
    s.end();
  });
});
