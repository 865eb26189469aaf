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

/** Why a call's requests cannot be read further: the status the call ends with. */
export interface ReadFailure {
  readonly code: GrpcStatus;
  readonly details: string;
}

const PREFIX_BYTES = 5;

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

/** gRPC length-prefixed messages out of a stream's DATA chunks. */
export class RequestDeframer {
  /** The current message's prefix, while it is split over chunks. */
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixHave = 0;
  private compressed = false;
  /** The current message's length once its prefix is read; -1 before. */
  private need = -1;
  /** The current message's parts, while it is split over chunks. */
  private parts: Buffer[] = [];
  private have = 0;

  constructor(
    /** The longest message taken (-1: any). */
    private readonly maxBytes: number,
    /** The call's grpc-encoding, for messages flagged as compressed. */
    private readonly encoding: string,
    private readonly onMessage: (raw: Buffer) => void,
  ) {}

  /** Hand on every message `chunk` completes; a failure ends the reading (the call is to end with it). */
  push(chunk: Buffer): ReadFailure | undefined {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.need < 0) {
        if (this.prefixHave === 0 && chunk.length - pos >= PREFIX_BYTES) {
          this.compressed = chunk[pos] === 1;
          this.need = chunk.readUInt32BE(pos + 1);
          pos += PREFIX_BYTES;
        } else {
          const n = Math.min(PREFIX_BYTES - this.prefixHave, chunk.length - pos);
          chunk.copy(this.prefix, this.prefixHave, pos, pos + n);
          this.prefixHave += n;
          pos += n;
          if (this.prefixHave < PREFIX_BYTES) return undefined;
          this.prefixHave = 0;
          this.compressed = this.prefix[0] === 1;
          this.need = this.prefix.readUInt32BE(1);
        }
        if (this.maxBytes >= 0 && this.need > this.maxBytes)
          return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: `Received message larger than max (${this.need} vs ${this.maxBytes})` };
      }
      let body: Buffer;
      if (this.have === 0 && chunk.length - pos >= this.need) {
        body = chunk.subarray(pos, pos + this.need);
        pos += this.need;
      } else {
        const n = Math.min(this.need - this.have, chunk.length - pos);
        this.parts.push(chunk.subarray(pos, pos + n));
        this.have += n;
        pos += n;
        if (this.have < this.need) return undefined;
        body = Buffer.concat(this.parts, this.need);
        this.parts = [];
        this.have = 0;
      }
      this.need = -1;
      const raw = this.compressed ? decompress(body, this.encoding, this.maxBytes) : body;
      if (!Buffer.isBuffer(raw)) return raw;
      this.onMessage(raw);
    }
    return undefined;
  }
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
  const deframer = new RequestDeframer(base.maxReceiveMessageSize, base.incomingEncoding, (raw) => {
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
