// State-of-the-world ADS over a real socket. "No response" is proven with a barrier: after the
// request that must stay unanswered, the test sends one that must be answered; since a stream
// handles requests in order, the next response being the barrier's proves the first was silent.
import { afterEach, describe, expect, it } from "vitest";
import { names, type SotwStream } from "../../support/xds-client.js";
import { CDS, EDS, LDS, RDS, World, cla, cluster, eventually, listener, node, route, sampleWorld, startHarness, type Harness } from "./harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(world: World = sampleWorld()): Promise<{ h: Harness; world: World }> {
  h = await startHarness(world);
  return { h, world };
}

/** Barrier: an initial request for a type not yet requested on `s`; returns its response. */
async function barrier(s: SotwStream, typeUrl: string, resourceNames: string[] = []): Promise<void> {
  s.send({ typeUrl, resourceNames });
  await s.nextOf(typeUrl);
}

describe("SotW ADS", () => {
  it("answers initial wildcard CDS and LDS with the full sets (legacy empty and explicit *)", async () => {
    const { h } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: CDS });
    const cds = await s.nextOf(CDS);
    expect(names(cds)).toEqual(["c1", "c2", "c3"]);
    const snap = h.cache.get("default")!;
    expect(cds.versionInfo).toBe(snap.versions.get(CDS));
    expect(cds.nonce).not.toBe("");
    expect(cds.controlPlane?.identifier).toBe("meshpilot-test");
    s.send({ typeUrl: LDS });
    const lds = await s.nextOf(LDS);
    expect(names(lds)).toEqual(["l1"]);
    expect(lds.versionInfo).toBe(snap.versions.get(LDS));

    const s2 = h.client.sotw();
    s2.send({ node: node("sidecar~10.0.0.2~b.default~default.svc.cluster.local"), typeUrl: CDS, resourceNames: ["*"] });
    expect(names(await s2.nextOf(CDS))).toEqual(["c1", "c2", "c3"]);
    // Each resource is the encoded body from the snapshot, byte for byte.
    const body = snap.resources.get(CDS)!.get("c1")!.body;
    expect(Buffer.from(cds.resources[0]!.value).equals(Buffer.from(body))).toBe(true);
  });

  it("answers named EDS and RDS with only the requested names", async () => {
    const { h } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: EDS, resourceNames: ["c2"] });
    expect(names(await s.nextOf(EDS))).toEqual(["c2"]);
    s.send({ typeUrl: RDS, resourceNames: ["r1", "missing"] });
    expect(names(await s.nextOf(RDS))).toEqual(["r1"]);
  });

  it("serves CDS by name to a client that names clusters (no wildcard), deletion included", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: CDS, resourceNames: ["c1", "c2"] });
    const r1 = await s.nextOf(CDS);
    expect(names(r1)).toEqual(["c1", "c2"]);
    s.ack(r1, ["c1", "c2"]);
    h.cache.set("default", world.remove(CDS, "c2").snapshot());
    expect(names(await s.nextOf(CDS))).toEqual(["c1"]); // absent from a CDS response = deleted
    s.send({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: h.server.syncStatus()[0]!.types.cds!.nonceSent, resourceNames: [] });
    await eventually(() => h.server.syncStatus()[0]!.types.cds!.subscribed === 0, "unsubscribe applied");
    expect(h.server.syncStatus()[0]!.types.cds!.wildcard).toBe(false); // empty after names is not legacy wildcard
    h.cache.set("default", world.put(CDS, "c5", cluster("c5")).snapshot());
    await barrier(s, LDS);
  });

  it("pushes only the changed CLAs of a named EDS subscription", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: EDS, resourceNames: ["c1", "c2", "c3"] });
    const e1 = await s.nextOf(EDS);
    expect(names(e1)).toEqual(["c1", "c2", "c3"]);
    s.ack(e1, ["c1", "c2", "c3"]);
    h.cache.set("default", world.put(EDS, "c2", cla("c2", "10.0.0.20", "10.0.0.21")).snapshot());
    const e2 = await s.nextOf(EDS);
    expect(names(e2)).toEqual(["c2"]);
    expect(e2.versionInfo).toBe(h.cache.get("default")!.versions.get(EDS));
  });

  it("stays silent on an ACK", async () => {
    const { h } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: CDS });
    const cds = await s.nextOf(CDS);
    s.ack(cds);
    await barrier(s, LDS);
    const st = h.server.syncStatus()[0]!.types.cds!;
    expect(st.versionAcked).toBe(cds.versionInfo);
    expect(st.nonceAcked).toBe(cds.nonce);
    expect(st.nonceSent).toBe(cds.nonce);
  });

  it("after a NACK does not re-send the refused version, reports it, and pushes the next version", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: CDS });
    const v1 = await s.nextOf(CDS);
    s.nack(v1, "Error adding/updating cluster(s) c2: bad cluster");
    await barrier(s, LDS);
    // A change to another type does not drag the refused CDS along.
    h.cache.set("default", world.put(LDS, "l2", listener("l2", 9090, "r2")).snapshot());
    expect(names(await s.nextOf(LDS))).toEqual(["l1", "l2"]);

    const status = h.server.syncStatus()[0]!;
    expect(status.types.cds!.lastNack).toMatchObject({ version: v1.versionInfo, nonce: v1.nonce, message: "Error adding/updating cluster(s) c2: bad cluster" });
    expect(status.types.cds!.nacks).toBe(1);
    expect(status.types.cds!.versionAcked).toBe("");
    expect(h.observer.nacks).toEqual([{ type: "cds", proxyId: node().id, message: "Error adding/updating cluster(s) c2: bad cluster" }]);

    h.cache.set("default", world.put(CDS, "c2", cluster("c2", "2s")).snapshot());
    const v2 = await s.nextOf(CDS);
    expect(v2.versionInfo).not.toBe(v1.versionInfo);
    expect(names(v2)).toEqual(["c1", "c2", "c3"]);
  });

  it("ignores a request with a stale nonce", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: EDS, resourceNames: ["c1"] });
    const e1 = await s.nextOf(EDS);
    h.cache.set("default", world.put(EDS, "c1", cla("c1", "10.0.0.9")).snapshot());
    const e2 = await s.nextOf(EDS);
    expect(e2.versionInfo).not.toBe(e1.versionInfo);
    // Answers e1 (now stale) and adds a name: must be ignored.
    s.send({ typeUrl: EDS, versionInfo: e1.versionInfo, responseNonce: e1.nonce, resourceNames: ["c1", "c2"] });
    await barrier(s, LDS);
    // The same change with the current nonce is answered.
    s.send({ typeUrl: EDS, versionInfo: e2.versionInfo, responseNonce: e2.nonce, resourceNames: ["c1", "c2"] });
    expect(names(await s.nextOf(EDS))).toEqual(["c1", "c2"]);
  });

  it("answers a request that adds a name, at the same version", async () => {
    const { h } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: EDS, resourceNames: ["c1"] });
    const e1 = await s.nextOf(EDS);
    s.ack(e1, ["c1", "c3"]);
    const e2 = await s.nextOf(EDS);
    expect(names(e2)).toEqual(["c1", "c3"]);
    expect(e2.versionInfo).toBe(e1.versionInfo);
    expect(e2.nonce).not.toBe(e1.nonce);
  });

  it("honours unsubscribe: no push for names no longer requested", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: EDS, resourceNames: ["c1", "c2"] });
    const e1 = await s.nextOf(EDS);
    s.ack(e1, ["c1"]); // drop c2: no answer needed
    await barrier(s, LDS);
    h.cache.set("default", world.put(EDS, "c2", cla("c2", "10.0.0.22")).snapshot());
    await barrier(s, RDS, ["r1"]); // c2 changed, not pushed
    h.cache.set("default", world.put(EDS, "c1", cla("c1", "10.0.0.11")).snapshot());
    const e2 = await s.nextOf(EDS);
    expect(names(e2)).toEqual(["c1"]);
    s.ack(e2, []); // unsubscribe everything (no answer, so wait for the server to have it)
    await eventually(() => h.server.syncStatus()[0]!.types.eds!.subscribed === 0, "unsubscribe applied");
    h.cache.set(
      "default",
      world
        .put(EDS, "c1", cla("c1", "10.0.0.12"))
        .put(LDS, "l2", listener("l2", 9090, "r2"))
        .snapshot(),
    );
    expect((await s.next()).typeUrl).toBe(LDS); // the EDS change went nowhere
    expect(h.server.syncStatus()[0]!.types.eds).toMatchObject({ subscribed: 0, wildcard: false });
  });

  it("pushes a multi-type change in CDS → EDS → LDS → RDS order", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    // Subscribe in the reverse order, so the push order cannot be an echo of the request order.
    s.send({ node: node(), typeUrl: RDS, resourceNames: ["r1"] });
    s.ack(await s.nextOf(RDS), ["r1"]);
    s.send({ typeUrl: LDS });
    s.ack(await s.nextOf(LDS));
    s.send({ typeUrl: EDS, resourceNames: ["c1"] });
    s.ack(await s.nextOf(EDS), ["c1"]);
    s.send({ typeUrl: CDS });
    s.ack(await s.nextOf(CDS));
    h.cache.set(
      "default",
      world
        .put(RDS, "r1", route("r1", "c4"))
        .put(LDS, "l1", listener("l1", 8081, "r1"))
        .put(EDS, "c1", cla("c1", "10.1.1.1"))
        .put(CDS, "c4", cluster("c4"))
        .snapshot(),
    );
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await s.next()).typeUrl);
    expect(order).toEqual([CDS, EDS, LDS, RDS]);
    expect(h.observer.pushes.slice(-4).map((p) => p.type)).toEqual(["cds", "eds", "lds", "rds"]);
  });

  it("answers the EDS request that follows a CDS push even when it looks like an ACK", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: CDS });
    const c1 = await s.nextOf(CDS);
    s.ack(c1);
    s.send({ typeUrl: EDS, resourceNames: ["c1"] });
    const e1 = await s.nextOf(EDS);
    s.ack(e1, ["c1"]);
    // Control: without a CDS push, the same ACK-looking request is not answered.
    s.ack(e1, ["c1"]);
    await barrier(s, LDS);
    // A cluster changes (endpoints do not): CDS is pushed; Envoy re-requests EDS to warm it.
    h.cache.set("default", world.put(CDS, "c1", cluster("c1", "3s")).snapshot());
    const c2 = await s.nextOf(CDS);
    s.ack(c2);
    s.ack(e1, ["c1"]);
    const e2 = await s.nextOf(EDS);
    expect(names(e2)).toEqual(["c1"]);
    expect(e2.versionInfo).toBe(e1.versionInfo);
  });

  it("holds requests until the view has a snapshot, then answers with it", async () => {
    h = await startHarness(); // no automatic snapshot
    const world = sampleWorld();
    const s = h.client.sotw();
    const activated = h.views.nextActivation();
    s.send({ node: node(), typeUrl: CDS });
    s.send({ typeUrl: LDS });
    expect(await activated).toBe("default");
    h.cache.set("default", world.snapshot());
    const first = await s.next();
    expect(first.typeUrl).toBe(CDS);
    expect(names(first)).toEqual(["c1", "c2", "c3"]); // not an empty answer sent while waiting
    expect(names(await s.nextOf(LDS))).toEqual(["l1"]);
  });

  it("ends the stream with INVALID_ARGUMENT for a node the view provider refuses, or no node", async () => {
    const { h } = await setup();
    const s = h.client.sotw();
    s.send({ node: { id: "garbage" }, typeUrl: CDS });
    const end = await s.endedWithin();
    expect(end.code).toBe(3);
    expect(end.details).toContain("malformed node id");
    const s2 = h.client.sotw();
    s2.send({ typeUrl: CDS });
    const end2 = await s2.endedWithin();
    expect(end2.code).toBe(3);
    expect(end2.details).toContain("node");
    expect(h.views.activated).toEqual([]);
    expect(h.server.syncStatus()).toEqual([]);
  });

  it("shares one view (activated once) and the same encoded bytes between two proxies", async () => {
    const { h } = await setup();
    const a = h.client.sotw();
    const b = h.client.sotw();
    a.send({ node: node("sidecar~10.0.0.1~a.default~default.svc.cluster.local"), typeUrl: CDS });
    const ra = await a.nextOf(CDS);
    b.send({ node: node("sidecar~10.0.0.2~b.default~default.svc.cluster.local"), typeUrl: CDS });
    const rb = await b.nextOf(CDS);
    expect(h.views.activated).toEqual(["default"]);
    const snap = h.cache.get("default")!;
    const bodies = [...snap.resources.get(CDS)!.values()].map((r) => Buffer.from(r.body));
    for (const resp of [ra, rb]) expect(resp.resources.map((x) => Buffer.from(x.value))).toEqual(bodies);
    expect(ra.versionInfo).toBe(rb.versionInfo);
    expect(h.server.syncStatus().map((p) => [p.id, p.viewKey])).toEqual([
      ["sidecar~10.0.0.1~a.default~default.svc.cluster.local", "default"],
      ["sidecar~10.0.0.2~b.default~default.svc.cluster.local", "default"],
    ]);
    // The view is deactivated only when its last stream is gone.
    a.cancel();
    await eventually(() => h.server.syncStatus().length === 1, "first stream cleaned up");
    expect(h.views.deactivated).toEqual([]);
    const gone = h.views.nextDeactivation();
    b.end();
    expect(await gone).toBe("default");
    expect(h.observer.disconnects.map((d) => d.proxyId).sort()).toEqual([
      "sidecar~10.0.0.1~a.default~default.svc.cluster.local",
      "sidecar~10.0.0.2~b.default~default.svc.cluster.local",
    ]);
  });

  it("keeps separate views apart", async () => {
    const { h, world } = await setup();
    const a = h.client.sotw();
    a.send({ node: node(undefined, "gw"), typeUrl: CDS });
    await a.nextOf(CDS);
    // A change to another view does not reach this proxy; one to its own does.
    h.cache.set("default", world.put(CDS, "c8", cluster("c8")).snapshot());
    h.cache.set("gw", world.remove(CDS, "c8").put(CDS, "c9", cluster("c9")).snapshot("gw"));
    expect(names(await a.nextOf(CDS))).toEqual(["c1", "c2", "c3", "c9"]);
    expect(h.views.activated).toEqual(["gw"]);
  });

  it("under write backpressure coalesces versions and ends on the latest one", async () => {
    const world = new World();
    for (let i = 0; i < 200; i++) world.put(CDS, `cluster-${i}`, cluster(`cluster-${i}`));
    const { h } = await setup(world);
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: CDS });
    await s.nextOf(CDS);
    s.pause();
    const sets = 40;
    for (let i = 1; i <= sets; i++) h.cache.set("default", world.put(CDS, "cluster-0", cluster("cluster-0", `${100 + i}s`)).snapshot());
    const latest = h.cache.get("default")!.versions.get(CDS);
    const written = h.observer.pushes.filter((p) => p.type === "cds").length - 1;
    // The stream said "enough" before all 40 versions were written; the rest were coalesced.
    expect(written).toBeLessThan(sets);
    s.resume();
    let last = "";
    let received = 0;
    while (last !== latest) {
      last = (await s.nextOf(CDS)).versionInfo;
      received++;
    }
    expect(received).toBe(h.observer.pushes.filter((p) => p.type === "cds").length - 1);
  });
});
