// wire-fanout.ts' floor (WIRE_FANOUT_BARE=1): a bare node:http2 server in place of the XdsServer.
// Each stream is answered with the gRPC response headers; a change writes every stream one framed
// message (the change's shared bytes and a nonce of the stream's own), 10 ms of streams per turn
// of the event loop, and each ACK is only counted. What this costs per stream per change is what
// Node's HTTP/2 and the kernel take for a response and its ACK; the XdsServer's figure above it
// is the server's own work.
import http2, { type ServerHttp2Stream } from "node:http2";

const SLICE_MS = 10;

export interface BareServer {
  readonly port: number;
  /** Write `body` with a nonce of each stream's own to every stream, in slices; `written` once per stream. */
  push(body: Uint8Array, written: () => void): void;
  close(): Promise<void>;
}

interface Open {
  readonly stream: ServerHttp2Stream;
  nonces: number;
}

/** A gRPC message: the nonce field (DeltaDiscoveryResponse.nonce = 5) after the shared bytes. */
function framed(body: Uint8Array, nonce: string): Buffer {
  const n = body.length + 2 + nonce.length;
  const b = Buffer.allocUnsafe(5 + n);
  b[0] = 0;
  b.writeUInt32BE(n, 1);
  b.set(body, 5);
  b[5 + body.length] = (5 << 3) | 2;
  b[6 + body.length] = nonce.length;
  b.write(nonce, 7 + body.length, "latin1");
  return b;
}

export async function bareServer(firstBody: Uint8Array): Promise<BareServer> {
  const open: Open[] = [];
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" });
    const o: Open = { stream, nonces: 0 };
    let first = true;
    stream.on("data", () => {
      if (!first) return;
      first = false;
      open.push(o);
      stream.write(framed(firstBody, (++o.nonces).toString(36)));
    });
    stream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("bare server: no port");
  return {
    port: address.port,
    push(body, written) {
      let i = 0;
      const turn = (): void => {
        const start = performance.now();
        for (; i < open.length && performance.now() - start < SLICE_MS; i++) {
          const o = open[i]!;
          o.stream.write(framed(body, (++o.nonces).toString(36)), written);
        }
        if (i < open.length) setImmediate(turn);
      };
      setImmediate(turn);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const o of open) o.stream.close();
        server.close(() => resolve());
      }),
  };
}
