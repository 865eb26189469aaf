// Reading an ADS call's requests straight from its HTTP/2 stream (see grpc-base-call.ts).
//
// Every push to a thousand streams is answered by a thousand ACKs. For each, grpc-js built a trace
// string (tracing on or off), paused and resumed the HTTP/2 stream, decompressed through a promise
// (a microtask turn, identity or not) and pushed the message through an object-mode Readable:
// about as much server CPU per ACK as meshpilot's whole handling of it. Here a request that came
// in one DATA chunk is handed on as a view of that chunk, one split over chunks is gathered once.
//
// What gRPC asks of the reader is kept: the length prefix; a message longer than the call's
// maximum ends the call with RESOURCE_EXHAUSTED; a compressed message is decoded with the call's
// grpc-encoding (gzip, deflate; any other is refused with UNIMPLEMENTED); nothing is handed on
// once the call is cancelled or ended; the peer's half-close is reported.
import { status as GrpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { gunzipSync, inflateSync } from "node:zlib";
import { grpcBaseCall } from "./grpc-base-call.js";
import { Deframer } from "./grpc-deframer.js";

/** Why a call's requests cannot be read further: the status the call ends with. */
export interface ReadFailure {
  readonly code: GrpcStatus;
  readonly details: string;
}

function decompress(body: Buffer, encoding: string, maxBytes: number): Buffer | ReadFailure {
  if (encoding === "identity") return body;
  if (encoding !== "gzip" && encoding !== "deflate")
    return { code: GrpcStatus.UNIMPLEMENTED, details: `Received message compressed with unsupported encoding "${encoding}"` };
  // Synchronous: requests arrive in order and are handled in order; ADS requests are small, and
  // Envoy sends them uncompressed.
  const options = maxBytes >= 0 ? { maxOutputLength: Math.max(1, maxBytes) } : {};
  try {
    const out = encoding === "gzip" ? gunzipSync(body, options) : inflateSync(body, options);
    if (maxBytes >= 0 && out.length > maxBytes)
      return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${maxBytes}` };
    return out;
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE")
      return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${maxBytes}` };
    return { code: GrpcStatus.INTERNAL, details: "Failed to decompress message" };
  }
}

/** A call's requests out of its DATA chunks: framed, limited to the call's maximum, decompressed. */
export function requestDeframer(maxBytes: number, encoding: string, onMessage: (raw: Buffer) => void): Deframer<ReadFailure> {
  return new Deframer<ReadFailure>(
    (body, compressed) => {
      const raw = compressed ? decompress(body, encoding, maxBytes) : body;
      if (!Buffer.isBuffer(raw)) return raw;
      onMessage(raw);
      return undefined;
    },
    {
      maxBytes,
      refuse: (length) => ({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${maxBytes})` }),
    },
  );
}

export interface RequestSink {
  /** One request, undecoded (a view into the chunk it came in, when it came whole). */
  message(raw: Uint8Array): void;
  /** The peer half-closed the stream: no more requests. */
  end(): void;
}

/**
 * Read `call`'s requests from its HTTP/2 stream into `sink`, in place of grpc-js' reading. False
 * when grpc-js' call object is not found (or not as expected): then read the call as a stream.
 */
export function readRequests(call: ServerDuplexStream<unknown, unknown>, sink: RequestSink): boolean {
  const base = grpcBaseCall(call);
  if (!base) return false;
  const stream = base.stream;
  // grpc-js' own reader is the one listener for data: the stream is paused until the call is read.
  const theirs = stream.listeners("data");
  if (theirs.length !== 1) return false;
  stream.removeListener("data", theirs[0] as (chunk: Buffer) => void);
  // Checked once per chunk, and again before each further message of one: handling a request may end the call.
  let later = false;
  const deframer = requestDeframer(base.maxReceiveMessageSize, base.incomingEncoding, (raw) => {
    if (later && base.checkCancelled()) return;
    later = true;
    base.callEventTracker?.addMessageReceived();
    sink.message(raw);
  });
  let failed = false;
  stream.on("data", (chunk: Buffer) => {
    if (failed || base.checkCancelled()) return;
    later = false;
    const why = deframer.push(chunk);
    if (!why) return;
    failed = true; // the deframer lost its place: nothing after this is a message
    base.sendStatus({ code: why.code, details: why.details, metadata: null });
  });
  stream.on("end", () => {
    if (!base.checkCancelled()) sink.end();
  });
  stream.resume();
  return true;
}
