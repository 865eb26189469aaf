// A small ADS client for tests: opens SotW or delta streams to a real gRPC server over a socket,
// sends requests built from the generated Envoy schemas, and awaits responses with a timeout.
// Every wait is bounded, so a server that stays silent fails the test instead of hanging it.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Client, credentials, Metadata, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { ClusterSchema } from "../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ListenerSchema } from "../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { VirtualHostSchema } from "../../src/gen/envoy/config/route/v3/route_components_pb.js";
import { RouteConfigurationSchema } from "../../src/gen/envoy/config/route/v3/route_pb.js";
import { SecretSchema } from "../../src/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
  DeltaDiscoveryResponseSchema,
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  DiscoveryResponseSchema,
} from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import type { Any } from "@bufbuild/protobuf/wkt";

const SOTW_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
export const DEFAULT_WAIT_MS = 5_000;

export interface StreamEnd {
  readonly code: number;
  readonly details: string;
}

/** Responses in arrival order; `next` waits (bounded) for the next one. */
class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: ((v: T) => void) | undefined;
  private failWaiter: ((e: Error) => void) | undefined;
  private endedWith: StreamEnd | undefined;

  push(v: T): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.failWaiter = undefined;
      w(v);
    } else this.items.push(v);
  }

  end(e: StreamEnd): void {
    this.endedWith = e;
    this.failWaiter?.(new Error(`stream ended (code ${e.code}: ${e.details}) while waiting for a response`));
    this.waiter = this.failWaiter = undefined;
  }

  get pending(): number {
    return this.items.length;
  }

  next(timeoutMs: number, what: string): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    if (this.endedWith) return Promise.reject(new Error(`stream already ended (code ${this.endedWith.code}: ${this.endedWith.details})`));
    if (this.waiter) return Promise.reject(new Error("only one next() at a time"));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = this.failWaiter = undefined;
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (x) => {
        clearTimeout(timer);
        resolve(x);
      };
      this.failWaiter = (e) => {
        clearTimeout(timer);
        reject(e);
      };
    });
  }
}

abstract class BaseStream<Req, Res> {
  protected readonly inbox = new Inbox<Res>();
  /** Resolves with the final status once the server ends the stream (OK or error). */
  readonly ended: Promise<StreamEnd>;

  constructor(protected readonly call: ClientDuplexStream<Req, Res>) {
    call.on("data", (r: Res) => this.inbox.push(r));
    this.ended = new Promise((resolve) => {
      let done = false;
      const finish = (e: StreamEnd): void => {
        if (done) return;
        done = true;
        this.inbox.end(e);
        resolve(e);
      };
      call.on("error", (err: ServiceError) => finish({ code: err.code, details: err.details }));
      call.on("status", (s: { code: number; details: string }) => finish({ code: s.code, details: s.details }));
    });
  }

  /** Responses received but not yet taken with next(). */
  get buffered(): number {
    return this.inbox.pending;
  }

  /** Wait for the end of the stream, bounded. */
  endedWithin(timeoutMs = DEFAULT_WAIT_MS): Promise<StreamEnd> {
    return Promise.race([
      this.ended,
      new Promise<StreamEnd>((_, reject) => setTimeout(() => reject(new Error(`stream did not end within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  }

  /** Stop taking responses off the wire (flow control then pushes back on the server). */
  pause(): void {
    this.call.pause();
  }

  resume(): void {
    this.call.resume();
  }

  /** Half-close our side. */
  end(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }
}

export type SotwRequestInit = MessageInitShape<typeof DiscoveryRequestSchema>;
export type DeltaRequestInit = MessageInitShape<typeof DeltaDiscoveryRequestSchema>;

export class SotwStream extends BaseStream<DiscoveryRequest, DiscoveryResponse> {
  send(init: SotwRequestInit): void {
    this.call.write(create(DiscoveryRequestSchema, init));
  }

  next(timeoutMs = DEFAULT_WAIT_MS): Promise<DiscoveryResponse> {
    return this.inbox.next(timeoutMs, "DiscoveryResponse");
  }

  /** The next response, which must be of `typeUrl`. */
  async nextOf(typeUrl: string, timeoutMs = DEFAULT_WAIT_MS): Promise<DiscoveryResponse> {
    const r = await this.next(timeoutMs);
    if (r.typeUrl !== typeUrl) throw new Error(`expected a response of ${typeUrl}, got ${r.typeUrl} (version ${r.versionInfo})`);
    return r;
  }

  /** ACK `resp` keeping (or changing to) `names`. */
  ack(resp: DiscoveryResponse, names: readonly string[] = []): void {
    this.send({ typeUrl: resp.typeUrl, versionInfo: resp.versionInfo, responseNonce: resp.nonce, resourceNames: [...names] });
  }

  /** NACK `resp`, claiming to stay on `keptVersion`. */
  nack(resp: DiscoveryResponse, message: string, keptVersion = "", names: readonly string[] = []): void {
    this.send({ typeUrl: resp.typeUrl, versionInfo: keptVersion, responseNonce: resp.nonce, resourceNames: [...names], errorDetail: { code: 3, message } });
  }
}

export class DeltaStream extends BaseStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  send(init: DeltaRequestInit): void {
    this.call.write(create(DeltaDiscoveryRequestSchema, init));
  }

  next(timeoutMs = DEFAULT_WAIT_MS): Promise<DeltaDiscoveryResponse> {
    return this.inbox.next(timeoutMs, "DeltaDiscoveryResponse");
  }

  async nextOf(typeUrl: string, timeoutMs = DEFAULT_WAIT_MS): Promise<DeltaDiscoveryResponse> {
    const r = await this.next(timeoutMs);
    if (r.typeUrl !== typeUrl) throw new Error(`expected a delta response of ${typeUrl}, got ${r.typeUrl}`);
    return r;
  }

  ack(resp: DeltaDiscoveryResponse): void {
    this.send({ typeUrl: resp.typeUrl, responseNonce: resp.nonce });
  }

  nack(resp: DeltaDiscoveryResponse, message: string): void {
    this.send({ typeUrl: resp.typeUrl, responseNonce: resp.nonce, errorDetail: { code: 3, message } });
  }
}

/** One gRPC channel to an ADS server; open as many streams on it as a test needs. */
export interface AdsClientOptions {
  /** TLS (the secure port); default plaintext. */
  readonly credentials?: ChannelCredentials;
  readonly channelOptions?: ChannelOptions;
  /** `authorization: Bearer <token>` on every stream. */
  readonly bearerToken?: string;
}

export class AdsClient {
  private readonly client: Client;
  private readonly token: string | undefined;

  constructor(address: string, opts: AdsClientOptions = {}) {
    this.client = new Client(address, opts.credentials ?? credentials.createInsecure(), { "grpc.max_receive_message_length": -1, ...opts.channelOptions });
    this.token = opts.bearerToken;
  }

  private metadata(): Metadata {
    const md = new Metadata();
    if (this.token !== undefined) md.set("authorization", `Bearer ${this.token}`);
    return md;
  }

  sotw(): SotwStream {
    const call = this.client.makeBidiStreamRequest<DiscoveryRequest, DiscoveryResponse>(
      SOTW_PATH,
      (r) => Buffer.from(toBinary(DiscoveryRequestSchema, r)),
      (b) => fromBinary(DiscoveryResponseSchema, b),
      this.metadata(),
    );
    return new SotwStream(call);
  }

  delta(): DeltaStream {
    const call = this.client.makeBidiStreamRequest<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
      DELTA_PATH,
      (r) => Buffer.from(toBinary(DeltaDiscoveryRequestSchema, r)),
      (b) => fromBinary(DeltaDiscoveryResponseSchema, b),
      this.metadata(),
    );
    return new DeltaStream(call);
  }

  close(): void {
    this.client.close();
  }
}

// ---- decoding helpers ----

/** Decode one Any of the xDS types and return its resource name. */
export function resourceName(any: Any): string {
  const t = any.typeUrl;
  if (t.endsWith("envoy.config.cluster.v3.Cluster")) return fromBinary(ClusterSchema, any.value).name;
  if (t.endsWith("envoy.config.endpoint.v3.ClusterLoadAssignment")) return fromBinary(ClusterLoadAssignmentSchema, any.value).clusterName;
  if (t.endsWith("envoy.config.listener.v3.Listener")) return fromBinary(ListenerSchema, any.value).name;
  if (t.endsWith("envoy.config.route.v3.RouteConfiguration")) return fromBinary(RouteConfigurationSchema, any.value).name;
  if (t.endsWith("envoy.config.route.v3.VirtualHost")) return fromBinary(VirtualHostSchema, any.value).name;
  if (t.endsWith("envoy.extensions.transport_sockets.tls.v3.Secret")) return fromBinary(SecretSchema, any.value).name;
  throw new Error(`unexpected resource type ${t}`);
}

/** Names of the resources in a SotW response, sorted. */
export function names(resp: DiscoveryResponse): string[] {
  for (const a of resp.resources) if (a.typeUrl !== resp.typeUrl) throw new Error(`Any type ${a.typeUrl} differs from response type ${resp.typeUrl}`);
  return resp.resources.map(resourceName).sort();
}

/** Names of the resources in a delta response, sorted; each resource's own name is checked. */
export function deltaNames(resp: DeltaDiscoveryResponse): string[] {
  return resp.resources
    .map((r) => {
      if (!r.resource) throw new Error(`delta resource ${r.name} has no body`);
      const inner = resourceName(r.resource);
      if (inner !== r.name) throw new Error(`delta resource named ${r.name} carries ${inner}`);
      return r.name;
    })
    .sort();
}

/** name → per-resource version in a delta response. */
export function deltaVersions(resp: DeltaDiscoveryResponse): Record<string, string> {
  return Object.fromEntries(resp.resources.map((r) => [r.name, r.version]));
}
