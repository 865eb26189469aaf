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

  copy(): NameSubscription {
    const c = new NameSubscription();
    for (const n of this.names) c.names.add(n);
    for (const n of this.pending) c.pending.add(n);
    return c;
  }
}

/** Records the secrets `name` names (none: forgets it, to keep one entry per cluster that names some). */
function noteSecrets(m: Map<string, readonly string[]>, name: string, secrets: readonly string[]): void {
  if (secrets.length === 0) {
    if (m.size > 0) m.delete(name);
  } else m.set(name, internList(secrets));
}

/** A subscription change the flow asks its transport to send. */
interface Subscribe {
  readonly type: ShortType;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** What applying a response did: the state after it, and what it asked to send. */
interface Transition {
  readonly state: FlowState;
  readonly sends: readonly Subscribe[];
  /** Start Envoy's initial_fetch_timeout for listeners (clusters are not warm yet). */
  readonly ldsTimer: boolean;
}

/**
 * Everything a proxy's flow knows. The next state is a function of this one and the response
 * applied, so proxies that got the same responses hold the same state: one frozen object, shared,
 * that records where each shared response led (the transitions). A proxy whose state is shared
 * and whose response is not works on its own copy from then on. Each proxy still applies every
 * response it gets; a transition taken before is taken again by reference, which is what
 * computing it again would give.
 */
class FlowState {
  /** Shared: never changed again (a change makes a copy). */
  frozen = false;
  /**
   * Where a transition that gave this state is recorded, while only the proxy that computed it
   * holds it: the proxy may still change it in place (the record goes), and it is frozen once
   * another proxy takes the transition. A proxy whose responses are its own thus never copies.
   */
  recordedIn: { readonly byKind: Map<string, Transition>; readonly kind: string } | undefined;
  /** From a frozen state: response (its resources, as read and shared) → kind of response → transition. */
  transitions: WeakMap<readonly WireResource[], Map<string, Transition>> | undefined;
  /** EDS cluster → the ClusterLoadAssignment it asks for. */
  readonly clusterEds: Map<string, string>;
  readonly listenerRoutes: Map<string, readonly string[]>;
  readonly eds: NameSubscription;
  readonly rds: NameSubscription;
  readonly sds: NameSubscription;
  /** The secrets each cluster / listener names over ADS (only those that name some). */
  readonly clusterSecrets: Map<string, readonly string[]>;
  readonly listenerSecrets: Map<string, readonly string[]>;
  /** Route configurations held in their VHDS form → the virtual hosts held for each. */
  readonly vhdsRoutes: Map<string, Set<string>>;
  /** VHDS route configurations none of whose virtual hosts arrived yet (Envoy's RDS init waits for them). */
  readonly vhdsAwaiting: Set<string>;
  vhdsSubscribed = false;
  gotCds = false;
  gotLds = false;
  ldsRequested = false;
  expectedFound = 0;
  readonly clusters: Set<string>;

  constructor(from?: FlowState) {
    this.clusterEds = new Map(from?.clusterEds);
    this.listenerRoutes = new Map(from?.listenerRoutes);
    this.eds = from ? from.eds.copy() : new NameSubscription();
    this.rds = from ? from.rds.copy() : new NameSubscription();
    this.sds = from ? from.sds.copy() : new NameSubscription();
    this.clusterSecrets = new Map(from?.clusterSecrets);
    this.listenerSecrets = new Map(from?.listenerSecrets);
    this.vhdsRoutes = new Map();
    if (from) for (const [k, v] of from.vhdsRoutes) this.vhdsRoutes.set(k, new Set(v));
    this.vhdsAwaiting = new Set(from?.vhdsAwaiting);
    this.clusters = new Set(from?.clusters);
    if (from) {
      flowTransitions.copies++;
      this.vhdsSubscribed = from.vhdsSubscribed;
      this.gotCds = from.gotCds;
      this.gotLds = from.gotLds;
      this.ldsRequested = from.ldsRequested;
      this.expectedFound = from.expectedFound;
    }
  }
}

/** A new proxy's state, one per set of expected clusters (the transitions from it are shared by the proxies that expect them). */
const initialStates = new WeakMap<ReadonlySet<string>, FlowState>();
function initialState(expected: ReadonlySet<string>): FlowState {
  let s = initialStates.get(expected);
  if (!s) {
    s = new FlowState();
    s.frozen = true;
    initialStates.set(expected, s);
  }
  return s;
}

const NO_CLUSTERS: ReadonlySet<string> = new Set();
/** The input of the initial_fetch_timeout's transition. */
const TIMED_OUT: readonly WireResource[] = [];

/** Transitions computed and taken by reference, and states copied, for tests and benches (counts of work done). */
export const flowTransitions = { computed: 0, shared: 0, copies: 0 };

/** Applies responses to a state: collects what to send. */
class Step {
  readonly sends: Subscribe[] = [];
  ldsTimer = false;

  constructor(
    readonly s: FlowState,
    private readonly expected: ReadonlySet<string>,
  ) {}

  private subscribe(type: ShortType, added: readonly string[], removed: readonly string[]): void {
    this.sends.push({ type, added, removed });
  }

  clusters(resources: readonly WireResource[], removed: readonly string[], fullState: boolean): void {
    const s = this.s;
    s.gotCds = true;
    if (fullState) {
      s.clusterEds.clear();
      s.clusters.clear();
      s.clusterSecrets.clear();
      s.expectedFound = 0;
    }
    for (const name of removed) {
      s.clusterEds.delete(name);
      s.clusterSecrets.delete(name);
      if (s.clusters.delete(name) && this.expected.has(name)) s.expectedFound--;
    }
    // Clusters only added (the full sync, a new service) add their EDS names; a cluster removed or
    // changed may leave an EDS name nobody asks for: then the subscription is worked out again.
    let recount = fullState || removed.length > 0;
    const named: string[] = [];
    for (const r of resources) {
      const name = intern(r.name);
      const held = s.clusters.size;
      s.clusters.add(name);
      if (s.clusters.size > held && this.expected.has(name)) s.expectedFound++;
      const refs = clusterRefs(r);
      // Istio's EDS service name is the cluster's own: no second lookup for it.
      const svc = refs.eds === undefined ? undefined : refs.eds === name ? name : intern(refs.eds);
      const old = s.clusterEds.get(name);
      if (svc !== old) {
        if (old !== undefined) recount = true;
        if (svc === undefined) s.clusterEds.delete(name);
        else {
          s.clusterEds.set(name, svc);
          named.push(svc);
        }
      }
      noteSecrets(s.clusterSecrets, name, refs.secrets);
    }
    if (recount) {
      const { added, removed: dropped } = s.eds.want(new Set(s.clusterEds.values()));
      if (added.length || dropped.length) this.subscribe("eds", added, dropped);
    } else {
      const added = s.eds.add(named);
      if (added.length) this.subscribe("eds", added, []);
    }
    this.wantSecrets();
    if (this.clustersWarm) this.requestListeners();
    else if (!s.ldsRequested) this.ldsTimer = true;
  }

  endpoints(resources: readonly WireResource[]): void {
    for (const r of resources) this.s.eds.received(r.name);
    if (this.clustersWarm) this.requestListeners();
  }

  secrets(resources: readonly WireResource[]): void {
    for (const r of resources) this.s.sds.received(r.name);
    if (this.clustersWarm) this.requestListeners();
  }

  /**
   * Every cluster has what it warms on: its endpoints and its secrets (before listeners are asked
   * for, a pending secret can only be a cluster's).
   */
  private get clustersWarm(): boolean {
    return this.s.eds.pending.size === 0 && this.s.sds.pending.size === 0;
  }

  /** Subscribes to the secrets the clusters and listeners name now, and drops the rest. */
  private wantSecrets(): void {
    const s = this.s;
    const wanted = new Set<string>();
    for (const m of [s.clusterSecrets, s.listenerSecrets]) for (const list of new Set(m.values())) for (const n of list) wanted.add(n);
    const { added, removed } = s.sds.want(wanted);
    if (added.length || removed.length) this.subscribe("sds", added, removed);
  }

  listeners(resources: readonly WireResource[], removed: readonly string[], fullState: boolean): void {
    const s = this.s;
    s.gotLds = true;
    if (fullState) {
      s.listenerRoutes.clear();
      s.listenerSecrets.clear();
    }
    for (const name of removed) {
      s.listenerRoutes.delete(name);
      s.listenerSecrets.delete(name);
    }
    for (const r of resources) {
      const name = intern(r.name);
      s.listenerRoutes.set(name, listenerRouteNames(r).map(intern));
      noteSecrets(s.listenerSecrets, name, sdsSecretNames(r, "listener"));
    }
    this.wantSecrets();
    const wanted = new Set<string>();
    for (const names of s.listenerRoutes.values()) for (const n of names) wanted.add(n);
    const { added, removed: dropped } = s.rds.want(wanted);
    for (const n of dropped) this.dropVhdsRoute(n);
    if (added.length || dropped.length) this.subscribe("rds", added, dropped);
  }

  routes(resources: readonly WireResource[], removed: readonly string[]): void {
    const s = this.s;
    for (const r of resources) {
      const name = intern(r.name);
      s.rds.received(name);
      if (!routeUsesVhds(r)) this.dropVhdsRoute(name);
      else if (!s.vhdsRoutes.has(name)) {
        s.vhdsRoutes.set(name, new Set());
        s.vhdsAwaiting.add(name);
      }
    }
    for (const n of removed) this.dropVhdsRoute(n);
    if (s.vhdsRoutes.size > 0 && !s.vhdsSubscribed) {
      s.vhdsSubscribed = true;
      this.subscribe("vhds", [], []);
    }
  }

  virtualHosts(resources: readonly WireResource[], removed: readonly string[]): void {
    const s = this.s;
    for (const r of resources) {
      const route = vhostRoute(r.name);
      const held = s.vhdsRoutes.get(route);
      if (!held) continue;
      held.add(intern(r.name));
      s.vhdsAwaiting.delete(route);
    }
    for (const n of removed) s.vhdsRoutes.get(vhostRoute(n))?.delete(n);
  }

  private dropVhdsRoute(name: string): void {
    this.s.vhdsRoutes.delete(name);
    this.s.vhdsAwaiting.delete(name);
  }

  requestListeners(): void {
    if (this.s.ldsRequested) return;
    this.s.ldsRequested = true;
    this.subscribe("lds", ["*"], []);
  }
}

export class EnvoyFlow {
  private state: FlowState;
  private ldsTimer: NodeJS.Timeout | undefined;
  /** Cluster names that must be present before the proxy counts as synced (the mesh the run generated). */
  private readonly expected: ReadonlySet<string>;

  constructor(
    private readonly sender: FlowSender,
    expectClusters: ReadonlySet<string> = NO_CLUSTERS,
    private readonly initialFetchTimeoutMs = INITIAL_FETCH_TIMEOUT_MS,
  ) {
    this.expected = expectClusters;
    this.state = initialState(expectClusters);
  }

  get eds(): NameSubscription {
    return this.state.eds;
  }
  get rds(): NameSubscription {
    return this.state.rds;
  }
  get sds(): NameSubscription {
    return this.state.sds;
  }
  get gotCds(): boolean {
    return this.state.gotCds;
  }
  get gotLds(): boolean {
    return this.state.gotLds;
  }

  start(): void {
    this.sender.subscribe("cds", ["*"], []);
  }

  /**
   * Applies a response (`kind` tells the kind of response and what else it carried): by a
   * transition taken before when the state is shared and the resources are (`shared`: read once
   * for every proxy that got the same bytes), else on the proxy's own state.
   */
  private apply(resources: readonly WireResource[], shared: boolean, kind: string, run: (step: Step) => void): void {
    let s = this.state;
    let t: Transition | undefined;
    if (s.frozen && shared) {
      let byKind = s.transitions?.get(resources);
      t = byKind?.get(kind);
      if (t) {
        flowTransitions.shared++;
        t.state.frozen = true;
      } else {
        const step = new Step(new FlowState(s), this.expected);
        run(step);
        flowTransitions.computed++;
        t = { state: step.s, sends: step.sends, ldsTimer: step.ldsTimer };
        s.transitions ??= new WeakMap();
        if (!byKind) s.transitions.set(resources, (byKind = new Map()));
        byKind.set(kind, t);
        step.s.recordedIn = { byKind, kind };
      }
    } else {
      if (s.frozen) s = new FlowState(s);
      else if (s.recordedIn) {
        s.recordedIn.byKind.delete(s.recordedIn.kind);
        s.recordedIn = undefined;
      }
      const step = new Step(s, this.expected);
      run(step);
      flowTransitions.computed++;
      t = { state: s, sends: step.sends, ldsTimer: step.ldsTimer };
    }
    this.take(t);
  }

  private take(t: Transition): void {
    this.state = t.state;
    for (const x of t.sends) this.sender.subscribe(x.type, x.added, x.removed);
    if (t.state.ldsRequested) this.stopTimer();
    else if (t.ldsTimer && !this.ldsTimer) {
      this.ldsTimer = setTimeout(() => this.requestListeners(), this.initialFetchTimeoutMs);
      this.ldsTimer.unref();
    }
  }

  /** Clusters arrived: `fullState` (SotW) replaces them all, else `removed` names go. */
  onClusters(resources: readonly WireResource[], removed: readonly string[], fullState: boolean, shared = false): void {
    this.apply(resources, shared, `cds${fullState ? "!" : ""} ${removed.join(" ")}`, (step) => step.clusters(resources, removed, fullState));
  }

  onEndpoints(resources: readonly WireResource[], shared = false): void {
    this.apply(resources, shared, "eds", (step) => step.endpoints(resources));
  }

  /** Secrets arrived (their bodies are never read). */
  onSecrets(resources: readonly WireResource[], shared = false): void {
    this.apply(resources, shared, "sds", (step) => step.secrets(resources));
  }

  onListeners(resources: readonly WireResource[], removed: readonly string[], fullState: boolean, shared = false): void {
    this.apply(resources, shared, `lds${fullState ? "!" : ""} ${removed.join(" ")}`, (step) => step.listeners(resources, removed, fullState));
  }

  /**
   * Route configurations arrived (`removed`: delta removals). One that names VHDS starts Envoy's
   * VHDS subscription: the first one sends the stream's one VirtualHost request, a wildcard (an
   * empty list), as Envoy 1.40 does; later ones share it and ask for nothing.
   */
  onRoutes(resources: readonly WireResource[], removed: readonly string[] = [], shared = false): void {
    this.apply(resources, shared, `rds ${removed.join(" ")}`, (step) => step.routes(resources, removed));
  }

  /** Virtual hosts arrived by VHDS: one whose route configuration is not held in VHDS form is dropped, as Envoy drops it. */
  onVirtualHosts(resources: readonly WireResource[], removed: readonly string[], shared = false): void {
    this.apply(resources, shared, `vhds ${removed.join(" ")}`, (step) => step.virtualHosts(resources, removed));
  }

  /** What the proxy holds and asks for now, sorted (to compare with a real Envoy's). */
  names(): { clusters: string[]; eds: string[]; listeners: string[]; rds: string[]; vhds: string[]; sds: string[] } {
    const s = this.state;
    return {
      clusters: [...s.clusters].sort(),
      eds: [...s.eds.names].sort(),
      listeners: [...s.listenerRoutes.keys()].sort(),
      rds: [...s.rds.names].sort(),
      vhds: [...s.vhdsRoutes.values()].flatMap((x) => [...x]).sort(),
      sds: [...s.sds.names].sort(),
    };
  }

  /**
   * What keeps the proxy out of sync, each as "<type>: <why>" (empty once in sync): a type with
   * no response yet, names asked for and not received (how many, the first), expected clusters
   * not among those held, VHDS route configurations without virtual hosts.
   */
  waitingFor(): string[] {
    const s = this.state;
    const out: string[] = [];
    const first = (names: ReadonlySet<string>): string => {
      const n = names.values().next().value;
      return names.size > 1 ? `${n} and ${names.size - 1} more` : String(n);
    };
    if (!s.gotCds) out.push("CDS: no response");
    else if (s.expectedFound < this.expected.size) {
      const absent = [...this.expected].find((n) => !s.clusters.has(n));
      out.push(`CDS: ${this.expected.size - s.expectedFound} of ${this.expected.size} expected clusters absent (${absent})`);
    }
    if (s.eds.pending.size) out.push(`EDS: ${s.eds.pending.size} of ${s.eds.names.size} not received (${first(s.eds.pending)})`);
    if (s.sds.pending.size) out.push(`SDS: ${s.sds.pending.size} of ${s.sds.names.size} not received (${first(s.sds.pending)})`);
    if (!s.ldsRequested) out.push("LDS: not asked for yet (clusters still warming)");
    else if (!s.gotLds) out.push("LDS: no response");
    if (s.rds.pending.size) out.push(`RDS: ${s.rds.pending.size} of ${s.rds.names.size} not received (${first(s.rds.pending)})`);
    if (s.vhdsAwaiting.size) out.push(`VHDS: no virtual host yet for ${s.vhdsAwaiting.size} route configuration(s) (${first(s.vhdsAwaiting)})`);
    return out;
  }

  /** Holds CDS, LDS, every EDS, RDS and SDS it asked for, virtual hosts of each VHDS route configuration, and every expected cluster. */
  get synced(): boolean {
    const s = this.state;
    return (
      s.gotCds &&
      s.gotLds &&
      s.eds.pending.size === 0 &&
      s.rds.pending.size === 0 &&
      s.sds.pending.size === 0 &&
      s.vhdsAwaiting.size === 0 &&
      s.expectedFound === this.expected.size
    );
  }

  /** Envoy's initial_fetch_timeout ran out: listeners are asked for although clusters are not warm. */
  private requestListeners(): void {
    this.ldsTimer = undefined;
    if (this.state.ldsRequested) return;
    // A transition too: a fleet that waits on a slow server times out in the same state.
    this.apply(TIMED_OUT, true, "lds timeout", (step) => step.requestListeners());
  }

  private stopTimer(): void {
    if (this.ldsTimer) clearTimeout(this.ldsTimer);
    this.ldsTimer = undefined;
  }

  /** A new stream: everything subscribed is asked for again (Envoy re-sends its subscriptions on reconnect). */
  resubscribe(): void {
    for (const t of this.subscribedTypes()) {
      if (t === "cds" || t === "lds") this.sender.subscribe(t, ["*"], []);
      else if (t === "vhds") this.sender.subscribe(t, [], []);
      else this.sender.subscribe(t, [...this.state[t].names], []);
    }
  }

  /** The types the proxy subscribes to now (what a new stream asks for again). */
  subscribedTypes(): ShortType[] {
    const s = this.state;
    const out: ShortType[] = ["cds"];
    if (s.eds.names.size) out.push("eds");
    if (s.sds.names.size) out.push("sds");
    if (s.ldsRequested) out.push("lds");
    if (s.rds.names.size) out.push("rds");
    if (s.vhdsSubscribed) out.push("vhds");
    return out;
  }

  stop(): void {
    this.stopTimer();
  }
}
