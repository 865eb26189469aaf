// HTTP/2 (RFC 9113) frame constants and the frame header, shared by meshpilot's own HTTP/2 client
// (the load generator's) and server (the xDS transport).

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export const FRAME_HEADER = 9;
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const MAX_FRAME_LIMIT = 2 ** 24 - 1;
export const MAX_WINDOW = 2 ** 31 - 1;

export const enum Type {
  DATA = 0,
  HEADERS = 1,
  PRIORITY = 2,
  RST_STREAM = 3,
  SETTINGS = 4,
  PUSH_PROMISE = 5,
  PING = 6,
  GOAWAY = 7,
  WINDOW_UPDATE = 8,
  CONTINUATION = 9,
}

export const END_STREAM = 0x1;
export const ACK = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY_FLAG = 0x20;

export const enum Setting {
  HEADER_TABLE_SIZE = 1,
  ENABLE_PUSH = 2,
  MAX_CONCURRENT_STREAMS = 3,
  INITIAL_WINDOW_SIZE = 4,
  MAX_FRAME_SIZE = 5,
  MAX_HEADER_LIST_SIZE = 6,
}

/** HTTP/2 error codes (RFC 9113 §7). */
export const H2 = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  ENHANCE_YOUR_CALM: 11,
} as const;

/** Writes a frame header at `at` of `b`. */
export function putFrameHeader(b: Buffer, at: number, length: number, type: number, flags: number, id: number): void {
  b[at] = length >>> 16;
  b[at + 1] = (length >>> 8) & 0xff;
  b[at + 2] = length & 0xff;
  b[at + 3] = type;
  b[at + 4] = flags;
  b.writeUInt32BE(id, at + 5);
}

/** A whole frame in one buffer. */
export function frameBytes(type: number, flags: number, id: number, payload?: Uint8Array): Buffer {
  const n = payload?.length ?? 0;
  const b = Buffer.allocUnsafe(FRAME_HEADER + n);
  putFrameHeader(b, 0, n, type, flags, id);
  if (payload && n > 0) b.set(payload, FRAME_HEADER);
  return b;
}

/** A connection error found while reading frames (RFC 9113 §5.4.1). */
export class FrameError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
