// meshpilot's HTTP/2 server connection (src/h2/server-connection.ts), fed bytes directly: a real
// client's bytes (node:http2, whose HPACK uses the dynamic table and Huffman) cut at every byte
// boundary, flow control both ways, and malformed input, which must end in GOAWAY, never a throw.
import http2 from "node:http2";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { END_HEADERS, END_STREAM, frameBytes, H2, PREFACE, Setting, Type } from "../../../src/h2/frames.js";
import { encodeHeaders } from "../../../src/h2/hpack.js";
import { ServerConnection, type HeaderFields, type ServerStream } from "../../../src/h2/server-connection.js";
import { FakeSocket, type Frame } from "./fake-socket.js";

interface Seen {
  readonly id: number;
  readonly headers: Record<string, string>;
  data: string;
  ended: boolean;
}

/** A connection on a fake socket that records every stream's headers, data and end. */
function recording(handle = true): { sock: FakeSocket; conn: ServerConnection; seen: Seen[]; streams: ServerStream[] } {
  const sock = new FakeSocket();
  const seen: Seen[] = [];
  const streams: ServerStream[] = [];
  const conn = new ServerConnection(sock.asSocket(), {
    onStream(s: ServerStream, h: HeaderFields) {
      const rec: Seen = { id: s.id, headers: Object.fromEntries(h), data: "", ended: false };
      seen.push(rec);
      streams.push(s);
      if (handle)
        s.handler = {
          data: (b) => void (rec.data += b.toString("hex")),
          end: () => void (rec.ended = true),
          aborted: () => {},
        };
    },
  });
  return { sock, conn, seen, streams };
}

function settings(pairs: [number, number][]): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([k, v], i) => {
    p.writeUInt16BE(k, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frameBytes(Type.SETTINGS, 0, 0, p);
}

const REQUEST: [string, string][] = [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/svc/Method"],
  [":authority", "x"],
  ["content-type", "application/grpc"],
];

function windowUpdate(id: number, n: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(n);
  return frameBytes(Type.WINDOW_UPDATE, 0, id, p);
}

/** What node:http2's client sends for three POSTs with the same headers (one connection). */
async function realClientBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => s.on("data", (b: Buffer) => chunks.push(b)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  client.on("error", () => {});
  for (let i = 0; i < 3; i++) {
    const req = client.request({
      ":method": "POST",
      ":path": "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources",
      "content-type": "application/grpc",
      "x-envoy-peer-metadata": "a fairly long value that is worth indexing and compressing",
      "x-index": String(i),
    });
    req.on("error", () => {});
    req.end(Buffer.from([0, 0, 0, 0, 3, 10 + i, 20 + i, 30 + i]));
  }
  // Until the third stream's DATA with END_STREAM is in.
  for (let i = 0; i < 200; i++) {
    const b = Buffer.concat(chunks);
    if (framesOf(b.subarray(PREFACE.length)).some((f) => f.id === 5 && f.type === Type.DATA && (f.flags & END_STREAM) !== 0)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  client.destroy();
  server.close();
  return Buffer.concat(chunks);
}

function framesOf(all: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let pos = 0; all.length - pos >= 9;) {
    const len = all.readUIntBE(pos, 3);
    if (all.length - pos < 9 + len) break;
    out.push({ type: all[pos + 3]!, flags: all[pos + 4]!, id: all.readUInt32BE(pos + 5) & 0x7fffffff, payload: all.subarray(pos + 9, pos + 9 + len) });
    pos += 9 + len;
  }
  return out;
}

describe("reading frames", () => {
  it("reads a real client's streams the same however its bytes are cut (HPACK dynamic table and Huffman)", async () => {
    const bytes = await realClientBytes();
    const headerBlocks = framesOf(bytes.subarray(PREFACE.length)).filter((f) => f.type === Type.HEADERS);
    expect(headerBlocks.map((f) => f.id)).toEqual([1, 3, 5]);
    // The later requests refer to the first one's fields in the dynamic table: their blocks are shorter.
    expect(headerBlocks[1]!.payload.length).toBeLessThan(headerBlocks[0]!.payload.length / 2);

    const whole = recording();
    whole.sock.send(bytes);
    expect(whole.seen.map((s) => [s.id, s.headers["x-index"], s.headers["x-envoy-peer-metadata"], s.data, s.ended])).toEqual(
      [0, 1, 2].map((i) => [
        2 * i + 1,
        String(i),
        "a fairly long value that is worth indexing and compressing",
        Buffer.from([0, 0, 0, 0, 3, 10 + i, 20 + i, 30 + i]).toString("hex"),
        true,
      ]),
    );
    expect(whole.sock.frames().filter((f) => f.type === Type.GOAWAY)).toEqual([]);

    for (let cut = 1; cut < bytes.length; cut++) {
      const r = recording();
      r.sock.send(bytes.subarray(0, cut));
      r.sock.send(bytes.subarray(cut));
      expect(r.seen, `cut at ${cut}`).toEqual(whole.seen);
    }
    const bytewise = recording();
    for (let i = 0; i < bytes.length; i++) bytewise.sock.send(bytes.subarray(i, i + 1));
    expect(bytewise.seen).toEqual(whole.seen);
  });

  it("answers SETTINGS and PING, and gives the window back as DATA is taken", () => {
    const { sock, seen, streams } = recording(false);
    sock.send(Buffer.concat([PREFACE, settings([]), frameBytes(Type.PING, 0, 0, Buffer.from("12345678"))]));
    const first = sock.frames();
    expect(first.some((f) => f.type === Type.SETTINGS && f.flags === 1)).toBe(true);
    expect(first.find((f) => f.type === Type.PING)?.payload.toString()).toBe("12345678");
    sock.send(frameBytes(Type.HEADERS, END_HEADERS, 1, encodeHeaders(REQUEST)));
    expect(seen).toHaveLength(1);
    // 600 KiB in, not taken yet (no handler): no stream window given back.
    const chunk = Buffer.alloc(16_384, 1);
    for (let i = 0; i < 40; i++) sock.send(frameBytes(Type.DATA, 0, 1, chunk));
    expect(sock.frames().filter((f) => f.type === Type.WINDOW_UPDATE && f.id === 1)).toEqual([]);
    let taken = 0;
    streams[0]!.handler = { data: (b) => void (taken += b.length), end: () => {}, aborted: () => {} };
    expect(taken).toBe(40 * 16_384);
    const updates = sock.frames().filter((f) => f.type === Type.WINDOW_UPDATE && f.id === 1);
    // Given back in steps of half the window (1 MiB): 512 KiB of the 640 taken.
    expect(updates.reduce((n, f) => n + f.payload.readUInt32BE(0), 0)).toBe(512 * 1024);
  });
});

describe("writing", () => {
  function openStream(peerSettings: [number, number][]): { sock: FakeSocket; stream: ServerStream } {
    const { sock, streams } = recording();
    sock.send(Buffer.concat([PREFACE, settings(peerSettings), frameBytes(Type.HEADERS, END_HEADERS, 1, encodeHeaders(REQUEST))]));
    sock.frames();
    return { sock, stream: streams[0]! };
  }
  const dataBytes = (fs: Frame[]): number => fs.filter((f) => f.type === Type.DATA).reduce((n, f) => n + f.payload.length, 0);

  it("writes headers, frame header, message prefix and payload in one socket write", () => {
    const { sock, stream } = openStream([]);
    const before = sock.writes;
    stream.writeMessage([Buffer.from("abc"), Buffer.from("defg")], 7);
    expect(sock.writes - before).toBe(1);
    const fs = sock.frames();
    expect(fs.map((f) => f.type)).toEqual([Type.HEADERS, Type.DATA]);
    expect(fs[1]!.payload).toEqual(Buffer.from([0, 0, 0, 0, 7, ...Buffer.from("abcdefg")]));
    stream.writeMessage([Buffer.from("x")], 1);
    expect(sock.writes - before).toBe(2);
    expect(sock.frames().map((f) => f.type)).toEqual([Type.DATA]);
  });

  it("frames a message the windows take whole into one write, its pieces cut where frames end", async () => {
    const { sock, stream } = openStream([]);
    const pieces = Array.from({ length: 6 }, (_, i) => Buffer.alloc(6_000, i + 1));
    let done = 0;
    const before = sock.writes;
    stream.writeMessage(pieces, 36_000, () => done++);
    stream.writeMessage([Buffer.from("after")], 5, () => done++);
    expect(sock.writes - before).toBe(2);
    const fs = sock.frames();
    expect(fs.map((f) => [f.type, f.payload.length])).toEqual([
      [Type.HEADERS, 4 + "application/grpc".length],
      [Type.DATA, 16_384],
      [Type.DATA, 16_384],
      [Type.DATA, 36_005 - 2 * 16_384],
      [Type.DATA, 10],
    ]);
    const body = Buffer.concat(fs.filter((f) => f.type === Type.DATA).map((f) => f.payload));
    expect(body.equals(Buffer.concat([Buffer.from([0, 0, 0, 0x8c, 0xa0]), ...pieces, Buffer.from([0, 0, 0, 0, 5]), Buffer.from("after")]))).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(2);
  });

  it("writes a big message of many small pieces in a few writes, big pieces by reference, bytes in order", () => {
    const { sock, stream } = openStream([[Setting.INITIAL_WINDOW_SIZE, 1 << 22]]);
    sock.send(windowUpdate(0, 1 << 22));
    sock.frames();
    const pieces = [
      ...Array.from({ length: 2000 }, (_, i) => Buffer.alloc(100, i & 0xff)),
      Buffer.alloc(100_000, 0xab),
      ...Array.from({ length: 500 }, (_, i) => Buffer.alloc(37, i & 0xff)),
    ];
    const length = pieces.reduce((n, p) => n + p.length, 0);
    const before = sock.writes;
    stream.writeMessage(pieces, length);
    expect(sock.writes - before).toBeLessThan(20);
    const fs = sock.frames();
    expect(Math.max(...fs.map((f) => f.payload.length))).toBe(16_384);
    const body = Buffer.concat(fs.filter((f) => f.type === Type.DATA).map((f) => f.payload));
    expect(body.equals(Buffer.concat([Buffer.from([0, ...[24, 16, 8, 0].map((sh) => (length >>> sh) & 0xff)]), ...pieces]))).toBe(true);
  });

  it("stages a big message's frame headers in a small buffer when its pieces go by reference", () => {
    const { sock, stream } = openStream([[Setting.INITIAL_WINDOW_SIZE, 1 << 22]]);
    sock.send(windowUpdate(0, 1 << 22));
    sock.frames();
    const pieces = [Buffer.alloc(300_000, 1), Buffer.alloc(40, 2), Buffer.alloc(700_000, 3)];
    const before = sock.writes;
    stream.writeMessage(pieces, 1_000_040);
    const own = new Set<ArrayBufferLike>(pieces.map((p) => p.buffer));
    const staging = new Set(sock.backing.slice(before).filter((b) => !own.has(b)));
    // 62 frame headers, the message prefix and 40 bytes: one staging buffer, not 64 KiB.
    expect([...staging].reduce((n, b) => n + b.byteLength, 0)).toBeLessThanOrEqual(8 * 1024);
    const body = Buffer.concat(
      sock
        .frames()
        .filter((f) => f.type === Type.DATA)
        .map((f) => f.payload),
    );
    expect(body.subarray(5).equals(Buffer.concat(pieces))).toBe(true);
  });

  it("stalls on the stream's window and resumes on WINDOW_UPDATE; done once the last byte is out", async () => {
    const { sock, stream } = openStream([[Setting.INITIAL_WINDOW_SIZE, 10]]);
    let done = 0;
    stream.writeMessage([Buffer.alloc(100, 7)], 100, () => done++);
    stream.end(encodeHeaders([["grpc-status", "0"]]));
    expect(dataBytes(sock.frames())).toBe(10);
    await Promise.resolve();
    expect(done).toBe(0);
    sock.send(windowUpdate(1, 50));
    expect(dataBytes(sock.frames())).toBe(50);
    sock.send(windowUpdate(1, 1000));
    const last = sock.frames();
    expect(dataBytes(last)).toBe(45);
    // Trailers after the data.
    expect(last.at(-2)?.type).toBe(Type.HEADERS);
    expect((last.at(-2)!.flags & END_STREAM) !== 0).toBe(true);
    await Promise.resolve();
    expect(done).toBe(1);
  });

  it("stalls on the connection's window, resumes on its WINDOW_UPDATE, and keeps to the peer's MAX_FRAME_SIZE", () => {
    const { sock, stream } = openStream([
      [Setting.INITIAL_WINDOW_SIZE, 1 << 20],
      [Setting.MAX_FRAME_SIZE, 20_000],
    ]);
    stream.writeMessage([Buffer.alloc(100_000, 1)], 100_000);
    const first = sock.frames();
    expect(dataBytes(first)).toBe(65_535);
    expect(Math.max(...first.filter((f) => f.type === Type.DATA).map((f) => f.payload.length))).toBe(20_000);
    sock.send(windowUpdate(0, 100_000));
    expect(dataBytes(sock.frames())).toBe(100_005 - 65_535);
  });
});

describe("bad input", () => {
  const goaway = (fs: Frame[]): number | undefined => fs.find((f) => f.type === Type.GOAWAY)?.payload.readUInt32BE(4);

  it("answers a bad preface with GOAWAY and closes", () => {
    const { sock, conn } = recording();
    sock.send(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    expect(goaway(sock.frames())).toBe(H2.PROTOCOL_ERROR);
    expect(conn.destroyed).toBe(true);
  });

  it.each([
    ["a frame above MAX_FRAME_SIZE", () => frameBytes(Type.DATA, 0, 1, Buffer.alloc(20_000)), H2.FRAME_SIZE_ERROR],
    [
      "a header block HPACK cannot decode",
      () => frameBytes(Type.HEADERS, END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
      H2.COMPRESSION_ERROR,
    ],
    ["DATA on an idle stream", () => frameBytes(Type.DATA, 0, 7, Buffer.from("x")), H2.PROTOCOL_ERROR],
    ["HEADERS on an even stream", () => frameBytes(Type.HEADERS, END_HEADERS, 2, encodeHeaders(REQUEST)), H2.PROTOCOL_ERROR],
    ["a PING of the wrong length", () => frameBytes(Type.PING, 0, 0, Buffer.from("123")), H2.FRAME_SIZE_ERROR],
    ["a window above 2^31-1", () => windowUpdate(0, 2 ** 31 - 1), H2.FLOW_CONTROL_ERROR],
    ["random bytes", () => Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff)), undefined],
  ])("answers %s with GOAWAY, never a throw", (_what, bytes, code) => {
    const { sock, conn } = recording();
    sock.send(Buffer.concat([PREFACE, settings([])]));
    expect(() => sock.send(bytes())).not.toThrow();
    const c = goaway(sock.frames());
    if (code !== undefined) expect(c).toBe(code);
    else expect(c).toBeGreaterThan(0);
    expect(conn.destroyed).toBe(true);
  });

  it("refuses streams above its maximum and after GOAWAY", () => {
    const sock = new FakeSocket();
    const conn = new ServerConnection(sock.asSocket(), { onStream: () => {}, maxConcurrentStreams: 1 });
    sock.send(Buffer.concat([PREFACE, settings([]), frameBytes(Type.HEADERS, END_HEADERS, 1, encodeHeaders(REQUEST))]));
    sock.send(frameBytes(Type.HEADERS, END_HEADERS, 3, encodeHeaders(REQUEST)));
    expect(
      sock
        .frames()
        .filter((f) => f.type === Type.RST_STREAM)
        .map((f) => [f.id, f.payload.readUInt32BE(0)]),
    ).toEqual([[3, H2.REFUSED_STREAM]]);
    conn.close();
    sock.send(frameBytes(Type.HEADERS, END_HEADERS, 5, encodeHeaders(REQUEST)));
    expect(
      sock
        .frames()
        .filter((f) => f.type === Type.RST_STREAM)
        .map((f) => f.id),
    ).toEqual([5]);
  });
});
