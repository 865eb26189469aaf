// A sidecar on incremental (delta) ADS: subscriptions change by name, every response is ACKed by
// its nonce alone, removals come as removed_resources. It remembers the version of each resource
// it holds, and a new stream's first request of each type declares them
// (initial_resource_versions), as Envoy does on reconnect, so that a server re-sends only what
// changed; a resource that arrives at the version it already held is counted as unchanged.
// Without `resume` it keeps no versions (one map entry per resource held: ~100 bytes) and
// reconnects as a new proxy.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClusterSchema } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import { DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { SHORT_OF, SHORT_TYPES, TYPE_URL_OF, type ShortType } from "./counts.js";
import { LoadProxy, now, type ProxyOptions } from "./proxy.js";
import { NodeSchema } from "../gen/envoy/config/core/v3/base_pb.js";
import { ResponseMemo, type ResponseMemoStats } from "./response-memo.js";
import { deltaRequestBytes, edsServiceName, readDeltaResponse, WireResource, type DeltaRequestFields, type DeltaSummary } from "./wire.js";

type RequestInit = MessageInitShape<typeof DeltaDiscoveryRequestSchema>;

/** The request fields deltaRequestBytes writes; a request with any other goes through protobuf-es. */
// Proxies of a view hold the same versions: one copy of each. Every change brings new ones, so
// the table starts over when large (strings already held stay shared; only new ones duplicate).
const versions = new Map<string, string>();
const MAX_VERSIONS = 100_000;
function internVersion(v: string): string {
  const old = versions.get(v);
  if (old !== undefined) return old;
  if (versions.size >= MAX_VERSIONS) versions.clear();
  versions.set(v, v);
  return v;
}

/** The proxies of a process get the same resources: each distinct span of them is read once. */
const memo = new ResponseMemo();

/** How often the delta proxies of this process found resources they had read already. */
export function responseMemoStats(): ResponseMemoStats {
  return memo.stats;
}

/** Forgets the resources read so far (benches: a round as a new process would start it). */
export function clearResponseMemo(): void {
  memo.clear();
}

const HAND_ENCODED: ReadonlySet<string> = new Set<keyof DeltaRequestFields>([
  "typeUrl",
  "resourceNamesSubscribe",
  "resourceNamesUnsubscribe",
  "responseNonce",
  "initialResourceVersions",
]);

export class DeltaProxy extends LoadProxy {
  protected readonly method = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

  /** Whether the proxy keeps versions and resumes with them (without: no memory per resource held). */
  private readonly resumes = this.opts.resume ?? true;
  /** Per type: name → version of what the proxy holds (versions interned: proxies of a view share them). */
  private readonly held = Object.fromEntries(SHORT_TYPES.map((t) => [t, new Map<string, string>()])) as Record<ShortType, Map<string, string>>;
  /** Types the current stream has asked for (the first request of a type carries the initial versions). */
  private asked = new Set<ShortType>();

  constructor(opts: ProxyOptions) {
    super(opts);
    this.open();
    this.flow.start();
  }

  protected override onNewStream(): void {
    this.asked = new Set();
  }

  /** What the proxy holds of `type` (name → version). */
  holds(type: ShortType): ReadonlyMap<string, string> {
    return this.held[type];
  }

  subscribe(type: ShortType, added: readonly string[], removed: readonly string[]): void {
    const held = this.held[type];
    // Unsubscribed: Envoy drops the resource (a server sends no removal for it).
    for (const n of removed) held.delete(n);
    const first = !this.asked.has(type);
    this.asked.add(type);
    const resume = first && this.streams > 1 && held.size > 0;
    if (resume) this.offered[type] = (this.offered[type] ?? 0) + held.size;
    // The lists as they are: a shared state's transition hands every proxy the same list, encoded once.
    const fields: DeltaRequestFields = {
      typeUrl: TYPE_URL_OF[type],
      resourceNamesSubscribe: added,
      resourceNamesUnsubscribe: removed,
      ...(resume ? { initialResourceVersions: held } : {}),
    };
    this.send(fields);
  }

  protected send(init: RequestInit | DeltaRequestFields): void {
    if (!this.call) return;
    const node = this.nodeOnce();
    if (Object.keys(init).every((k) => HAND_ENCODED.has(k))) {
      this.call.write(deltaRequestBytes(init as DeltaRequestFields, node && toBinary(NodeSchema, node)));
      return;
    }
    const msg = create(DeltaDiscoveryRequestSchema, init as RequestInit);
    if (node) msg.node = node;
    this.call.write(toBinary(DeltaDiscoveryRequestSchema, msg));
  }

  protected handle(buf: Buffer): void {
    const r = readDeltaResponse(buf, memo.resources);
    const type = SHORT_OF[r.typeUrl];
    if (!type) throw new Error(`response of unexpected type ${r.typeUrl}`);
    if (this.opts.selfCheck) crossCheck(buf, r);
    const at = now();
    let unchanged = 0;
    if (this.resumes) {
      const held = this.held[type];
      for (const x of r.resources) {
        const version = internVersion(x.version);
        if (held.get(x.name) === version) unchanged++;
        else held.set(x.name, version);
      }
      for (const n of r.removed) held.delete(n);
    }
    this.received(type, buf, r.resources, r.resourceBytes, r.removed.length, r.nonce, at, unchanged);
    // Applied first, then ACKed, as Envoy does: the subscriptions the response starts (EDS after
    // CDS, RDS after LDS, VHDS after RDS) go out before its ACK.
    if (type === "cds") this.flow.onClusters(r.resources, r.removed, false, r.shared);
    else if (type === "eds") this.flow.onEndpoints(r.resources, r.shared);
    else if (type === "lds") this.flow.onListeners(r.resources, r.removed, false, r.shared);
    else if (type === "rds") this.flow.onRoutes(r.resources, r.removed, r.shared);
    else if (type === "sds") this.flow.onSecrets(r.resources, r.shared);
    else this.flow.onVirtualHosts(r.resources, r.removed, r.shared);
    this.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
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
      if (edsServiceName(WireResource.of(x.name, x.resource!.value)) !== expected) throw new Error(`self-check: EDS service name of ${c.name} differs`);
    }
  }
}
