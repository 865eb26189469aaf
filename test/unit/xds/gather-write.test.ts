// Responses written as pieces (src/xds/gather-write.ts) through a real grpc-js server and client
// on loopback: the message that arrives is the pieces joined, shared pieces go to HTTP/2 by
// reference (never copied per stream), and grpc-js' call object is found (else every response
// would silently fall back to joined copies).
import { Client, credentials, Server, ServerCredentials, type ServerDuplexStream, type ServiceDefinition } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { framedPieces, pieceWriter, type PieceWriter } from "../../../src/xds/gather-write.js";
import { joined, type Pieces } from "../../../src/xds/wire.js";

const PATH = "/test.Gather/Stream";
const definition = {
  Stream: {
    path: PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
} satisfies ServiceDefinition;

function piecesOf(...chunks: Uint8Array[]): Pieces {
  return { chunks, length: chunks.reduce((n, c) => n + c.length, 0) };
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** A server that answers each request with `messages` written by pieceWriter; the client collects what arrives. */
async function roundTrip(messages: readonly Pieces[]): Promise<{ received: Buffer[]; writer: PieceWriter }> {
  const server = new Server();
  let writer: PieceWriter | undefined;
  server.addService(definition, {
    Stream: (call: ServerDuplexStream<Buffer, Uint8Array>) => {
      writer = pieceWriter(call);
      call.once("data", () => {
        const next = (i: number): void => {
          if (i < messages.length) writer!(messages[i]!, () => next(i + 1));
          else call.end();
        };
        next(0);
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  stop = async () => {
    client.close();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  };
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(
    PATH,
    (b) => b,
    (b) => b,
  );
  const received: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    call.on("data", (b: Buffer) => received.push(b));
    call.on("error", reject);
    call.on("status", () => resolve());
    call.write(Buffer.from("go"));
  });
  return { received, writer: writer! };
}

describe("gathered response writes", () => {
  it("finds grpc-js' call and delivers each message as its pieces joined", async () => {
    const shared = bytes(300_000, 1);
    const messages = [
      piecesOf(Buffer.from([8, 1]), shared, Buffer.from([42, 2, 49, 50])),
      piecesOf(shared, new Uint8Array(0), Buffer.from("nonce")),
      piecesOf(Buffer.from("small only")),
      piecesOf(Buffer.from("small "), new Uint8Array(0), Buffer.from("pieces"), bytes(16_383, 6)),
      piecesOf(bytes(20_000, 2), bytes(40_000, 3), bytes(5, 4)),
    ];
    const { received, writer } = await roundTrip(messages);
    expect(writer.gathered).toBe(true);
    expect(received.map((b) => b.toString("hex"))).toEqual(messages.map((m) => joined(m).toString("hex")));
  });

  it("passes large pieces by reference and joins only runs of small ones", () => {
    const big = bytes(100_000, 5);
    const small = [Buffer.from("a"), Buffer.from("bc")];
    const parts = framedPieces(piecesOf(small[0]!, small[1]!, big, Buffer.from("tail")));
    expect(parts).toHaveLength(3);
    expect(parts[1]).toBe(big);
    // The gRPC message header (not compressed, the length) joined with the small pieces after it.
    expect(Buffer.from(parts[0]!)).toEqual(Buffer.concat([Buffer.from([0]), lengthOf(3 + big.length + 4), ...small]));
    expect(Buffer.from(parts[2]!).toString()).toBe("tail");
  });

  it("joins the pieces and writes through grpc-js where its call object is not found", () => {
    const wrote: Buffer[] = [];
    const stand = { write: (b: Buffer, cb: () => void) => (wrote.push(b), cb()) } as unknown as ServerDuplexStream<unknown, Uint8Array>;
    const writer = pieceWriter(stand);
    let done = false;
    writer(piecesOf(Buffer.from("ab"), Buffer.from("cd")), () => (done = true));
    expect(writer.gathered).toBe(false);
    expect(done).toBe(true);
    expect(wrote.map((b) => b.toString())).toEqual(["abcd"]);
  });
});

function lengthOf(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
