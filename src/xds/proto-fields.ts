// The few protobuf wire-format pieces written by hand where a message is assembled from bytes
// already encoded (xDS responses, VHDS route configurations, the load generator's requests).

const WIRE_LEN = 2;

function varint(n: number): number[] {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return bytes;
}

/** Tag and length prefix of a length-delimited field whose payload is `len` bytes. */
export function lenHeader(field: number, len: number): Buffer {
  return Buffer.from([...varint(field * 8 + WIRE_LEN), ...varint(len)]);
}

/** A whole length-delimited field: tag, length, payload. */
export function lenField(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([lenHeader(field, payload.length), payload]);
}
