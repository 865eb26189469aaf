// A sidecar on incremental (delta) ADS: subscriptions change by name, every response is ACKed by
// its nonce alone, removals come as removed_resources.
import { create, fromBinary, toBinary, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import type { ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import { ClusterSchema } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { NodeSchema } from "../gen/envoy/config/core/v3/base_pb.js";
import { DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { SHORT_OF, TYPE_URL_OF, type ShortType } from "./counts.js";
import { LoadProxy, now, type ProxyOptions } from "./proxy.js";
import { edsServiceName, readDeltaResponse, type DeltaSummary } from "./wire.js";

const DELTA_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

type RequestInit = MessageInitShape<typeof DeltaDiscoveryRequestSchema>;

export class DeltaProxy extends LoadProxy {
  private call: ClientDuplexStream<Uint8Array, Buffer> | undefined;
  private nodeSent = false;

  constructor(opts: ProxyOptions) {
    super(opts);
    this.open();
    this.flow.start();
  }

  protected open(): void {
    const call = this.client.makeBidiStreamRequest<Uint8Array, Buffer>(
      DELTA_PATH,
      (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      (b) => b,
    );
    this.call = call;
    this.nodeSent = false;
    call.on("data", (b: Buffer) => {
      if (call !== this.call) return;
      try {
        this.handle(b);
      } catch (e) {
        this.error ??= `proxy ${this.opts.index}: ${(e as Error).message}`;
      }
    });
    call.on("error", (e: ServiceError) => {
      if (call === this.call) this.failed(`stream error ${e.code}: ${e.details}`);
    });
    call.on("status", (s: { code: number; details: string }) => {
      if (call === this.call) this.failed(`stream ended (${s.code}: ${s.details})`);
    });
  }

  protected endStream(): void {
    const call = this.call;
    this.call = undefined;
    call?.end();
    call?.cancel();
  }

  subscribe(type: ShortType, added: readonly string[], removed: readonly string[]): void {
    this.send({ typeUrl: TYPE_URL_OF[type], resourceNamesSubscribe: [...added], resourceNamesUnsubscribe: [...removed] });
  }

  private send(init: RequestInit): void {
    if (!this.call) return;
    const msg = create(DeltaDiscoveryRequestSchema, init);
    if (!this.nodeSent) {
      const n = this.opts.node;
      msg.node = create(NodeSchema, { id: n.id, cluster: n.cluster, metadata: n.metadata as JsonObject });
      this.nodeSent = true;
    }
    this.call.write(toBinary(DeltaDiscoveryRequestSchema, msg));
  }

  private handle(buf: Buffer): void {
    const r = readDeltaResponse(buf);
    const type = SHORT_OF[r.typeUrl];
    if (!type) throw new Error(`response of unexpected type ${r.typeUrl}`);
    if (this.opts.selfCheck) crossCheck(buf, r);
    const at = now();
    this.received(type, buf, r.resources, r.removed.length, at);
    this.send({ typeUrl: r.typeUrl, responseNonce: r.nonce }); // ACK, as Envoy does once applied
    if (type === "cds") this.flow.onClusters(r.resources, r.removed, false);
    else if (type === "eds") this.flow.onEndpoints(r.resources);
    else if (type === "lds") this.flow.onListeners(r.resources, r.removed, false);
    else this.flow.onRoutes(r.resources);
    this.applied(type, buf, at);
  }
}

/** Decodes fully and checks the wire reader against the generated schemas. */
function crossCheck(buf: Buffer, r: DeltaSummary): void {
  const full = fromBinary(DeltaDiscoveryResponseSchema, buf);
  const names = full.resources.map((x) => x.name).join(",");
  if (full.typeUrl !== r.typeUrl || full.nonce !== r.nonce || names !== r.resources.map((x) => x.name).join(","))
    throw new Error("self-check: the wire reader disagrees with the schema decoder");
  if (full.resources.map((x) => x.version).join(",") !== r.resources.map((x) => x.version).join(",")) throw new Error("self-check: versions differ");
  if (full.removedResources.join(",") !== r.removed.join(",")) throw new Error("self-check: removed_resources differ");
  if (SHORT_OF[r.typeUrl] === "cds") {
    for (const x of full.resources) {
      const c = fromBinary(ClusterSchema, x.resource!.value);
      const expected = c.clusterDiscoveryType.case === "type" && c.clusterDiscoveryType.value === 3 ? c.edsClusterConfig?.serviceName || c.name : undefined;
      if (edsServiceName(x.resource!.value) !== expected) throw new Error(`self-check: EDS service name of ${c.name} differs`);
    }
  }
}
