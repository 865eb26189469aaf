// Keepalive over real gRPC: a proxy that keeps talking is never dropped, however late it answers
// pings; one that goes silent and does not answer is. The proxy's connection runs through a TCP
// relay that can swallow the PING acks it sends (HTTP/2 frame type 6 with the ACK flag), which is
// how a proxy too busy to answer looks from the server. Counts of keepalive checks, never times.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AdsClient } from "../../support/xds-client.js";
import { CDS, cluster, eventually, node, startHarness, World, type Harness } from "./harness.js";

const KEEPALIVE = { timeMs: 150, timeoutMs: 150 };
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Relays one connection to `port`; from the client, every frame but PING acks (while `swallowAcks`). */
class Relay {
  swallowAcks = false;
  swallowed = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(target: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      upstream.pipe(client);
      let pending = Buffer.alloc(0);
      let prefaceSeen = false;
      client.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        if (!prefaceSeen) {
          if (pending.length < PREFACE.length) return;
          upstream.write(pending.subarray(0, PREFACE.length));
          pending = pending.subarray(PREFACE.length);
          prefaceSeen = true;
        }
        while (pending.length >= 9) {
          const size = 9 + pending.readUIntBE(0, 3);
          if (pending.length < size) break;
          const frame = pending.subarray(0, size);
          pending = pending.subarray(size);
          if (this.swallowAcks && frame[3] === 6 && (frame[4]! & 1) === 1) this.swallowed++;
          else upstream.write(frame);
        }
      });
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, "127.0.0.1", () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

let h: Harness | undefined;
let relay: Relay | undefined;
let client: AdsClient | undefined;
afterEach(async () => {
  client?.close();
  relay?.close();
  await h?.close();
  h = client = relay = undefined;
});

function world(): World {
  const w = new World();
  w.put(CDS, "c1", cluster("c1"));
  return w;
}

/** A delta stream through the relay. */
async function relayed(harness: Harness): Promise<{ relay: Relay; stream: ReturnType<AdsClient["delta"]> }> {
  relay = new Relay(harness.port);
  client = new AdsClient(`127.0.0.1:${await relay.listen()}`, { channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
  const stream = client.delta();
  stream.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
  return { relay, stream };
}

async function connect(): Promise<{ harness: Harness; relay: Relay; stream: ReturnType<AdsClient["delta"]> }> {
  h = await startHarness(world(), { keepalive: KEEPALIVE });
  const { relay, stream } = await relayed(h);
  stream.ack(await stream.nextOf(CDS, 10_000));
  await eventually(() => h!.server.connectedProxies === 1, "the proxy connected");
  return { harness: h, relay, stream };
}

describe("xDS keepalive", () => {
  it("keeps a proxy that talks, though it never answers a ping", { timeout: 60_000 }, async () => {
    const { harness, relay, stream } = await connect();
    relay.swallowAcks = true;
    const checks = harness.server.keepaliveStats!.checks;
    // Requests keep arriving (an ACK every few ms, as a proxy taking in a push sends them).
    const talk = setInterval(() => stream.send({ typeUrl: CDS }), 20);
    try {
      await eventually(() => harness.server.keepaliveStats!.checks >= checks + 6, "six keepalive periods", 30_000);
    } finally {
      clearInterval(talk);
    }
    expect(harness.server.connectedProxies).toBe(1);
    expect(harness.server.keepaliveStats!.closed).toBe(0);
  });

  it("keeps a quiet proxy that answers its pings", { timeout: 60_000 }, async () => {
    const { harness } = await connect();
    await eventually(() => harness.server.keepaliveStats!.pings >= 4, "four pings", 30_000);
    expect(harness.server.connectedProxies).toBe(1);
    expect(harness.server.keepaliveStats!.closed).toBe(0);
  });

  it("keeps a silent proxy that waits for its turn", { timeout: 60_000 }, async () => {
    // One byte of unanswered responses fills the scheduler's cap: the first proxy's unanswered
    // response holds every other stream back (never abandoned meanwhile).
    h = await startHarness(world(), { keepalive: KEEPALIVE, push: { maxInFlightBytes: 1, stallMs: 600_000 } });
    const harness = h;
    const holder = harness.client.delta();
    holder.send({ node: node("sidecar~10.0.0.2~holder.default~default.svc.cluster.local"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const held = await holder.nextOf(CDS, 10_000);
    const { relay, stream } = await relayed(harness);
    relay.swallowAcks = true;
    const checks = harness.server.keepaliveStats!.checks;
    await eventually(() => harness.server.keepaliveStats!.checks >= checks + 6, "six keepalive periods", 30_000);
    expect(harness.server.keepaliveStats!.closed).toBe(0);
    holder.ack(held); // the cap frees: the waiting proxy is served
    expect((await stream.nextOf(CDS, 10_000)).resources).toHaveLength(1);
  });

  it("closes a proxy that goes silent and does not answer", { timeout: 60_000 }, async () => {
    const { harness, relay } = await connect();
    relay.swallowAcks = true;
    await eventually(() => harness.server.connectedProxies === 0, "the silent proxy's stream closed", 30_000);
    expect(harness.server.keepaliveStats!.closed).toBe(1);
    expect(relay.swallowed).toBeGreaterThan(0);
  });
});
