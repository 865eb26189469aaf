/**
 * The two messages of Istio's certificate service (proto/istio/ca.proto), encoded by hand with
 * protobuf-es' wire reader and writer, and the gRPC service definition grpc-js serves them with.
 */
import { fromBinary, fromJson, toBinary, toJson, type JsonObject } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { ServiceDefinition } from "@grpc/grpc-js";

export interface IstioCertificateRequest {
  readonly csr: string;
  readonly validityDuration: number;
  readonly metadata: JsonObject;
}

export interface IstioCertificateResponse {
  readonly certChain: readonly string[];
}

export const CREATE_CERTIFICATE_PATH = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

export function decodeRequest(bytes: Uint8Array): IstioCertificateRequest {
  const r = new BinaryReader(bytes);
  let csr = "";
  let validityDuration = 0;
  let metadata: JsonObject = {};
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) csr = r.string();
    else if (field === 3 && wire === WireType.Varint) validityDuration = Number(r.int64());
    else if (field === 4 && wire === WireType.LengthDelimited) metadata = toJson(StructSchema, fromBinary(StructSchema, r.bytes())) as JsonObject;
    else r.skip(wire);
  }
  return { csr, validityDuration, metadata };
}

export function encodeRequest(req: IstioCertificateRequest): Uint8Array {
  const w = new BinaryWriter();
  if (req.csr !== "") w.tag(1, WireType.LengthDelimited).string(req.csr);
  if (req.validityDuration !== 0) w.tag(3, WireType.Varint).int64(req.validityDuration);
  if (Object.keys(req.metadata).length > 0) w.tag(4, WireType.LengthDelimited).bytes(toBinary(StructSchema, fromJson(StructSchema, req.metadata)));
  return w.finish();
}

export function decodeResponse(bytes: Uint8Array): IstioCertificateResponse {
  const r = new BinaryReader(bytes);
  const certChain: string[] = [];
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) certChain.push(r.string());
    else r.skip(wire);
  }
  return { certChain };
}

export function encodeResponse(res: IstioCertificateResponse): Uint8Array {
  const w = new BinaryWriter();
  for (const c of res.certChain) w.tag(1, WireType.LengthDelimited).string(c);
  return w.finish();
}

export const caServiceDefinition: ServiceDefinition = {
  CreateCertificate: {
    path: CREATE_CERTIFICATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: IstioCertificateRequest) => Buffer.from(encodeRequest(r)),
    requestDeserialize: (b: Buffer) => decodeRequest(b),
    responseSerialize: (r: IstioCertificateResponse) => Buffer.from(encodeResponse(r)),
    responseDeserialize: (b: Buffer) => decodeResponse(b),
  },
};
