// Writing a response to a gRPC stream without copying what it shares with other streams.
//
// A response is mostly bodies every proxy of a view shares (wire.ts) plus a few bytes of its own
// (the nonce). Joined into one buffer for grpc-js, which then copies it once more to put its
// 5-byte message header in front, a 2 MiB EDS response was copied twice per proxy: in a full sync
// of 200 proxies at 1000 services those copies (and the page faults of fresh multi-megabyte
// buffers) were the server's largest single cost. Here the header and the pieces go to the call's
// HTTP/2 stream as one gathered write, which sends its DATA frames from them by reference.
//
// That needs grpc-js' call object behind the ServerDuplexStream (grpc-base-call.ts). Where it is
// not found (another grpc-js, interceptors), the pieces are joined and written through grpc-js.
import { status as GrpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { grpcBaseCall } from "./grpc-base-call.js";
import { joined, type Pieces } from "./wire.js";

/** Writes one message; `done` once it was handed to the socket (as grpc-js' write callback). */
export interface PieceWriter {
  (message: Pieces, done: () => void): void;
  /** Whether pieces go to HTTP/2 as they are (false: joined and written through grpc-js). */
  readonly gathered: boolean;
}

/**
 * Pieces below this size are joined with their small neighbours (a copy of a few bytes), so that
 * a response of many small resources is not thousands of writes; larger ones go by reference.
 */
const SMALL = 16 * 1024;

/** The gRPC message header (uncompressed, length) and the message's pieces, small ones joined. */
export function framedPieces(message: Pieces): Uint8Array[] {
  if (allSmall(message)) return [framedWhole(message)];
  const header = Buffer.allocUnsafe(5);
  header[0] = 0;
  header.writeUInt32BE(message.length, 1);
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [header];
  let runLength = header.length;
  const flush = (): void => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(Buffer.concat(run, runLength));
    run = [];
    runLength = 0;
  };
  for (const c of message.chunks) {
    if (c.length === 0) continue;
    if (c.length < SMALL) {
      run.push(c);
      runLength += c.length;
    } else {
      flush();
      out.push(c);
    }
  }
  flush();
  return out;
}

function allSmall(message: Pieces): boolean {
  for (const c of message.chunks) if (c.length >= SMALL) return false;
  return true;
}

/** Header and pieces in one buffer: what framedPieces makes of a message of small pieces only (a change's response, usually). */
function framedWhole(message: Pieces): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  let at = 5;
  for (const c of message.chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** How to write messages of `call`: gathered when grpc-js' call object is found, else joined. */
export function pieceWriter(call: ServerDuplexStream<unknown, Uint8Array>): PieceWriter {
  const base = grpcBaseCall(call);
  if (!base) return Object.assign((message: Pieces, done: () => void) => void call.write(joined(message), done), { gathered: false });
  // A stream passes the same `done` to every write: its callback is made once, not per write.
  let doneOf: (() => void) | undefined;
  let written: (err?: Error | null) => void = () => {};
  const write = (message: Pieces, done: () => void): void => {
    // What grpc-js' sendMessage does around its one write, in its order.
    if (base.checkCancelled()) return;
    const max = base.maxSendMessageSize;
    if (max !== -1 && message.length > max) {
      base.sendStatus({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${message.length} vs. ${max})`, metadata: null });
      return;
    }
    base.maybeSendMetadata();
    const stream = base.stream;
    if (done !== doneOf) {
      doneOf = done;
      written = (err?: Error | null): void => {
        if (err) {
          base.sendStatus({ code: GrpcStatus.INTERNAL, details: "Internal server error", metadata: null });
          return;
        }
        base.callEventTracker?.addMessageSent();
        done();
      };
    }
    // Most responses of a change are one small joined buffer: corking it only adds a round of
    // the stream's buffering, once per stream.
    if (allSmall(message)) {
      stream.write(framedWhole(message), written);
      return;
    }
    const parts = framedPieces(message);
    stream.cork();
    for (let i = 0; i < parts.length - 1; i++) stream.write(parts[i]);
    stream.write(parts[parts.length - 1], written);
    stream.uncork();
  };
  return Object.assign(write, { gathered: true });
}
