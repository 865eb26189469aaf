// What an xDS stream (connection.ts) needs of its gRPC call, whichever transport carries it:
// grpc-js (the call object, read and written around grpc-js where it is found) or meshpilot's own
// HTTP/2 server (h2-grpc-call.ts).
import type { ServerDuplexStream, status as GrpcStatus } from "@grpc/grpc-js";
import { pieceWriter, type PieceWriter } from "./gather-write.js";
import { readRequests, type RequestSink } from "./request-reader.js";

export interface AdsCall {
  /** The peer's address ("ip:port"). */
  getPeer(): string;
  /** Writes one response; `done` once it was handed to the socket. */
  readonly write: PieceWriter;
  /** Hand every request (undecoded) and the peer's half-close to `sink`, from now on. */
  read(sink: RequestSink): void;
  /** `hook(reason)` once the call is over other than by our end(): an error status sent, a reset, a lost connection. */
  onGone(hook: (reason: string) => void): void;
  /** End the call with an error status. */
  fail(code: GrpcStatus, details: string): void;
  /** End the call with OK. */
  end(): void;
}

/** A grpc-js server call as an AdsCall. */
export function grpcJsAdsCall(call: ServerDuplexStream<Uint8Array, Uint8Array>): AdsCall {
  return {
    getPeer: () => call.getPeer(),
    write: pieceWriter(call as ServerDuplexStream<unknown, Uint8Array>),
    read(sink) {
      if (readRequests(call, sink)) return;
      call.on("data", (raw: Uint8Array) => sink.message(raw));
      call.on("end", () => sink.end());
    },
    onGone(hook) {
      call.on("error", (err: Error) => hook(`stream error: ${err.message}`));
      call.on("cancelled", () => hook("cancelled by the client"));
      call.on("close", () => hook("closed"));
    },
    // grpc-js turns an 'error' emitted on a server stream into the call's final status.
    fail: (code, details) => void call.emit("error", Object.assign(new Error(details), { code, details })),
    end() {
      if (!call.writableEnded) call.end();
    },
  };
}
