/**
 * Malformed and oversized xDS requests against the real server (file mode, the reviews-canary
 * example): unknown type URLs, garbage nonces and versions, 100 000 resource names, node metadata
 * of the wrong shape. Each is answered with an error or ignored; the server never crashes, keeps
 * serving other proxies, and its heap does not grow with the number of hostile streams.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { useExampleServer } from "../../support/example-server.js";
import { deltaNames, names, type DeltaStream, type SotwStream } from "../../support/xds-client.js";

const CDS = TYPE_URL.cluster;
const EDS = TYPE_URL.endpoint;
const GOOD_NODE = { id: "sidecar~10.0.0.9~productpage-v1-x.default~default.svc.cluster.local", cluster: "productpage.default" };

const example = useExampleServer();

/** The server still serves a well-behaved proxy its clusters. */
async function stillServes(): Promise<void> {
  const s = example.client.sotw();
  s.send({ node: GOOD_NODE, typeUrl: CDS });
  expect(names(await s.nextOf(CDS)).length).toBeGreaterThan(0);
  s.cancel();
}

/** Either the stream ends with a gRPC error, or `probe` (sent after) is answered: the bad request was ignored. */
async function errorOrIgnoredSotw(s: SotwStream): Promise<"error" | "ignored"> {
  s.send({ typeUrl: CDS });
  try {
    await s.nextOf(CDS);
    return "ignored";
  } catch {
    const end = await s.endedWithin();
    expect(end.code, `ended without an error status: ${end.details}`).not.toBe(0);
    expect(end.details.length).toBeGreaterThan(0);
    return "error";
  }
}

async function errorOrIgnoredDelta(s: DeltaStream): Promise<"error" | "ignored"> {
  s.send({ typeUrl: CDS, resourceNamesSubscribe: ["*"] });
  try {
    await s.nextOf(CDS);
    return "ignored";
  } catch {
    const end = await s.endedWithin();
    expect(end.code).not.toBe(0);
    return "error";
  }
}

const MANY_NAMES = Array.from({ length: 100_000 }, (_, i) => `outbound|${i}||nothing-${i}.example.svc.cluster.local`);

const BAD_NODES: { what: string; node: unknown }[] = [
  { what: "an empty id", node: { id: "" } },
  { what: "a router id with garbage fields", node: { id: "router~~~" } },
  { what: "a 100 KB id", node: { id: `sidecar~10.0.0.1~${"p".repeat(100_000)}.default~default.svc.cluster.local` } },
  { what: "LABELS as a number", node: { id: GOOD_NODE.id, metadata: { LABELS: 42 } } },
  { what: "LABELS as a list", node: { id: GOOD_NODE.id, metadata: { LABELS: ["app", "x"] } } },
  { what: "label values of the wrong type", node: { id: GOOD_NODE.id, metadata: { LABELS: { app: { nested: true }, version: 3 } } } },
  { what: "deeply nested metadata", node: { id: GOOD_NODE.id, metadata: { X: JSON.parse(`${'{"a":'.repeat(90)}1${"}".repeat(90)}`) } } },
  { what: "an invalid IP in the id", node: { id: "sidecar~999.1.1.1~p.default~default.svc.cluster.local" } },
  { what: "unicode everywhere", node: { id: "sidecar~10.0.0.1~🦄.défault~défault.svc.cluster.local", metadata: { LABELS: { "🦄": "é" } } } },
];

describe("hostile xDS requests", () => {
  it("an unknown type URL is answered with an error or ignored, on SotW and delta", async () => {
    const s = example.client.sotw();
    s.send({ node: GOOD_NODE, typeUrl: "type.googleapis.com/not.a.Real.Type", resourceNames: ["x"] });
    await errorOrIgnoredSotw(s);
    s.cancel();
    const d = example.client.delta();
    d.send({ node: GOOD_NODE, typeUrl: "type.googleapis.com/not.a.Real.Type", resourceNamesSubscribe: ["x"] });
    await errorOrIgnoredDelta(d);
    d.cancel();
    await stillServes();
  });

  it("garbage nonces and versions never break the stream", async () => {
    const s = example.client.sotw();
    s.send({ node: GOOD_NODE, typeUrl: CDS });
    const first = await s.nextOf(CDS);
    s.send({ typeUrl: CDS, versionInfo: "\u0000garbage", responseNonce: "not-a-nonce-" + "z".repeat(10_000) });
    s.send({ typeUrl: CDS, versionInfo: first.versionInfo, responseNonce: "", errorDetail: { code: 3, message: "nack without a nonce" } });
    // A request carrying a nonce this stream never sent is stale: ignored, as the protocol says;
    // the initial request after it (no nonce) is answered, so the stream is still healthy.
    s.send({ typeUrl: EDS, resourceNames: ["outbound|9080||reviews.default.svc.cluster.local"], responseNonce: "12345" });
    s.send({ typeUrl: EDS, resourceNames: ["outbound|9080||reviews.default.svc.cluster.local"] });
    expect(names(await s.nextOf(EDS))).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);
    s.cancel();
    const d = example.client.delta();
    d.send({ node: GOOD_NODE, typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    await d.nextOf(CDS);
    d.send({ typeUrl: CDS, responseNonce: "never-sent" });
    d.send({ typeUrl: CDS, responseNonce: "", errorDetail: { code: 3, message: "bogus" } });
    d.send({ typeUrl: EDS, resourceNamesSubscribe: ["outbound|9080||reviews.default.svc.cluster.local"] });
    expect(deltaNames(await d.nextOf(EDS))).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);
    d.cancel();
    await stillServes();
  });

  it("100 000 resource names get an answer with only what exists, or an error", async () => {
    const s = example.client.sotw();
    s.send({ node: GOOD_NODE, typeUrl: EDS, resourceNames: [...MANY_NAMES, "outbound|9080||reviews.default.svc.cluster.local"] });
    try {
      const resp = await s.nextOf(EDS, 30_000);
      expect(names(resp)).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);
    } catch {
      expect((await s.endedWithin()).code).not.toBe(0);
    }
    s.cancel();
    const d = example.client.delta();
    d.send({ node: GOOD_NODE, typeUrl: EDS, resourceNamesSubscribe: MANY_NAMES });
    d.send({ typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    try {
      await d.nextOf(CDS, 30_000);
    } catch {
      expect((await d.endedWithin()).code).not.toBe(0);
    }
    d.cancel();
    await stillServes();
  });

  for (const { what, node } of BAD_NODES) {
    it(`node metadata with ${what} is refused with an error or served, never a crash`, async () => {
      const s = example.client.sotw();
      s.send({ node: node as never, typeUrl: CDS });
      try {
        await s.nextOf(CDS);
      } catch {
        const end = await s.endedWithin();
        expect(end.code).not.toBe(0);
        expect(end.details.length).toBeLessThan(2_000); // the error names the problem, it does not echo 100 KB back
      }
      s.cancel();
      await stillServes();
    });
  }

  it("the heap does not grow with the number of hostile streams", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const round = async (): Promise<void> => {
      const streams = Array.from({ length: 20 }, (_, i) => {
        const s = example.client.sotw();
        s.send({
          node: { id: `sidecar~10.0.${i}.1~p${i}.default~default.svc.cluster.local`, metadata: { LABELS: { app: `a${i}` } } },
          typeUrl: EDS,
          resourceNames: MANY_NAMES.slice(0, 5_000),
        });
        s.send({ typeUrl: "type.googleapis.com/not.a.Real.Type", responseNonce: "x".repeat(1_000) });
        return s;
      });
      await new Promise((r) => setTimeout(r, 200));
      for (const s of streams) s.cancel();
      await new Promise((r) => setTimeout(r, 200));
    };
    const heap = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    await round(); // warm-up: code, caches, the first views
    const before = heap();
    for (let i = 0; i < 10; i++) await round();
    const after = heap();
    // 200 streams each asked for 5 000 names; if any of that were retained it would be tens of MB.
    expect(after - before, `heap grew by ${((after - before) / 1e6).toFixed(1)} MB`).toBeLessThan(8e6);
    await stillServes();
  }, 120_000);
});
