// grpc-js' per-call object behind a ServerDuplexStream (1.14: `call.call`, a
// BaseServerInterceptingCall when the server has no interceptors). ADS streams read their requests
// from its HTTP/2 stream and write their responses to it (request-reader.ts, gather-write.ts):
// grpc-js' own paths cost more per message than everything meshpilot does with an ACK. The call
// keeps what gRPC needs done once per call: headers, deadline, status and trailers, cancellation.
// Where the object is not found (another grpc-js, interceptors), streams go through grpc-js.
import type { status as GrpcStatus, ServerDuplexStream } from "@grpc/grpc-js";
import type { Duplex } from "node:stream";

export interface GrpcBaseCall {
  /** The call's HTTP/2 stream (an Http2ServerStream). */
  readonly stream: Duplex;
  readonly maxSendMessageSize: number;
  readonly maxReceiveMessageSize: number;
  /** The request's grpc-encoding ("identity" when it named none). */
  readonly incomingEncoding: string;
  readonly callEventTracker?: { addMessageSent(): void; addMessageReceived(): void } | null;
  checkCancelled(): boolean;
  maybeSendMetadata(): void;
  sendStatus(status: { code: GrpcStatus; details: string; metadata: null }): void;
}

export function grpcBaseCall(call: ServerDuplexStream<unknown, unknown>): GrpcBaseCall | undefined {
  const c = (call as { call?: unknown }).call as Partial<GrpcBaseCall> | undefined;
  if (!c || typeof c !== "object") return undefined;
  const s = c.stream as Partial<Duplex> | undefined;
  const fits =
    typeof c.checkCancelled === "function" &&
    typeof c.maybeSendMetadata === "function" &&
    typeof c.sendStatus === "function" &&
    typeof c.maxSendMessageSize === "number" &&
    typeof c.maxReceiveMessageSize === "number" &&
    typeof c.incomingEncoding === "string" &&
    typeof s?.write === "function" &&
    typeof s.cork === "function" &&
    typeof s.uncork === "function" &&
    typeof s.on === "function" &&
    typeof s.resume === "function";
  return fits ? (c as GrpcBaseCall) : undefined;
}
