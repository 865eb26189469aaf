// Shared set-up for the xds/ protocol tests: a real ADS server on a loopback port, a view
// provider that records what it is asked, an observer that records events, tiny hand-written
// Envoy resources, and a "world" that turns them into snapshots the way the pipeline will.
import type { ClusterJson } from "../../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import type { ClusterLoadAssignmentJson } from "../../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import type { ListenerJson } from "../../../src/gen/envoy/config/listener/v3/listener_pb.js";
import type { RouteConfigurationJson } from "../../../src/gen/envoy/config/route/v3/route_pb.js";
import { encodeResources, snapshotFrom } from "../../../src/xds/encode.js";
import type { ShortType, Transport, XdsObserver } from "../../../src/xds/observer.js";
import type { PushSchedulerOptions } from "../../../src/xds/push-scheduler.js";
import type { KeepaliveOptions } from "../../../src/xds/keepalive.js";
import { XdsServer } from "../../../src/xds/server.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import type { NodeInfo, ResourceMap, Snapshot, ViewProvider } from "../../../src/xds/snapshot.js";
import { PUSH_ORDER, TYPE_URL, type TypeUrl } from "../../../src/xds/type-urls.js";
import { AdsClient } from "../../support/xds-client.js";

export const CDS = TYPE_URL.cluster;
export const EDS = TYPE_URL.endpoint;
export const LDS = TYPE_URL.listener;
export const RDS = TYPE_URL.route;

// ---- tiny Envoy resources (canonical proto-JSON) ----

export function cluster(name: string, timeout = "1s"): ClusterJson {
  return { name, type: "EDS", connectTimeout: timeout, edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: "V3" } } };
}

export function cla(name: string, ...ips: string[]): ClusterLoadAssignmentJson {
  return {
    clusterName: name,
    endpoints: [{ lbEndpoints: ips.map((ip) => ({ endpoint: { address: { socketAddress: { address: ip, portValue: 8080 } } } })) }],
  };
}

export function listener(name: string, port: number, routeName: string): ListenerJson {
  // Declared apart: the JSON type of an Any only knows "@type", the payload fields are checked
  // by protobuf-es when the resource is encoded.
  const hcm = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    statPrefix: name,
    rds: { routeConfigName: routeName, configSource: { ads: {}, resourceApiVersion: "V3" } },
    httpFilters: [{ name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
  };
  return {
    name,
    address: { socketAddress: { address: "0.0.0.0", portValue: port } },
    filterChains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typedConfig: hcm }] }],
  };
}

export function route(name: string, clusterName: string): RouteConfigurationJson {
  return { name, virtualHosts: [{ name: `${name}-vh`, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: clusterName } }] }] };
}

// ---- the world: JSON per type → encoded snapshots ----

export class World {
  readonly json = new Map<TypeUrl, Map<string, unknown>>(PUSH_ORDER.map((t) => [t, new Map<string, unknown>()]));
  private readonly previous = new Map<string, Map<TypeUrl, ResourceMap>>();

  put(type: TypeUrl, name: string, json: unknown): this {
    this.json.get(type)!.set(name, json);
    return this;
  }

  remove(type: TypeUrl, name: string): this {
    this.json.get(type)!.delete(name);
    return this;
  }

  /** Encode (reusing unchanged resources of the last snapshot of `key`) and return a snapshot. */
  snapshot(key = "default"): Snapshot {
    const prev = this.previous.get(key) ?? new Map<TypeUrl, ResourceMap>();
    const maps = new Map<TypeUrl, ResourceMap>();
    for (const t of PUSH_ORDER) {
      const items = [...this.json.get(t)!].sort(([a], [b]) => a.localeCompare(b)).map(([name, json]) => ({ name, json }));
      maps.set(t, encodeResources(t, items, prev.get(t)));
    }
    this.previous.set(key, maps);
    return snapshotFrom(maps);
  }
}

/** A world with clusters c1..c3, their CLAs, one listener l1 → route r1, and route r2. */
export function sampleWorld(): World {
  return new World()
    .put(CDS, "c1", cluster("c1"))
    .put(CDS, "c2", cluster("c2"))
    .put(CDS, "c3", cluster("c3"))
    .put(EDS, "c1", cla("c1", "10.0.0.1"))
    .put(EDS, "c2", cla("c2", "10.0.0.2"))
    .put(EDS, "c3", cla("c3", "10.0.0.3"))
    .put(LDS, "l1", listener("l1", 8080, "r1"))
    .put(RDS, "r1", route("r1", "c1"))
    .put(RDS, "r2", route("r2", "c2"));
}

// ---- view provider and observer that record ----

export class RecordingViews implements ViewProvider {
  readonly activated: string[] = [];
  readonly deactivated: string[] = [];
  /** Called on activate; a test may set the first snapshot here (or later). */
  onActivate: ((key: string, node: NodeInfo) => void) | undefined;
  private readonly activateWaiters: ((key: string) => void)[] = [];
  private readonly deactivateWaiters: ((key: string) => void)[] = [];

  viewKey(node: NodeInfo): { key: string } | { error: string } {
    if (!node.id.startsWith("sidecar~")) return { error: `malformed node id (want sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local)` };
    const view = node.metadata["VIEW"];
    return { key: typeof view === "string" ? view : "default" };
  }

  activate(key: string, node: NodeInfo): void {
    this.activated.push(key);
    this.onActivate?.(key, node);
    this.activateWaiters.splice(0).forEach((w) => w(key));
  }

  deactivate(key: string): void {
    this.deactivated.push(key);
    this.deactivateWaiters.splice(0).forEach((w) => w(key));
  }

  /** Resolves at the next activation (or at once if `key` is already active). */
  nextActivation(timeoutMs = 5000): Promise<string> {
    return bounded(new Promise((resolve) => this.activateWaiters.push(resolve)), timeoutMs, "view activation");
  }

  nextDeactivation(timeoutMs = 5000): Promise<string> {
    return bounded(new Promise((resolve) => this.deactivateWaiters.push(resolve)), timeoutMs, "view deactivation");
  }
}

export class RecordingObserver implements XdsObserver {
  readonly connects: { proxyId: string; viewKey: string; transport: Transport }[] = [];
  readonly disconnects: { proxyId: string; viewKey: string }[] = [];
  readonly pushes: { type: ShortType; proxyId: string; bytes: number; resources: number; seconds: number }[] = [];
  readonly nacks: { type: ShortType; proxyId: string; message: string }[] = [];

  onConnect(proxyId: string, viewKey: string, transport: Transport): void {
    this.connects.push({ proxyId, viewKey, transport });
  }
  onDisconnect(proxyId: string, viewKey: string): void {
    this.disconnects.push({ proxyId, viewKey });
  }
  onPush(type: ShortType, proxyId: string, bytes: number, resources: number, seconds: number): void {
    this.pushes.push({ type, proxyId, bytes, resources, seconds });
  }
  onNack(type: ShortType, proxyId: string, message: string): void {
    this.nacks.push({ type, proxyId, message });
  }
}

export function bounded<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Poll `cond` until true, bounded. For state that changes without a message to wait on. */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function node(
  id = "sidecar~10.0.0.1~a.default~default.svc.cluster.local",
  view?: string,
): { id: string; cluster: string; metadata?: Record<string, string> } {
  return { id, cluster: "a.default", ...(view ? { metadata: { VIEW: view } } : {}) };
}

export interface Harness {
  readonly server: XdsServer;
  readonly cache: SnapshotCache;
  readonly views: RecordingViews;
  readonly observer: RecordingObserver;
  readonly client: AdsClient;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Start a server on a free loopback port. With `world`, the view's first snapshot is set when
 * the view activates (as the pipeline does); without, the test sets snapshots itself.
 */
export async function startHarness(
  world?: World,
  opts: { plaintextSecrets?: boolean; push?: PushSchedulerOptions; keepalive?: KeepaliveOptions } = {},
): Promise<Harness> {
  const cache = new SnapshotCache();
  const views = new RecordingViews();
  if (world) views.onActivate = (key) => cache.set(key, world.snapshot(key));
  const observer = new RecordingObserver();
  const server = new XdsServer({
    cache,
    views,
    observer,
    controlPlaneId: "meshpilot-test",
    plaintextSecrets: opts.plaintextSecrets ?? false,
    ...(opts.push ? { push: opts.push } : {}),
    ...(opts.keepalive ? { keepalive: opts.keepalive } : {}),
  });
  const port = await server.listen("127.0.0.1:0");
  const client = new AdsClient(`127.0.0.1:${port}`);
  return {
    server,
    cache,
    views,
    observer,
    client,
    port,
    async close() {
      client.close();
      await server.close(500);
    },
  };
}
