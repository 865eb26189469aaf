// What an Envoy sidecar asks for on ADS, and when (Envoy's init order, reference/xds-protocol.md
// §1.8–1.9): clusters by wildcard; then the ClusterLoadAssignments its EDS clusters name; once
// those arrived (clusters initialized; or after Envoy's 15 s initial_fetch_timeout) listeners by
// wildcard; then the route configurations its HTTP connection managers name; once a route
// configuration names VHDS (delta, an Envoy that takes it), virtual hosts by wildcard. The
// secrets the TLS transport sockets of clusters and listeners name for SDS over ADS (an istio
// sidecar's `default` and `ROOTCA` on meshpilot's secure port) are asked for by name as those
// arrive: a cluster warms on its secrets as on its endpoints (LDS waits for both), a listener
// on its secrets as on its routes. Later responses change what it subscribes: a new EDS cluster
// adds a name, a removed one drops it. The flow only decides; a transport (delta or SotW) sends.
import type { ShortType } from "./counts.js";
import { clusterRefs, listenerRouteNames, routeUsesVhds, sdsSecretNames, type WireResource } from "./wire.js";

export interface FlowSender {
  /** The subscription of `type` grew by `added` and lost `removed` (wildcard: `["*"]`). */
  subscribe(type: ShortType, added: readonly string[], removed: readonly string[]): void;
}

// Thousands of proxies learn the same names: keep one copy of each string.
const interned = new Map<string, string>();
export function intern(s: string): string {
  const old = interned.get(s);
  if (old !== undefined) return old;
  interned.set(s, s);
  return s;
}

// Every cluster of a mesh names the same secrets: one array per distinct list.
const internedLists = new Map<string, readonly string[]>();
function internList(names: readonly string[]): readonly string[] {
  const key = names.join("\n");
  const old = internedLists.get(key);
  if (old !== undefined) return old;
  const list = Object.freeze(names.map(intern));
  internedLists.set(key, list);
  return list;
}

/**
 * The route configuration a VHDS virtual host belongs to: its name up to the last `/`, the
 * namespace Envoy matches VHDS resources to their route configuration by.
 */
export function vhostRoute(name: string): string {
  const slash = name.lastIndexOf("/");
  return slash < 0 ? "" : name.slice(0, slash);
}

/** Envoy's default ConfigSource.initial_fetch_timeout. */
export const INITIAL_FETCH_TIMEOUT_MS = 15_000;

/** The names of one by-name type (EDS, RDS): subscribed, and which of those have not arrived yet. */
export class NameSubscription {
  readonly names = new Set<string>();
  readonly pending = new Set<string>();

  /** Makes `wanted` the subscription; returns what was added and removed. */
  want(wanted: ReadonlySet<string>): { added: string[]; removed: string[] } {
    const added = this.add(wanted);
    const removed: string[] = [];
    for (const n of this.names) {
      if (wanted.has(n)) continue;
      this.names.delete(n);
      this.pending.delete(n);
      removed.push(n);
    }
    return { added, removed };
  }

  /** Adds `names` to the subscription (those not in it yet); returns them. */
  add(names: Iterable<string>): string[] {
    const added: string[] = [];
    for (const n of names) {
      if (this.names.has(n)) continue;
      this.names.add(n);
      this.pending.add(n);
      added.push(n);
    }
    return added;
  }

  received(name: string): void {
    this.pending.delete(name);
  }
}

/** Records the secrets `name` names (none: forgets it, to keep one entry per cluster that names some). */
function noteSecrets(m: Map<string, readonly string[]>, name: string, secrets: readonly string[]): void {
  if (secrets.length === 0) {
    if (m.size > 0) m.delete(name);
  } else m.set(name, internList(secrets));
}

export class EnvoyFlow {
  /** EDS cluster → the ClusterLoadAssignment it asks for. */
  private readonly clusterEds = new Map<string, string>();
  private readonly listenerRoutes = new Map<string, readonly string[]>();
  readonly eds = new NameSubscription();
  readonly rds = new NameSubscription();
  readonly sds = new NameSubscription();
  /** The secrets each cluster / listener names over ADS (only those that name some). */
  private readonly clusterSecrets = new Map<string, readonly string[]>();
  private readonly listenerSecrets = new Map<string, readonly string[]>();
  /** Route configurations held in their VHDS form → the virtual hosts held for each. */
  private readonly vhdsRoutes = new Map<string, Set<string>>();
  /** VHDS route configurations none of whose virtual hosts arrived yet (Envoy's RDS init waits for them). */
  private readonly vhdsAwaiting = new Set<string>();
  private vhdsSubscribed = false;
  gotCds = false;
  gotLds = false;
  private ldsRequested = false;
  private ldsTimer: NodeJS.Timeout | undefined;
  /** Cluster names that must be present before the proxy counts as synced (the mesh the run generated). */
  private readonly expected: ReadonlySet<string>;
  private expectedFound = 0;
  private readonly clusters = new Set<string>();

  constructor(
    private readonly sender: FlowSender,
    expectClusters: ReadonlySet<string> = new Set(),
    private readonly initialFetchTimeoutMs = INITIAL_FETCH_TIMEOUT_MS,
  ) {
    this.expected = expectClusters;
  }

  start(): void {
    this.sender.subscribe("cds", ["*"], []);
  }

  /** Clusters arrived: `fullState` (SotW) replaces them all, else `removed` names go. */
  onClusters(resources: readonly WireResource[], removed: readonly string[], fullState: boolean): void {
    this.gotCds = true;
    if (fullState) {
      this.clusterEds.clear();
      this.clusters.clear();
      this.clusterSecrets.clear();
      this.expectedFound = 0;
    }
    for (const name of removed) {
      this.clusterEds.delete(name);
      this.clusterSecrets.delete(name);
      if (this.clusters.delete(name) && this.expected.has(name)) this.expectedFound--;
    }
    // Clusters only added (the full sync, a new service) add their EDS names; a cluster removed or
    // changed may leave an EDS name nobody asks for: then the subscription is worked out again.
    let recount = fullState || removed.length > 0;
    const named: string[] = [];
    for (const r of resources) {
      const name = intern(r.name);
      const held = this.clusters.size;
      this.clusters.add(name);
      if (this.clusters.size > held && this.expected.has(name)) this.expectedFound++;
      const refs = clusterRefs(r);
      // Istio's EDS service name is the cluster's own: no second lookup for it.
      const svc = refs.eds === undefined ? undefined : refs.eds === name ? name : intern(refs.eds);
      const old = this.clusterEds.get(name);
      if (svc !== old) {
        if (old !== undefined) recount = true;
        if (svc === undefined) this.clusterEds.delete(name);
        else {
          this.clusterEds.set(name, svc);
          named.push(svc);
        }
      }
      noteSecrets(this.clusterSecrets, name, refs.secrets);
    }
    if (recount) {
      const { added, removed: dropped } = this.eds.want(new Set(this.clusterEds.values()));
      if (added.length || dropped.length) this.sender.subscribe("eds", added, dropped);
    } else {
      const added = this.eds.add(named);
      if (added.length) this.sender.subscribe("eds", added, []);
    }
    this.wantSecrets();
    if (this.clustersWarm) this.requestListeners();
    else if (!this.ldsRequested && !this.ldsTimer) {
      this.ldsTimer = setTimeout(() => this.requestListeners(), this.initialFetchTimeoutMs);
      this.ldsTimer.unref();
    }
  }

  onEndpoints(resources: readonly WireResource[]): void {
    for (const r of resources) this.eds.received(r.name);
    if (this.clustersWarm) this.requestListeners();
  }

  /** Secrets arrived (their bodies are never read). */
  onSecrets(resources: readonly WireResource[]): void {
    for (const r of resources) this.sds.received(r.name);
    if (this.clustersWarm) this.requestListeners();
  }

  /**
   * Every cluster has what it warms on: its endpoints and its secrets (before listeners are asked
   * for, a pending secret can only be a cluster's).
   */
  private get clustersWarm(): boolean {
    return this.eds.pending.size === 0 && this.sds.pending.size === 0;
  }

  /** Subscribes to the secrets the clusters and listeners name now, and drops the rest. */
  private wantSecrets(): void {
    const wanted = new Set<string>();
    for (const m of [this.clusterSecrets, this.listenerSecrets]) for (const list of new Set(m.values())) for (const n of list) wanted.add(n);
    const { added, removed } = this.sds.want(wanted);
    if (added.length || removed.length) this.sender.subscribe("sds", added, removed);
  }

  onListeners(resources: readonly WireResource[], removed: readonly string[], fullState: boolean): void {
    this.gotLds = true;
    if (fullState) {
      this.listenerRoutes.clear();
      this.listenerSecrets.clear();
    }
    for (const name of removed) {
      this.listenerRoutes.delete(name);
      this.listenerSecrets.delete(name);
    }
    for (const r of resources) {
      const name = intern(r.name);
      this.listenerRoutes.set(name, listenerRouteNames(r).map(intern));
      noteSecrets(this.listenerSecrets, name, sdsSecretNames(r, "listener"));
    }
    this.wantSecrets();
    const wanted = new Set<string>();
    for (const names of this.listenerRoutes.values()) for (const n of names) wanted.add(n);
    const { added, removed: dropped } = this.rds.want(wanted);
    for (const n of dropped) this.dropVhdsRoute(n);
    if (added.length || dropped.length) this.sender.subscribe("rds", added, dropped);
  }

  /**
   * Route configurations arrived (`removed`: delta removals). One that names VHDS starts Envoy's
   * VHDS subscription: the first one sends the stream's one VirtualHost request, a wildcard (an
   * empty list), as Envoy 1.40 does; later ones share it and ask for nothing.
   */
  onRoutes(resources: readonly WireResource[], removed: readonly string[] = []): void {
    for (const r of resources) {
      const name = intern(r.name);
      this.rds.received(name);
      if (!routeUsesVhds(r)) this.dropVhdsRoute(name);
      else if (!this.vhdsRoutes.has(name)) {
        this.vhdsRoutes.set(name, new Set());
        this.vhdsAwaiting.add(name);
      }
    }
    for (const n of removed) this.dropVhdsRoute(n);
    if (this.vhdsRoutes.size > 0 && !this.vhdsSubscribed) {
      this.vhdsSubscribed = true;
      this.sender.subscribe("vhds", [], []);
    }
  }

  /** Virtual hosts arrived by VHDS: one whose route configuration is not held in VHDS form is dropped, as Envoy drops it. */
  onVirtualHosts(resources: readonly WireResource[], removed: readonly string[]): void {
    for (const r of resources) {
      const route = vhostRoute(r.name);
      const held = this.vhdsRoutes.get(route);
      if (!held) continue;
      held.add(intern(r.name));
      this.vhdsAwaiting.delete(route);
    }
    for (const n of removed) this.vhdsRoutes.get(vhostRoute(n))?.delete(n);
  }

  private dropVhdsRoute(name: string): void {
    this.vhdsRoutes.delete(name);
    this.vhdsAwaiting.delete(name);
  }

  /** What the proxy holds and asks for now, sorted (to compare with a real Envoy's). */
  names(): { clusters: string[]; eds: string[]; listeners: string[]; rds: string[]; vhds: string[]; sds: string[] } {
    return {
      clusters: [...this.clusters].sort(),
      eds: [...this.eds.names].sort(),
      listeners: [...this.listenerRoutes.keys()].sort(),
      rds: [...this.rds.names].sort(),
      vhds: [...this.vhdsRoutes.values()].flatMap((s) => [...s]).sort(),
      sds: [...this.sds.names].sort(),
    };
  }

  /**
   * What keeps the proxy out of sync, each as "<type>: <why>" (empty once in sync): a type with
   * no response yet, names asked for and not received (how many, the first), expected clusters
   * not among those held, VHDS route configurations without virtual hosts.
   */
  waitingFor(): string[] {
    const out: string[] = [];
    const first = (names: ReadonlySet<string>): string => {
      const n = names.values().next().value;
      return names.size > 1 ? `${n} and ${names.size - 1} more` : String(n);
    };
    if (!this.gotCds) out.push("CDS: no response");
    else if (this.expectedFound < this.expected.size) {
      const absent = [...this.expected].find((n) => !this.clusters.has(n));
      out.push(`CDS: ${this.expected.size - this.expectedFound} of ${this.expected.size} expected clusters absent (${absent})`);
    }
    if (this.eds.pending.size) out.push(`EDS: ${this.eds.pending.size} of ${this.eds.names.size} not received (${first(this.eds.pending)})`);
    if (this.sds.pending.size) out.push(`SDS: ${this.sds.pending.size} of ${this.sds.names.size} not received (${first(this.sds.pending)})`);
    if (!this.ldsRequested) out.push("LDS: not asked for yet (clusters still warming)");
    else if (!this.gotLds) out.push("LDS: no response");
    if (this.rds.pending.size) out.push(`RDS: ${this.rds.pending.size} of ${this.rds.names.size} not received (${first(this.rds.pending)})`);
    if (this.vhdsAwaiting.size) out.push(`VHDS: no virtual host yet for ${this.vhdsAwaiting.size} route configuration(s) (${first(this.vhdsAwaiting)})`);
    return out;
  }

  /** Holds CDS, LDS, every EDS, RDS and SDS it asked for, virtual hosts of each VHDS route configuration, and every expected cluster. */
  get synced(): boolean {
    return (
      this.gotCds &&
      this.gotLds &&
      this.eds.pending.size === 0 &&
      this.rds.pending.size === 0 &&
      this.sds.pending.size === 0 &&
      this.vhdsAwaiting.size === 0 &&
      this.expectedFound === this.expected.size
    );
  }

  private requestListeners(): void {
    if (this.ldsTimer) clearTimeout(this.ldsTimer);
    this.ldsTimer = undefined;
    if (this.ldsRequested) return;
    this.ldsRequested = true;
    this.sender.subscribe("lds", ["*"], []);
  }

  /** A new stream: everything subscribed is asked for again (Envoy re-sends its subscriptions on reconnect). */
  resubscribe(): void {
    for (const t of this.subscribedTypes()) {
      if (t === "cds" || t === "lds") this.sender.subscribe(t, ["*"], []);
      else if (t === "vhds") this.sender.subscribe(t, [], []);
      else this.sender.subscribe(t, [...this[t].names], []);
    }
  }

  /** The types the proxy subscribes to now (what a new stream asks for again). */
  subscribedTypes(): ShortType[] {
    const out: ShortType[] = ["cds"];
    if (this.eds.names.size) out.push("eds");
    if (this.sds.names.size) out.push("sds");
    if (this.ldsRequested) out.push("lds");
    if (this.rds.names.size) out.push("rds");
    if (this.vhdsSubscribed) out.push("vhds");
    return out;
  }

  stop(): void {
    if (this.ldsTimer) clearTimeout(this.ldsTimer);
    this.ldsTimer = undefined;
  }
}
