// The ADS gRPC service, described by hand instead of loaded from .proto files: requests are
// decoded with the Envoy registry's schemas, responses leave as bytes we assembled from
// cached resource bodies (see wire.ts), so the response "serializer" is the identity.
import { fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "@grpc/grpc-js";
import type { DeltaDiscoveryRequest, DiscoveryRequest } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { envoySchema } from "./registry.js";
import { RequestMemo } from "./request-memo.js";
import { TYPE_URL } from "./type-urls.js";

// From the registry rather than the generated module, which would load (and build descriptors
// for) its imports a second time at start-up.
const sotwRequest = (): DescMessage => envoySchema("envoy.service.discovery.v3.DiscoveryRequest");
const deltaRequest = (): DescMessage => envoySchema("envoy.service.discovery.v3.DeltaDiscoveryRequest");

/**
 * Build the request schemas now. They come from the Envoy registry, built from its descriptor set
 * when first used; left to the first request, that build (100–250 ms) stalled the event loop in
 * the middle of a reconnect storm, when every proxy's first request arrives at once. A server
 * calls this before it listens: no stream waits on it then, and the build is needed before the
 * first sync anyway.
 */
export function loadRequestSchemas(): void {
  sotwRequest();
  deltaRequest();
}

export const ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService";
export const SOTW_METHOD_PATH = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const DELTA_METHOD_PATH = `/${ADS_SERVICE}/DeltaAggregatedResources`;

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export const adsServiceDefinition = {
  StreamAggregatedResources: {
    path: SOTW_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (r: DiscoveryRequest): Buffer => asBuffer(toBinary(sotwRequest(), r)),
    requestDeserialize: (b: Buffer): DiscoveryRequest => fromBinary(sotwRequest(), b) as DiscoveryRequest,
    responseSerialize: asBuffer,
    responseDeserialize: (b: Buffer): Uint8Array => b,
    originalName: "streamAggregatedResources",
  },
  DeltaAggregatedResources: {
    path: DELTA_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (r: DeltaDiscoveryRequest): Buffer => asBuffer(toBinary(deltaRequest(), r)),
    requestDeserialize: (b: Buffer): DeltaDiscoveryRequest => fromBinary(deltaRequest(), b) as DeltaDiscoveryRequest,
    responseSerialize: asBuffer,
    responseDeserialize: (b: Buffer): Uint8Array => b,
    originalName: "deltaAggregatedResources",
  },
} satisfies ServiceDefinition;

/**
 * The same services as the server takes them: requests arrive undecoded (each stream decodes its
 * own, connection.ts), because grpc-js decodes in the turn that reads the socket, and after a
 * restart hundreds of proxies' requests (thousands of EDS names each) are read in one turn.
 */
const raw = (b: Buffer): Buffer => b;
export const adsServerDefinition = {
  StreamAggregatedResources: { ...adsServiceDefinition.StreamAggregatedResources, requestDeserialize: raw },
  DeltaAggregatedResources: { ...adsServiceDefinition.DeltaAggregatedResources, requestDeserialize: raw },
} satisfies ServiceDefinition;

const sotwRequests = new RequestMemo((b) => fromBinary(sotwRequest(), b) as DiscoveryRequest);
const deltaRequests = new RequestMemo((b) => fromBinary(deltaRequest(), b) as DeltaDiscoveryRequest);

/** Decoded requests; a large one (a proxy's whole EDS subscription) may be shared and is frozen. */
export const decodeSotwRequest = (b: Uint8Array): DiscoveryRequest => sotwRequests.get(b);
export const decodeDeltaRequest = (b: Uint8Array): DeltaDiscoveryRequest => deltaAck(b) ?? deltaRequests.get(b);

/** Large requests answered from memory, both transports (for tests). */
export const rememberedRequests = (): number => sotwRequests.hits + deltaRequests.hits;

/** DeltaDiscoveryRequest.type_url = 2 and response_nonce = 6, as length-delimited tags. */
const TYPE_URL_TAG = 0x12;
const NONCE_TAG = 0x32;

/**
 * The type URLs we serve, as bytes: an ACK's type URL is matched against them and taken as the
 * constant string. Built a character at a time, each ACK's copy was a fresh string that every
 * lookup by type (a Map of states per stream, the known-type check) had to flatten and hash.
 */
const KNOWN_TYPE_URLS: readonly (readonly [Buffer, string])[] = Object.values(TYPE_URL).map((t) => [Buffer.from(t, "latin1"), t]);

function knownTypeUrl(b: Uint8Array, start: number, len: number): string | undefined {
  for (const [bytes, url] of KNOWN_TYPE_URLS) {
    if (bytes.length !== len) continue;
    let j = 0;
    while (j < len && b[start + j] === bytes[j]) j++;
    if (j === len) return url;
  }
  return undefined;
}

/**
 * The request an ACK is: type_url and response_nonce, nothing else (ASCII only, short). Read by
 * hand: every push to 2000 streams is answered by 2000 of them, and each went through the schema
 * decoder. Anything else is left to it (undefined).
 */
function deltaAck(b: Uint8Array): DeltaDiscoveryRequest | undefined {
  let typeUrl = "";
  let responseNonce = "";
  for (let i = 0; i < b.length;) {
    const tag = b[i]!;
    const len = b[i + 1]!;
    if ((tag !== TYPE_URL_TAG && tag !== NONCE_TAG) || len === undefined || len >= 0x80 || i + 2 + len > b.length) return undefined;
    const known = tag === TYPE_URL_TAG ? knownTypeUrl(b, i + 2, len) : undefined;
    if (known !== undefined) {
      typeUrl = known;
      i += 2 + len;
      continue;
    }
    let text = "";
    for (let j = i + 2; j < i + 2 + len; j++) {
      const c = b[j]!;
      if (c >= 0x80) return undefined;
      text += String.fromCharCode(c);
    }
    if (tag === TYPE_URL_TAG) typeUrl = text;
    else responseNonce = text;
    i += 2 + len;
  }
  if (responseNonce === "") return undefined;
  return {
    $typeName: "envoy.service.discovery.v3.DeltaDiscoveryRequest",
    typeUrl,
    responseNonce,
    resourceNamesSubscribe: NO_NAMES,
    resourceNamesUnsubscribe: NO_NAMES,
    resourceLocatorsSubscribe: NO_LOCATORS,
    resourceLocatorsUnsubscribe: NO_LOCATORS,
    initialResourceVersions: NO_VERSIONS,
  } as DeltaDiscoveryRequest;
}

// An ACK's empty fields, shared by every ACK (requests are read, never changed).
const NO_NAMES: string[] = Object.freeze([]) as unknown as string[];
const NO_LOCATORS: DeltaDiscoveryRequest["resourceLocatorsSubscribe"] = Object.freeze([]) as unknown as DeltaDiscoveryRequest["resourceLocatorsSubscribe"];
const NO_VERSIONS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * SDS as a service of its own (what Envoy uses for an `api_config_source` SDS config, and what
 * istio-agent serves on its socket): the same streams as ADS, used for Secrets. Served on the
 * secure port only, where every stream is authenticated.
 */
export const SDS_SERVICE = "envoy.service.secret.v3.SecretDiscoveryService";

export const sdsServiceDefinition = {
  StreamSecrets: { ...adsServiceDefinition.StreamAggregatedResources, path: `/${SDS_SERVICE}/StreamSecrets`, originalName: "streamSecrets" },
  DeltaSecrets: { ...adsServiceDefinition.DeltaAggregatedResources, path: `/${SDS_SERVICE}/DeltaSecrets`, originalName: "deltaSecrets" },
} satisfies ServiceDefinition;

export const sdsServerDefinition = {
  StreamSecrets: { ...sdsServiceDefinition.StreamSecrets, requestDeserialize: raw },
  DeltaSecrets: { ...sdsServiceDefinition.DeltaSecrets, requestDeserialize: raw },
} satisfies ServiceDefinition;
