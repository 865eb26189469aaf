// Incremental (delta) ADS over a real socket. "No response" is proven with a barrier, as in the
// SotW tests: a later request that must be answered comes back first.
import { afterEach, describe, expect, it } from "vitest";
import { deltaNames, deltaVersions, type DeltaStream } from "../../support/xds-client.js";
import { CDS, EDS, LDS, RDS, cla, cluster, listener, node, sampleWorld, startHarness, type Harness, type World } from "./harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(world: World = sampleWorld()): Promise<{ h: Harness; world: World }> {
  h = await startHarness(world);
  return { h, world };
}

/** Barrier: subscribe to an existing RDS name; its response must be the next one. */
async function barrier(s: DeltaStream, name: string): Promise<void> {
  s.send({ typeUrl: RDS, resourceNamesSubscribe: [name] });
  const r = await s.nextOf(RDS);
  expect(deltaNames(r)).toEqual([name]);
}

describe("delta ADS", () => {
  it.each([
    ["explicit *", ["*"]],
    ["legacy empty", []],
  ])("wildcard CDS subscribe (%s) sends every cluster with its resource version", async (_label, subscribe) => {
    const { h } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: subscribe });
    const r = await s.nextOf(CDS);
    const snap = h.cache.get("default")!;
    const clusters = snap.resources.get(CDS)!;
    expect(deltaNames(r)).toEqual(["c1", "c2", "c3"]);
    expect(deltaVersions(r)).toEqual(Object.fromEntries([...clusters.values()].map((c) => [c.name, c.version])));
    expect(r.systemVersionInfo).toBe(snap.versions.get(CDS));
    expect(r.nonce).not.toBe("");
    expect(r.removedResources).toEqual([]);
    expect(Buffer.from(r.resources[0]!.resource!.value).equals(Buffer.from(clusters.get("c1")!.body))).toBe(true);
    expect(h.server.syncStatus()[0]).toMatchObject({ transport: "delta", types: { cds: { wildcard: true } } });
  });

  it("named subscribe and unsubscribe", async () => {
    const { h, world } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: EDS, resourceNamesSubscribe: ["c1"] });
    expect(deltaNames(await s.nextOf(EDS))).toEqual(["c1"]);
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["c2"] });
    expect(deltaNames(await s.nextOf(EDS))).toEqual(["c2"]); // c1 is not sent again
    s.send({ typeUrl: EDS, resourceNamesUnsubscribe: ["c1"] });
    await barrier(s, "r1"); // a pure unsubscribe needs no answer
    h.cache.set("default", world.put(EDS, "c1", cla("c1", "10.9.9.1")).snapshot());
    await barrier(s, "r2"); // c1 changed but is no longer subscribed
    h.cache.set("default", world.put(EDS, "c2", cla("c2", "10.9.9.2")).snapshot());
    const r = await s.nextOf(EDS);
    expect(deltaNames(r)).toEqual(["c2"]);
    expect(h.server.syncStatus()[0]!.types.eds).toMatchObject({ subscribed: 1, wildcard: false });
  });

  it("after an updated cluster, re-sends its unchanged CLA so the cluster can finish warming", async () => {
    const { h, world } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    s.ack(await s.nextOf(CDS));
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["c1", "c2"] });
    const e1 = await s.nextOf(EDS);
    s.ack(e1);
    // c1 changes (e.g. a new load-balancing policy); its endpoints do not.
    h.cache.set("default", world.put(CDS, "c1", cluster("c1", "7s")).snapshot());
    const c = await s.nextOf(CDS);
    expect(deltaNames(c)).toEqual(["c1"]);
    s.ack(c);
    const e2 = await s.nextOf(EDS);
    expect(deltaNames(e2)).toEqual(["c1"]);
    expect(deltaVersions(e2)["c1"]).toBe(deltaVersions(e1)["c1"]);
  });

  it("re-sends a subscribed name even if the proxy already has it", async () => {
    const { h } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: EDS, resourceNamesSubscribe: ["c1"] });
    const r1 = await s.nextOf(EDS);
    s.ack(r1);
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["c1"] });
    const r2 = await s.nextOf(EDS);
    expect(deltaNames(r2)).toEqual(["c1"]);
    expect(deltaVersions(r2)).toEqual(deltaVersions(r1));
  });

  it("ACK is silent; NACK is recorded and the refused versions are not re-sent; a new version is", async () => {
    const { h, world } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const r1 = await s.nextOf(CDS);
    s.ack(r1);
    await barrier(s, "r1");
    expect(h.server.syncStatus()[0]!.types.cds).toMatchObject({ nonceAcked: r1.nonce, versionAcked: r1.systemVersionInfo });

    h.cache.set("default", world.put(CDS, "c2", cluster("c2", "5s")).snapshot());
    const r2 = await s.nextOf(CDS);
    expect(deltaNames(r2)).toEqual(["c2"]);
    s.nack(r2, "Error adding/updating cluster(s) c2: nope");
    await barrier(s, "r2");
    // An unrelated change (another type) must not bring the refused cluster back.
    h.cache.set("default", world.put(LDS, "l2", listener("l2", 9090, "r2")).snapshot());
    s.send({ typeUrl: LDS, resourceNamesSubscribe: ["*"] });
    expect((await s.next()).typeUrl).toBe(LDS);

    const st = h.server.syncStatus()[0]!.types.cds!;
    expect(st.lastNack).toMatchObject({ version: r2.systemVersionInfo, nonce: r2.nonce, message: "Error adding/updating cluster(s) c2: nope" });
    expect(st.nacks).toBe(1);
    expect(h.observer.nacks.map((n) => [n.type, n.message])).toEqual([["cds", "Error adding/updating cluster(s) c2: nope"]]);

    h.cache.set("default", world.put(CDS, "c2", cluster("c2", "6s")).snapshot());
    const r3 = await s.nextOf(CDS);
    expect(deltaNames(r3)).toEqual(["c2"]);
    expect(deltaVersions(r3)["c2"]).not.toBe(deltaVersions(r2)["c2"]);
  });

  it("lists deleted resources in removed_resources", async () => {
    const { h, world } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    s.ack(await s.nextOf(CDS));
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["c1", "c2"] });
    s.ack(await s.nextOf(EDS));
    h.cache.set("default", world.remove(CDS, "c2").remove(EDS, "c2").snapshot());
    const cds = await s.nextOf(CDS);
    expect(cds.resources).toEqual([]);
    expect(cds.removedResources).toEqual(["c2"]);
    const eds = await s.nextOf(EDS);
    expect(eds.resources).toEqual([]);
    expect(eds.removedResources).toEqual(["c2"]);
  });

  it("on reconnect with initial_resource_versions sends only what changed and removes what is gone", async () => {
    const { h, world } = await setup();
    const s1 = h.client.delta();
    s1.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const first = await s1.nextOf(CDS);
    s1.ack(first);
    const had = deltaVersions(first);
    s1.cancel();
    await s1.ended;

    // While disconnected: c1 changes, c3 is deleted, c4 appears.
    h.cache.set("default", world.put(CDS, "c1", cluster("c1", "7s")).remove(CDS, "c3").put(CDS, "c4", cluster("c4")).snapshot());
    const s2 = h.client.delta();
    s2.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"], initialResourceVersions: had });
    const r = await s2.nextOf(CDS);
    expect(deltaNames(r)).toEqual(["c1", "c4"]);
    expect(r.removedResources).toEqual(["c3"]);
  });

  it("on reconnect, named subscriptions declared at the current version are not re-sent", async () => {
    const { h, world } = await setup();
    const s1 = h.client.delta();
    s1.send({ node: node(), typeUrl: EDS, resourceNamesSubscribe: ["c1", "c2"] });
    const first = await s1.nextOf(EDS);
    expect(deltaNames(first)).toEqual(["c1", "c2"]);
    const had = deltaVersions(first);
    s1.cancel();
    await s1.ended;

    // While disconnected c2 changes. Envoy resubscribes all it wants, with the versions it holds;
    // c3 it never had, and "gone" it holds but the server no longer has.
    h.cache.set("default", world.put(EDS, "c2", cla("c2", "10.8.8.8")).snapshot());
    const s2 = h.client.delta();
    s2.send({ node: node(), typeUrl: EDS, resourceNamesSubscribe: ["c1", "c2", "c3", "gone"], initialResourceVersions: { ...had, gone: "v0" } });
    const r = await s2.nextOf(EDS);
    expect(deltaNames(r)).toEqual(["c2", "c3"]);
    expect(r.removedResources).toEqual(["gone"]);
    // A later re-subscribe of c1 (Envoy "forgot" it) is answered even though its version is unchanged.
    s2.send({ typeUrl: EDS, resourceNamesSubscribe: ["c1"] });
    expect(deltaNames(await s2.nextOf(EDS))).toEqual(["c1"]);
  });

  it("answers a subscribed EDS or RDS name that does not exist in removed_resources, and sends it once it appears", async () => {
    const { h, world } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: EDS, resourceNamesSubscribe: ["c1", "c9"] });
    const r = await s.nextOf(EDS);
    expect(deltaNames(r)).toEqual(["c1"]);
    expect(r.removedResources).toEqual(["c9"]);
    s.ack(r);
    s.send({ typeUrl: RDS, resourceNamesSubscribe: ["r9"] });
    const rds = await s.nextOf(RDS);
    expect(rds.resources).toEqual([]);
    expect(rds.removedResources).toEqual(["r9"]);
    h.cache.set("default", world.put(EDS, "c9", cla("c9", "10.9.9.9")).snapshot());
    const later = await s.nextOf(EDS);
    expect(deltaNames(later)).toEqual(["c9"]);
    expect(later.removedResources).toEqual([]);
  });

  it("a reconnect with nothing changed gets an empty first answer", async () => {
    const { h } = await setup();
    const s1 = h.client.delta();
    s1.send({ node: node(), typeUrl: CDS });
    const had = deltaVersions(await s1.nextOf(CDS));
    s1.cancel();
    await s1.ended;
    const s2 = h.client.delta();
    s2.send({ node: node(), typeUrl: CDS, initialResourceVersions: had });
    const r = await s2.nextOf(CDS);
    expect(r.resources).toEqual([]);
    expect(r.removedResources).toEqual([]);
  });

  it("honours subscription changes carried by a request with a stale nonce", async () => {
    const { h, world } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: EDS, resourceNamesSubscribe: ["c1"] });
    const d1 = await s.nextOf(EDS);
    h.cache.set("default", world.put(EDS, "c1", cla("c1", "10.7.7.7")).snapshot());
    const d2 = await s.nextOf(EDS);
    expect(d2.nonce).not.toBe(d1.nonce);
    // ACK of d1 (stale now) that also subscribes c2: the subscription must be honoured.
    s.send({ typeUrl: EDS, responseNonce: d1.nonce, resourceNamesSubscribe: ["c2"] });
    expect(deltaNames(await s.nextOf(EDS))).toEqual(["c2"]);
    // And the stale ACK did not count as an ACK of the current response.
    expect(h.server.syncStatus()[0]!.types.eds!.nonceAcked).toBe("");
  });

  it("unsubscribing a name while wildcard re-sends it (it is still covered by the wildcard)", async () => {
    const { h } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*", "c1"] });
    s.ack(await s.nextOf(CDS));
    s.send({ typeUrl: CDS, resourceNamesUnsubscribe: ["c1"] });
    const r = await s.nextOf(CDS);
    expect(deltaNames(r)).toEqual(["c1"]);
  });

  it("ends the stream with INVALID_ARGUMENT for a refused node", async () => {
    const { h } = await setup();
    const s = h.client.delta();
    s.send({ node: { id: "not-a-sidecar" }, typeUrl: CDS });
    const end = await s.endedWithin();
    expect(end.code).toBe(3);
    expect(end.details).toContain("not-a-sidecar");
  });
});
