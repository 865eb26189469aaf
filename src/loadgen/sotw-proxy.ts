// A sidecar on state-of-the-world ADS: every request of a type carries the whole subscription,
// the last version applied and the nonce it answers; CDS and LDS responses are the full set.
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { DiscoveryRequestSchema } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { SHORT_OF, TYPE_URL_OF, type ShortType } from "./counts.js";
import { LoadProxy, now, type ProxyOptions } from "./proxy.js";
import { readSotwResponse } from "./wire.js";

type RequestInit = MessageInitShape<typeof DiscoveryRequestSchema>;

export class SotwProxy extends LoadProxy {
  protected readonly method = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
  /** Per type: the version last applied (survives a reconnect, as Envoy's) and the nonce last received on this stream. */
  private readonly version: Partial<Record<ShortType, string>> = {};
  private nonce: Partial<Record<ShortType, string>> = {};

  constructor(opts: ProxyOptions) {
    super(opts);
    this.open();
    this.flow.start();
  }

  protected override onNewStream(): void {
    this.nonce = {};
  }

  /** SotW has no added/removed: the request names the whole set (empty for the wildcard types, as Envoy). */
  subscribe(type: ShortType): void {
    this.request(type);
  }

  private subscribed(type: ShortType): string[] {
    if (type === "eds") return [...this.flow.eds.names];
    if (type === "rds") return [...this.flow.rds.names];
    if (type === "sds") return [...this.flow.sds.names];
    return [];
  }

  private request(type: ShortType): void {
    if (!this.call) return;
    const init: RequestInit = {
      typeUrl: TYPE_URL_OF[type],
      resourceNames: this.subscribed(type),
      versionInfo: this.version[type] ?? "",
      responseNonce: this.nonce[type] ?? "",
    };
    const msg = create(DiscoveryRequestSchema, init);
    const node = this.nodeOnce();
    if (node) msg.node = node;
    this.call.write(toBinary(DiscoveryRequestSchema, msg));
  }

  protected handle(buf: Buffer): void {
    const r = readSotwResponse(buf);
    const type = SHORT_OF[r.typeUrl];
    if (!type) throw new Error(`response of unexpected type ${r.typeUrl}`);
    const at = now();
    this.received(type, buf, r.resources, r.resourceBytes, 0, r.nonce, at);
    // Applied, then ACKed (the new version, the nonce, the same names), as Envoy does: the
    // subscriptions the response starts go out before its ACK.
    if (type === "cds") this.flow.onClusters(r.resources, [], true);
    else if (type === "eds") this.flow.onEndpoints(r.resources);
    else if (type === "lds") this.flow.onListeners(r.resources, [], true);
    else if (type === "rds") this.flow.onRoutes(r.resources);
    else if (type === "sds") this.flow.onSecrets(r.resources);
    else this.flow.onVirtualHosts(r.resources, []);
    this.version[type] = r.versionInfo;
    this.nonce[type] = r.nonce;
    this.request(type);
    this.applied(type, buf, at);
  }
}
