// gRPC on meshpilot's own HTTP/2 server (src/xds/h2-grpc-server.ts), against real clients: grpc-js
// (unary service written for grpc-js, status and percent-encoded messages, unknown methods) and
// node:http2 (deadlines, encodings, a reset in the middle of a big message, garbage on the socket).
import { Client, credentials, Metadata, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import http2 from "node:http2";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { grpcTimeoutMs, percentEncode, type H2GrpcCall } from "../../../src/xds/h2-grpc-call.js";
import { H2GrpcServer } from "../../../src/xds/h2-grpc-server.js";

let server: H2GrpcServer | undefined;
let client: Client | undefined;
let session: http2.ClientHttp2Session | undefined;
afterEach(async () => {
  client?.close();
  session?.destroy();
  await server?.close(100);
  server = client = session = undefined;
});

const echo = {
  Echo: {
    path: "/test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
} as const;

async function start(setup: (s: H2GrpcServer) => void): Promise<number> {
  server = new H2GrpcServer({ maxReceiveBytes: 1024 * 1024 });
  setup(server);
  return server.listen("127.0.0.1:0");
}

function unary(port: number, path: string, body: Buffer, md = new Metadata()): Promise<{ err: ServiceError | null; value?: Buffer }> {
  client ??= new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve) => {
    client!.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      md,
      (err, value) => resolve({ err, value }),
    );
  });
}

/** A raw HTTP/2 request: the trailers' grpc-status and grpc-message (undefined while none came). */
function raw(port: number, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<{ status?: string; message?: string }> {
  session ??= http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  return new Promise((resolve) => {
    const req = session!.request({ ":method": "POST", "content-type": "application/grpc", ...headers });
    let head: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => (head = h));
    req.on("trailers", (t) => resolve({ status: String(t["grpc-status"]), message: t["grpc-message"] as string }));
    req.on("end", () => resolve({ status: head["grpc-status"] as string, message: head["grpc-message"] as string }));
    req.on("error", () => resolve({}));
    req.resume();
    req.end(body);
  });
}

describe("gRPC over meshpilot's HTTP/2 server", () => {
  it("serves a unary service written for grpc-js, with its metadata, and says UNIMPLEMENTED for unknown methods", async () => {
    const port = await start((s) =>
      s.addUnaryService(echo, {
        Echo: (call: { request: Buffer; metadata: Metadata; getPeer(): string }, cb: (e: Error | null, v?: Buffer) => void) => {
          const who = call.metadata.get("authorization")[0];
          if (who !== "Bearer t") return cb(Object.assign(new Error("x"), { code: status.UNAUTHENTICATED, details: "no token ✗ 100%" }));
          cb(null, Buffer.concat([call.request, Buffer.from(`|${call.getPeer().startsWith("127.0.0.1:")}`)]));
        },
      }),
    );
    const md = new Metadata();
    md.set("authorization", "Bearer t");
    expect((await unary(port, "/test.Echo/Echo", Buffer.from("hi"), md)).value?.toString()).toBe("hi|true");
    const refused = await unary(port, "/test.Echo/Echo", Buffer.from("hi"));
    expect([refused.err?.code, refused.err?.details]).toEqual([status.UNAUTHENTICATED, "no token ✗ 100%"]);
    const unknown = await unary(port, "/test.Echo/Nope", Buffer.from("hi"));
    expect(unknown.err?.code).toBe(status.UNIMPLEMENTED);
  });

  it("ends a call at its grpc-timeout, and refuses a message compressed with an unknown encoding", async () => {
    const calls: H2GrpcCall[] = [];
    const port = await start((s) => s.route("/test.Echo/Stream", (call) => (calls.push(call), call.read({ message: () => {}, end: () => {} }))));
    expect(await raw(port, { ":path": "/test.Echo/Stream", "grpc-timeout": "20m" }, Buffer.alloc(0))).toEqual({
      status: String(status.DEADLINE_EXCEEDED),
      message: "Deadline exceeded",
    });
    const snappy = await raw(port, { ":path": "/test.Echo/Stream", "grpc-encoding": "snappy" }, Buffer.from([1, 0, 0, 0, 1, 7]));
    expect(snappy.status).toBe(String(status.UNIMPLEMENTED));
    expect(calls).toHaveLength(2);
  });

  it("survives a client's reset in the middle of a big message, and serves the connection's next stream", async () => {
    const gone: string[] = [];
    const port = await start((s) =>
      s.route("/test.Echo/Big", (call) => {
        call.onGone((why) => gone.push(why));
        call.read({ message: () => {}, end: () => {} });
        const big = Buffer.alloc(8 * 1024 * 1024, 1);
        call.write({ chunks: [big], length: big.length }, () => {});
      }),
    );
    session = http2.connect(`http://127.0.0.1:${port}`);
    const req = session.request({ ":method": "POST", ":path": "/test.Echo/Big", "content-type": "application/grpc" });
    await new Promise<void>((resolve) => req.once("data", () => resolve()));
    req.close(http2.constants.NGHTTP2_CANCEL);
    for (let i = 0; i < 100 && gone.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gone).toEqual(["cancelled by the client"]);
    expect((await raw(port, { ":path": "/test.Echo/Unknown" }, Buffer.alloc(0))).status).toBe(String(status.UNIMPLEMENTED));
  });

  it("answers garbage on a connection with GOAWAY and goes on serving others", async () => {
    const port = await start((s) => s.addUnaryService(echo, { Echo: (call: { request: Buffer }, cb: (e: null, v: Buffer) => void) => cb(null, call.request) }));
    const answer = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = net.connect(port, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      s.on("data", (b: Buffer) => chunks.push(b));
      s.on("error", () => {});
      s.on("close", () => resolve(Buffer.concat(chunks)));
    });
    // Our SETTINGS, then GOAWAY (type 7) with PROTOCOL_ERROR.
    const frames: number[] = [];
    for (let pos = 0; pos + 9 <= answer.length; pos += 9 + answer.readUIntBE(pos, 3)) frames.push(answer[pos + 3]!);
    expect(frames).toContain(7);
    expect((await unary(port, "/test.Echo/Echo", Buffer.from("still here"))).value?.toString()).toBe("still here");
  });
});

describe("the secure port's credentials", () => {
  it("refuses credentials whose TLS options it cannot read, rather than serving plaintext", () => {
    expect(() => new H2GrpcServer({ maxReceiveBytes: 1024, credentials: ServerCredentials.createInsecure() })).toThrow(
      /TLS credentials' options cannot be read/,
    );
    expect(() => new H2GrpcServer({ maxReceiveBytes: 1024, credentials: {} as ServerCredentials })).toThrow(/secure port is not served/);
  });
});

describe("gRPC header values", () => {
  it("reads grpc-timeout units and percent-encodes grpc-message", () => {
    expect([grpcTimeoutMs("5S"), grpcTimeoutMs("100m"), grpcTimeoutMs("2M"), grpcTimeoutMs("1H"), grpcTimeoutMs("x"), grpcTimeoutMs("123456789S")]).toEqual([
      5000,
      100,
      120_000,
      3_600_000,
      undefined,
      undefined,
    ]);
    expect(percentEncode("a b%c\n✓")).toBe("a b%25c%0A%E2%9C%93");
  });
});
