// The load clients' own HTTP/2 and gRPC client (src/loadgen/h2-connection.ts, grpc-call.ts)
// against a plain @grpc/grpc-js server: headers and metadata, trailers, status codes and their
// messages, trailers-only responses, messages split over many DATA frames, and flow control both
// ways with messages bigger than the windows. Plus HPACK decoding against RFC 7541's examples.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcChannel } from "../../../src/loadgen/grpc-call.js";
import { HpackDecoder, huffmanDecode } from "../../../src/h2/hpack.js";

const raw = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
const method = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});

let server: grpc.Server;
let address = "";
const seenMetadata: Record<string, string>[] = [];

beforeAll(async () => {
  server = new grpc.Server();
  server.addService({ echo: method("/t.T/Echo"), fail: method("/t.T/Fail"), big: method("/t.T/Big") }, {
    // Echoes each message; a message "end" ends the stream with OK.
    echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      seenMetadata.push(Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)])));
      call.on("data", (b: Buffer) => (b.toString() === "end" ? call.end() : call.write(b)));
    },
    // Fails with NOT_FOUND and a message that needs percent-encoding, after one message.
    fail: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.write(Buffer.from("before"));
      call.on("data", () => call.emit("error", { code: grpc.status.NOT_FOUND, details: "no such thing: ü 100%" }));
    },
    // Answers with one message of the size asked (4 bytes, big-endian), bytes i % 251.
    big: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on("data", (b: Buffer) => {
        const n = b.readUInt32BE(0);
        call.write(Buffer.from(Array.from({ length: n }, (_, i) => i % 251)));
      });
    },
  } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});
afterAll(() => server.forceShutdown());

interface Outcome {
  messages: Buffer[];
  status: Promise<{ code: number; details: string }>;
}

function open(ch: GrpcChannel, path: string, onMessage?: (b: Buffer, o: Outcome) => void): { call: ReturnType<GrpcChannel["call"]>; o: Outcome } {
  let done!: (s: { code: number; details: string }) => void;
  const o: Outcome = { messages: [], status: new Promise((r) => (done = r)) };
  const call = ch.call(
    path,
    { "x-test": "yes" },
    {
      // The view is valid only during the call: keep a copy.
      message: (b) => {
        o.messages.push(Buffer.from(b));
        onMessage?.(b, o);
      },
      status: (code, details) => done({ code, details }),
    },
  );
  return { call, o };
}

describe("the load clients' HTTP/2 gRPC client against grpc-js", () => {
  it("sends metadata, gets messages back in order, and the OK status from the trailers", async () => {
    const ch = new GrpcChannel({ address, window: 256 * 1024 * 1024 });
    const { call, o } = open(ch, "/t.T/Echo");
    for (const m of ["one", "", "three"]) call.write(Buffer.from(m));
    call.write(Buffer.from("end"));
    expect((await o.status).code).toBe(0);
    expect(o.messages.map(String)).toEqual(["one", "", "three"]);
    expect(seenMetadata.at(-1)).toMatchObject({ "x-test": "yes", "user-agent": expect.stringContaining("meshpilot-loadgen") });
    ch.close();
  });

  it("reports a server's error status with its percent-decoded message, after the messages before it", async () => {
    const ch = new GrpcChannel({ address, window: 256 * 1024 * 1024 });
    const { call, o } = open(ch, "/t.T/Fail");
    call.write(Buffer.from("x"));
    expect(await o.status).toEqual({ code: grpc.status.NOT_FOUND, details: "no such thing: ü 100%" });
    expect(o.messages.map(String)).toEqual(["before"]);
    ch.close();
  });

  it("reads a trailers-only response (an unknown method)", async () => {
    const ch = new GrpcChannel({ address, window: 256 * 1024 * 1024 });
    const { call, o } = open(ch, "/t.T/Nope");
    call.write(Buffer.from("x"));
    expect((await o.status).code).toBe(grpc.status.UNIMPLEMENTED);
    ch.close();
  });

  it("takes messages split over many DATA frames, bigger than its windows, and sends one bigger than the server's", async () => {
    // A 64 KiB window (HTTP/2's default): 3 MB only arrives if the client returns window as it reads.
    const ch = new GrpcChannel({ address, window: 65_535 });
    const sizes = [70_000, 3_000_000, 1];
    const { call, o } = open(ch, "/t.T/Big", (_, out) => {
      if (out.messages.length === sizes.length) call.cancel();
    });
    for (const n of sizes) {
      const ask = Buffer.alloc(4);
      ask.writeUInt32BE(n);
      call.write(ask);
    }
    const deadline = Date.now() + 20_000;
    while (o.messages.length < sizes.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(o.messages.map((m) => m.length)).toEqual(sizes);
    for (const m of o.messages) expect(m.every((b, i) => b === i % 251)).toBe(true);
    // Echo of a 1 MB request: the server's stream window is 64 KiB, so it goes out as the server returns window.
    const echo = open(ch, "/t.T/Echo");
    const big = Buffer.alloc(1_000_000, 7);
    echo.call.write(big);
    echo.call.write(Buffer.from("end"));
    expect((await echo.o.status).code).toBe(0);
    expect(echo.o.messages).toHaveLength(1);
    expect(echo.o.messages[0]!.equals(big)).toBe(true);
    ch.close();
  });

  it("finishes a stream open when the server goes away (GOAWAY), and the next call fails to connect", async () => {
    const own = new grpc.Server();
    own.addService({ echo: method("/t.T/Echo") }, {
      echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => call.on("data", (b: Buffer) => (b.toString() === "end" ? call.end() : call.write(b))),
    } as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      own.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const ch = new GrpcChannel({ address: `127.0.0.1:${port}`, window: 65_535 });
    const { call, o } = open(ch, "/t.T/Echo", (b) => {
      if (b.toString() === "first") own.tryShutdown(() => {});
      else if (b.toString() === "second") call.write(Buffer.from("end"));
    });
    call.write(Buffer.from("first"));
    const deadline = Date.now() + 10_000;
    while (o.messages.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    call.write(Buffer.from("second"));
    expect((await o.status).code).toBe(0);
    expect(o.messages.map(String)).toEqual(["first", "second"]);
    const next = open(ch, "/t.T/Echo");
    expect((await next.o.status).code).toBe(grpc.status.UNAVAILABLE);
    ch.close();
  });

  it("fails the stream with UNAVAILABLE when nothing listens", async () => {
    const ch = new GrpcChannel({ address: "127.0.0.1:1", window: 65_535 });
    const { o } = open(ch, "/t.T/Echo");
    expect((await o.status).code).toBe(grpc.status.UNAVAILABLE);
    ch.close();
  });
});

describe("HPACK decoding (RFC 7541 Appendix C)", () => {
  const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ""), "hex");

  it("decodes Huffman strings", () => {
    expect(huffmanDecode(hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), 0, 12)).toBe("www.example.com");
    expect(huffmanDecode(hex("a8eb 1064 9cbf"), 0, 6)).toBe("no-cache");
    expect(() => huffmanDecode(hex("f1e3 c2e5 f23a 6ba0 ab90 f400"), 0, 12)).toThrow(/padding/);
  });

  it("decodes a sequence of requests with the dynamic table (C.3, C.4)", () => {
    const plain = new HpackDecoder();
    expect(plain.decode(hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ]);
    expect(plain.decode(hex("8286 84be 5808 6e6f 2d63 6163 6865"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ]);
    const huff = new HpackDecoder();
    huff.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
    expect(huff.decode(hex("8286 84be 5886 a8eb 1064 9cbf"))).toContainEqual(["cache-control", "no-cache"]);
    expect(huff.decode(hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"))).toEqual([
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  });

  it("evicts entries when the table is full (C.5, a 256-byte table)", () => {
    const d = new HpackDecoder(256);
    d.decode(
      hex(
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      ),
    );
    // 307 replaces 302: the oldest entry (":status: 302") is gone, 62 is now ":status: 307".
    expect(d.decode(hex("4803 3330 37c1 c0bf"))).toEqual([
      [":status", "307"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"],
    ]);
  });
});
