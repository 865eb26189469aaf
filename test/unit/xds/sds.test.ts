// SDS over ADS (DestinationRule credentialName): Envoy asks for Secrets by name once a cluster
// references them, SotW and delta alike. A rotated Secret reaches the streams subscribed to it,
// alone; a cluster and its Secret changed together go out CDS → (EDS) → SDS → LDS.
import { afterEach, describe, expect, it } from "vitest";
import type { SecretJson } from "../../../src/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { deltaNames, names, type SotwStream } from "../../support/xds-client.js";
import { CDS, LDS, RDS, cluster, listener, node, sampleWorld, startHarness, type Harness, type World } from "./harness.js";

const SDS = TYPE_URL.secret;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function secret(name: string, ca: string): SecretJson {
  return { name, validationContext: { trustedCa: { inlineString: ca } } };
}

function worldWithSecrets(): World {
  return sampleWorld().put(SDS, "kubernetes://a", secret("kubernetes://a", "ca-a-1")).put(SDS, "kubernetes://b", secret("kubernetes://b", "ca-b-1"));
}

async function setup(): Promise<{ h: Harness; world: World }> {
  const world = worldWithSecrets();
  // These tests are about SDS mechanics, on the plaintext port with Secrets allowed (the dev flag).
  h = await startHarness(world, { plaintextSecrets: true });
  return { h, world };
}

/** Barrier: a new name on RDS must be answered next. */
async function barrier(s: SotwStream, routes: string[]): Promise<void> {
  s.send({ typeUrl: RDS, resourceNames: routes });
  expect(names(await s.nextOf(RDS))).toEqual(routes.filter((r) => r !== "missing"));
}

describe("SDS over ADS, SotW", () => {
  it("answers a named Secret request with only those Secrets, of the Secret type", async () => {
    const { h } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: SDS, resourceNames: ["kubernetes://a", "kubernetes://missing"] });
    const r = await s.nextOf(SDS);
    expect(names(r)).toEqual(["kubernetes://a"]);
    expect(r.resources[0]!.typeUrl).toBe(SDS);
    expect(r.versionInfo).toBe(h.cache.get("default")!.versions.get(SDS));
    expect(h.server.syncStatus()[0]!.types.sds).toMatchObject({ subscribed: 2, wildcard: false });
  });

  it("pushes a rotated Secret to its subscribers only, and never re-sends a refused version", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: SDS, resourceNames: ["kubernetes://a"] });
    s.ack(await s.nextOf(SDS), ["kubernetes://a"]);
    h.cache.set("default", world.put(SDS, "kubernetes://b", secret("kubernetes://b", "ca-b-2")).snapshot());
    await barrier(s, ["r1"]); // b is not subscribed: nothing was sent
    h.cache.set("default", world.put(SDS, "kubernetes://a", secret("kubernetes://a", "ca-a-2")).snapshot());
    const rotated = await s.nextOf(SDS);
    expect(names(rotated)).toEqual(["kubernetes://a"]);
    s.nack(rotated, "bad secret", "", ["kubernetes://a"]);
    await barrier(s, ["r1", "r2"]);
    expect(h.server.syncStatus()[0]!.types.sds).toMatchObject({ nacks: 1 });
  });

  it("a cluster and its Secret changed together go out CDS, then SDS, then LDS", async () => {
    const { h, world } = await setup();
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: CDS });
    s.ack(await s.nextOf(CDS));
    s.send({ typeUrl: LDS });
    s.ack(await s.nextOf(LDS));
    s.send({ typeUrl: SDS, resourceNames: ["kubernetes://a"] });
    s.ack(await s.nextOf(SDS), ["kubernetes://a"]);
    h.cache.set(
      "default",
      world
        .put(LDS, "l1", listener("l1", 8081, "r1"))
        .put(SDS, "kubernetes://a", secret("kubernetes://a", "ca-a-3"))
        .put(CDS, "c1", cluster("c1", "2s"))
        .snapshot(),
    );
    const order = [(await s.next()).typeUrl, (await s.next()).typeUrl, (await s.next()).typeUrl];
    expect(order).toEqual([CDS, SDS, LDS]);
  });
});

describe("SDS over ADS, delta", () => {
  it("subscribes by name, pushes rotations of subscribed Secrets only, and reports removed ones", async () => {
    const { h, world } = await setup();
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: SDS, resourceNamesSubscribe: ["kubernetes://a"] });
    const first = await s.nextOf(SDS);
    expect(deltaNames(first)).toEqual(["kubernetes://a"]);
    s.ack(first);
    h.cache.set(
      "default",
      world.put(SDS, "kubernetes://b", secret("kubernetes://b", "ca-b-2")).put(SDS, "kubernetes://a", secret("kubernetes://a", "ca-a-2")).snapshot(),
    );
    const rotated = await s.nextOf(SDS);
    expect(deltaNames(rotated)).toEqual(["kubernetes://a"]);
    s.ack(rotated);
    h.cache.set("default", world.remove(SDS, "kubernetes://a").snapshot());
    const removed = await s.nextOf(SDS);
    expect(deltaNames(removed)).toEqual([]);
    expect(removed.removedResources).toEqual(["kubernetes://a"]);
  });
});
