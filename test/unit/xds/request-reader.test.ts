/**
 * ADS requests are read straight from the HTTP/2 stream (src/xds/request-reader.ts), not through
 * grpc-js' reader, and the gRPC rules stay: framing across DATA chunks, the message size limit,
 * compressed requests (gzip, deflate; others refused), half-close, deadlines.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import http2 from "node:http2";
import { deflateSync, gzipSync } from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DeltaDiscoveryRequestSchema } from "../../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { requestDeframer } from "../../../src/xds/request-reader.js";
import { XdsServer } from "../../../src/xds/server.js";
import { DELTA_METHOD_PATH } from "../../../src/xds/service-definition.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import { deltaNames } from "../../support/xds-client.js";
import { bounded, CDS, eventually, node, RecordingViews, sampleWorld, startHarness, type Harness } from "./harness.js";

const prefix = (flag: number, length: number): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = flag;
  b.writeUInt32BE(length, 1);
  return b;
};
const framed = (body: Buffer, flag = 0): Buffer => Buffer.concat([prefix(flag, body.length), body]);

describe("requestDeframer", () => {
  const bodies = [Buffer.from("first request"), Buffer.alloc(0), Buffer.from("x".repeat(300)), Buffer.from("last")];
  const stream = Buffer.concat(bodies.map((b) => framed(b)));

  it("reads the same messages however the stream is cut into chunks", () => {
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b += 29) {
        const got: string[] = [];
        const d = requestDeframer(-1, "identity", (m) => got.push(m.toString()));
        for (const chunk of [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]) expect(d.push(chunk)).toBeUndefined();
        expect(got, `cut at ${a} and ${b}`).toEqual(bodies.map((x) => x.toString()));
      }
    }
  });

  it("hands on a message that came whole as a view of its chunk, not a copy", () => {
    const got: Buffer[] = [];
    requestDeframer(-1, "identity", (m) => got.push(m)).push(stream);
    expect(got.map((m) => m.buffer)).toEqual(bodies.map(() => stream.buffer));
  });

  it("refuses a message longer than the maximum, from its prefix alone", () => {
    const got: Buffer[] = [];
    const d = requestDeframer(100, "identity", (m) => got.push(m));
    expect(d.push(framed(Buffer.alloc(100)))).toBeUndefined();
    expect(d.push(prefix(0, 101))).toEqual({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: "Received message larger than max (101 vs 100)" });
    expect(got).toHaveLength(1);
  });

  it("decodes compressed messages with the call's encoding and refuses encodings it does not know", () => {
    const body = Buffer.from("a request ".repeat(20));
    for (const [encoding, pack] of [
      ["gzip", gzipSync],
      ["deflate", deflateSync],
    ] as const) {
      const got: string[] = [];
      expect(requestDeframer(-1, encoding, (m) => got.push(m.toString())).push(framed(pack(body), 1))).toBeUndefined();
      expect(got).toEqual([body.toString()]);
      // Larger than the maximum once decompressed.
      expect(requestDeframer(50, encoding, () => {}).push(framed(pack(body), 1))?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(requestDeframer(-1, encoding, () => {}).push(framed(Buffer.from("not compressed"), 1))).toEqual({
        code: GrpcStatus.INTERNAL,
        details: "Failed to decompress message",
      });
    }
    expect(requestDeframer(-1, "snappy", () => {}).push(framed(body, 1))).toEqual({
      code: GrpcStatus.UNIMPLEMENTED,
      details: 'Received message compressed with unsupported encoding "snappy"',
    });
    // Not flagged as compressed: taken as it is, whatever the call's encoding.
    const got: string[] = [];
    requestDeframer(-1, "snappy", (m) => got.push(m.toString())).push(framed(body));
    expect(got).toEqual([body.toString()]);
  });
});

/** One gRPC call straight on node:http2: what it received and the status it ended with. */
class RawCall {
  readonly session: http2.ClientHttp2Session;
  readonly stream: http2.ClientHttp2Stream;
  messages = 0;
  readonly status: Promise<{ code: number; details: string }>;

  constructor(port: number, headers: Record<string, string> = {}) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on("error", () => {});
    this.stream = this.session.request({ ":method": "POST", ":path": DELTA_METHOD_PATH, "content-type": "application/grpc", te: "trailers", ...headers });
    this.stream.on("data", (chunk: Buffer) => {
      // Enough for these tests: count message prefixes in small responses read whole.
      for (let i = 0; i + 5 <= chunk.length; i += 5 + chunk.readUInt32BE(i + 1)) this.messages++;
    });
    this.status = bounded(
      new Promise((resolve) => {
        const done = (h: http2.IncomingHttpHeaders): void => {
          if (h["grpc-status"] !== undefined) resolve({ code: Number(h["grpc-status"]), details: decodeURIComponent(String(h["grpc-message"] ?? "")) });
        };
        this.stream.on("response", done);
        this.stream.on("trailers", done);
      }),
      5000,
      "the call's status",
    );
  }

  send(frame: Buffer): void {
    this.stream.write(frame);
  }

  close(): void {
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }
}

const first = (): Buffer =>
  Buffer.from(toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, { node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"] })));

describe("ADS calls read from their HTTP/2 stream", () => {
  let h: Harness | undefined;
  let server: XdsServer | undefined;
  const calls: RawCall[] = [];
  afterEach(async () => {
    for (const c of calls.splice(0)) c.close();
    await h?.close();
    await server?.close(100);
    h = server = undefined;
    vi.restoreAllMocks();
  });

  it("serves a delta stream without grpc-js reading its requests", async () => {
    // grpc-js' reader of a call's DATA frames (private).
    const grpcReads = vi.spyOn(BaseServerInterceptingCall.prototype as unknown as { handleDataFrame(data: Buffer): void }, "handleDataFrame");
    h = await startHarness(sampleWorld());
    const s = h.client.delta();
    s.send({ node: node(), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const r = await s.nextOf(CDS);
    expect(deltaNames(r)).toEqual(["c1", "c2", "c3"]);
    s.send({ typeUrl: CDS, responseNonce: r.nonce });
    await eventually(() => h!.server.syncStatus()[0]?.types.cds?.nonceAcked === r.nonce, "the ACK");
    s.cancel();
    expect(grpcReads).not.toHaveBeenCalled();
  });

  it("reads a request split over many DATA frames and gzip-compressed requests", async () => {
    h = await startHarness(sampleWorld());
    const split = new RawCall(h.port);
    calls.push(split);
    const whole = framed(first());
    for (const b of whole) split.send(Buffer.from([b]));
    const gz = new RawCall(h.port, { "grpc-encoding": "gzip" });
    calls.push(gz);
    gz.send(framed(gzipSync(first()), 1));
    await bounded(
      (async () => {
        while (split.messages === 0 || gz.messages === 0) await new Promise((r) => setTimeout(r, 10));
      })(),
      5000,
      "both first responses",
    );
  });

  it("ends the call with UNIMPLEMENTED for a request compressed in an encoding it does not know", async () => {
    h = await startHarness(sampleWorld());
    const c = new RawCall(h.port, { "grpc-encoding": "snappy" });
    calls.push(c);
    c.send(framed(first(), 1));
    expect(await c.status).toEqual({ code: GrpcStatus.UNIMPLEMENTED, details: 'Received message compressed with unsupported encoding "snappy"' });
  });

  it("ends the call with RESOURCE_EXHAUSTED for a request above the server's limit", async () => {
    const cache = new SnapshotCache();
    server = new XdsServer({ cache, views: new RecordingViews(), maxReceiveMessageBytes: 1000 });
    const port = await server.listen("127.0.0.1:0");
    const c = new RawCall(port);
    calls.push(c);
    c.send(prefix(0, 1001));
    expect(await c.status).toEqual({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: "Received message larger than max (1001 vs 1000)" });
  });

  it("finishes with OK when the proxy half-closes, and keeps grpc-timeout deadlines", async () => {
    h = await startHarness(sampleWorld());
    const ended = new RawCall(h.port);
    calls.push(ended);
    ended.send(framed(first()));
    ended.stream.end();
    expect((await ended.status).code).toBe(GrpcStatus.OK);

    const late = new RawCall(h.port, { "grpc-timeout": "200m" });
    calls.push(late);
    late.send(framed(first()));
    expect((await late.status).code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
  });
});
