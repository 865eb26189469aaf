// The plaintext port never sends a Secret: whoever reaches it could claim any node id and read
// private keys (istiod refuses exactly this). Every response a plaintext client receives is read
// whole and searched for key material; with the development flag the Secrets do come.
import { toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { DeltaDiscoveryResponseSchema, DiscoveryResponseSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import type { SecretJson } from "../../../src/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { deltaNames, names } from "../../support/xds-client.js";
import { CDS, EDS, LDS, RDS, node, sampleWorld, startHarness, type Harness } from "./harness.js";

const SDS = TYPE_URL.secret;
const KEY_MARKER = "-----BEGIN PRIVATE KEY-----\nplaintext-leak-canary-5d1e\n-----END PRIVATE KEY-----\n";

function keySecret(name: string): SecretJson {
  return {
    name,
    tlsCertificate: {
      certificateChain: { inlineString: "-----BEGIN CERTIFICATE-----\nnot-a-cert\n-----END CERTIFICATE-----\n" },
      privateKey: { inlineString: KEY_MARKER },
    },
  };
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const world = () =>
  sampleWorld().put(SDS, "kubernetes://cred", keySecret("kubernetes://cred")).put(SDS, "kubernetes://cred-cacert", keySecret("kubernetes://cred-cacert"));
const secretNames = ["kubernetes://cred", "kubernetes://cred-cacert"];
const hasKey = (bytes: Uint8Array): boolean => Buffer.from(bytes).includes("plaintext-leak-canary-5d1e");

describe("plaintext xDS and Secrets", () => {
  it("SotW: every response on the plaintext port is free of private keys; Secret requests get no Secret", async () => {
    h = await startHarness(world());
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: SDS, resourceNames: secretNames });
    const sds = await s.nextOf(SDS);
    expect(names(sds)).toEqual([]);
    const seen = [sds];
    for (const [type, sub] of [
      [CDS, []],
      [EDS, ["c1", "c2"]],
      [LDS, []],
      [RDS, ["r1"]],
    ] as const) {
      s.send({ typeUrl: type, resourceNames: [...sub] });
      seen.push(await s.nextOf(type));
    }
    // The view changes (a rotated Secret): still nothing comes.
    h.cache.set(
      "default",
      world().put(SDS, "kubernetes://cred", keySecret("kubernetes://cred")).put(CDS, "c9", { name: "c9", type: "STATIC", connectTimeout: "1s" }).snapshot(),
    );
    seen.push(await s.nextOf(CDS));
    while (s.buffered > 0) seen.push(await s.next());
    for (const r of seen) expect(hasKey(toBinary(DiscoveryResponseSchema, r))).toBe(false);
    expect(seen.map((r) => r.typeUrl)).toContain(SDS);
  });

  it("delta: a subscription to Secrets on the plaintext port receives none of them", async () => {
    h = await startHarness(world());
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: SDS, resourceNamesSubscribe: secretNames });
    const sds = await s.nextOf(SDS);
    expect(deltaNames(sds)).toEqual([]);
    s.send({ typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const cds = await s.nextOf(CDS);
    for (const r of [sds, cds]) expect(hasKey(toBinary(DeltaDiscoveryResponseSchema, r))).toBe(false);
  });

  it("with the development flag (--allow-plaintext-secrets) the Secrets come, keys included", async () => {
    h = await startHarness(world(), { plaintextSecrets: true });
    const s = h.client.sotw();
    s.send({ node: node(), typeUrl: SDS, resourceNames: secretNames });
    const sds = await s.nextOf(SDS);
    expect(names(sds)).toEqual(secretNames);
    expect(hasKey(toBinary(DiscoveryResponseSchema, sds))).toBe(true);
    const d = h.client.delta();
    d.send({ node: node(), typeUrl: SDS, resourceNamesSubscribe: secretNames });
    expect(deltaNames(await d.nextOf(SDS)).sort()).toEqual(secretNames);
  });
});
