// The ADS gRPC service, described by hand instead of loaded from .proto files: requests are
// decoded with the generated protobuf-es schemas, responses leave as bytes we assembled from
// cached resource bodies (see wire.ts), so the response "serializer" is the identity.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "@grpc/grpc-js";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DiscoveryRequest,
  DiscoveryRequestSchema,
} from "../gen/envoy/service/discovery/v3/discovery_pb.js";

export const ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService";
export const SOTW_METHOD_PATH = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const DELTA_METHOD_PATH = `/${ADS_SERVICE}/DeltaAggregatedResources`;

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export const adsServiceDefinition = {
  StreamAggregatedResources: {
    path: SOTW_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (r: DiscoveryRequest): Buffer => asBuffer(toBinary(DiscoveryRequestSchema, r)),
    requestDeserialize: (b: Buffer): DiscoveryRequest => fromBinary(DiscoveryRequestSchema, b),
    responseSerialize: asBuffer,
    responseDeserialize: (b: Buffer): Uint8Array => b,
    originalName: "streamAggregatedResources",
  },
  DeltaAggregatedResources: {
    path: DELTA_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (r: DeltaDiscoveryRequest): Buffer => asBuffer(toBinary(DeltaDiscoveryRequestSchema, r)),
    requestDeserialize: (b: Buffer): DeltaDiscoveryRequest => fromBinary(DeltaDiscoveryRequestSchema, b),
    responseSerialize: asBuffer,
    responseDeserialize: (b: Buffer): Uint8Array => b,
    originalName: "deltaAggregatedResources",
  },
} satisfies ServiceDefinition;
