// Incremental ADS (DeltaAggregatedResources), xds-protocol.md §1.6:
// - subscription changes are applied from every request, even one with a stale nonce;
// - every name in resource_names_subscribe that exists is sent, even if the proxy has it;
// - otherwise only resources whose version differs from what the proxy has are sent, and names
//   the proxy has that no longer exist go in removed_resources;
// - on reconnect, initial_resource_versions tells what the proxy has: a name it declares at the
//   current version is not sent again, even when the same request (re)subscribes it;
// - a NACK is recorded and nothing is re-sent: what we sent counts as "what the proxy has", so
//   only a newer version (or an explicit re-subscribe) goes out again.
import type { DeltaDiscoveryRequest } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { type Built, Connection, wholeMapOf } from "./connection.js";
import { mapDiff } from "./map-diff.js";
import { NameSet } from "./name-set.js";
import type { Resource, ResourceMap, Snapshot } from "./snapshot.js";
import { TypeState } from "./stream-state.js";
import { usesVhds, vhdsRouteOf } from "./route-delivery.js";
import { isDeltaWildcardType, TYPE_URL, type TypeUrl } from "./type-urls.js";
import { decodeDeltaRequest } from "./service-definition.js";
import { deltaPieces, stepDeltaPieces, wholeDeltaPieces } from "./wire.js";

class DeltaTypeState extends TypeState {
  /** The stream has seen a request of this type (the first one is special). */
  seen = false;
  /** Names (re)subscribed since the last response: sent if they exist. */
  readonly resend = new NameSet();
  /** Names unsubscribed while wildcard: the proxy must hear they are gone if they do not exist. */
  readonly removeIfMissing = new Set<string>();
}

const EMPTY: ResourceMap = new Map();

/**
 * Types whose subscribed-but-missing names are answered in removed_resources, the delta way of
 * saying "does not exist" (xds-protocol.md §1.5). Envoy then finishes warming the cluster or
 * listener that waits for them, with no endpoints or routes, instead of waiting forever (and, for
 * a cluster, holding back CDS: after a restart a deleted service's cluster would stay warming).
 * Not SDS: Envoy refuses an SDS update that lacks its secret.
 */
const SIGNAL_MISSING: ReadonlySet<TypeUrl> = new Set([TYPE_URL.endpoint, TYPE_URL.route]);

/** Whether every resource of `resources` is in `names` (a loop: a closure per stream's response is garbage). */
function subscribedAll(names: NameSet, resources: readonly Resource[]): boolean {
  for (let i = 0; i < resources.length; i++) if (!names.has(resources[i]!.name)) return false;
  return true;
}

const routeNames = new WeakMap<ResourceMap, ReadonlySet<string>>();
/** The route configurations a map of VHDS virtual hosts belongs to. */
function routesOf(vhosts: ResourceMap): ReadonlySet<string> {
  let known = routeNames.get(vhosts);
  if (!known) {
    known = new Set([...vhosts.keys()].map(vhdsRouteOf));
    routeNames.set(vhosts, known);
  }
  return known;
}

export class DeltaConnection extends Connection<DeltaDiscoveryRequest> {
  readonly transport = "delta" as const;
  /**
   * Route configurations the proxy holds in their VHDS form: only their virtual hosts may go out
   * (Envoy drops a virtual host whose route configuration it does not hold yet, and never asks
   * again), and a route configuration joining this set owes its virtual hosts.
   */
  private readonly vhdsHeld = new Set<string>();
  /** Changes made to `vhdsHeld`; route names all held in VHDS form after `heldAllAt` of them (see deliverable). */
  private heldChanges = 0;
  private heldAll: ReadonlySet<string> | undefined;
  private heldAllAt = -1;
  /** The route configuration versions a reconnecting proxy declared, until matched to a snapshot. */
  private reconnectRoutes: Readonly<Record<string, string>> | undefined;

  protected decode(raw: Uint8Array): DeltaDiscoveryRequest {
    return decodeDeltaRequest(raw);
  }

  protected newTypeState(): TypeState {
    return new DeltaTypeState();
  }

  protected handleRequest(req: DeltaDiscoveryRequest, type: TypeUrl, state: TypeState, at: number): void {
    const st = state as DeltaTypeState;
    const first = !st.seen;
    st.seen = true;
    // An ACK (or NACK) names nothing: its subscription stands, and nothing is owed for it.
    const subscribing = first || req.resourceNamesSubscribe.length > 0 || req.resourceNamesUnsubscribe.length > 0;
    const changed = subscribing && this.subscribe(req, type, st, first);

    const nonce = req.responseNonce;
    if (nonce !== "") {
      if (req.errorDetail) this.recordNack(type, st, nonce, req.errorDetail.message);
      else if (nonce === st.nonceSent) st.ack(nonce, st.versionSent);
      // A stale nonce only means a newer response is in flight; the subscription change above
      // still counts (the spec forbids rejecting stale delta requests).
    }
    if (first)
      st.owe("force", at); // always answer a type's first request, even with nothing
    else if (changed) st.owe("changed", at);
  }

  /** Apply a request's subscription changes; true when they owe the proxy a response. */
  private subscribe(req: DeltaDiscoveryRequest, type: TypeUrl, st: DeltaTypeState, first: boolean): boolean {
    if (first) {
      for (const [name, version] of Object.entries(req.initialResourceVersions)) st.known.set(name, version);
      if (type === TYPE_URL.route && this.vhds) this.reconnectRoutes = req.initialResourceVersions;
    }
    const wasWildcard = st.sub.wildcard;
    const names = this.canonicalNames(type, req.resourceNamesSubscribe);
    const whole = wholeMapOf(names);
    const { added, removed, wildcardAdded } = st.sub.apply(names, req.resourceNamesUnsubscribe, first, isDeltaWildcardType(type), whole);
    // A name subscribed on reconnect together with the version the proxy holds is compared by
    // version like any other, not re-sent: a restarted server would otherwise re-send every
    // CLA and route configuration Envoy still has. Names without a version are sent.
    const declared = first ? req.initialResourceVersions : undefined;
    // The view's every name, none declared (a first EDS request): re-send the map's names as they are.
    if (whole && added === names && st.resend.size === 0 && (!declared || Object.keys(declared).length === 0)) st.resend.cover(whole);
    else for (const n of added) if (!declared || !Object.hasOwn(declared, n)) st.resend.add(n);
    // Envoy's first EDS request names every cluster of the view, and the stream holds them (in its
    // subscription and to re-send) until its turn to be answered: in a full sync, most streams, at
    // ~160 KiB each for 3000 names. When they are the names of the view's map, share its keys.
    if (added.length > 0) {
      const current = this.viewKey === undefined ? undefined : this.snapshot()?.resources.get(type);
      if (current) {
        st.sub.names.adopt(current);
        st.resend.adopt(current);
      }
    }
    for (const n of removed) {
      if (st.sub.wildcard) {
        // Still covered by the wildcard: the proxy must get it back, or hear it is gone.
        st.resend.add(n);
        st.removeIfMissing.add(n);
      } else {
        st.known.delete(n); // unsubscribed: the proxy drops it, we forget it
        if (type === TYPE_URL.route) this.dropVhds(n);
      }
    }
    // What the proxy holds outside its subscription (unsubscribed "*", stray reconnect versions)
    // it drops; forget it too, so it is not "removed" or compared later. Only a subscription that
    // shrank (or a reconnect) can leave such names: do not walk every name on each ACK.
    if (first || removed.length > 0 || (wasWildcard && !st.sub.wildcard)) {
      for (const n of [...st.known.keys()]) if (!st.sub.covers(n)) st.known.delete(n);
    }
    return added.length > 0 || removed.length > 0 || wildcardAdded;
  }

  protected build(type: TypeUrl, state: TypeState, snapshot: Snapshot): Built | undefined {
    const st = state as DeltaTypeState;
    if (this.reconnectRoutes) this.heldAfterReconnect(this.reconnectRoutes, snapshot.resources.get(TYPE_URL.route) ?? EMPTY);
    const all = snapshot.resources.get(type) ?? EMPTY;
    const current = type === TYPE_URL.virtualHost ? this.deliverable(all) : all;
    const { send, removed, step } = this.changes(st, current, SIGNAL_MISSING.has(type));
    // Clearing a Set allocates a new table even when it is empty: most builds have nothing here.
    if (st.resend.size > 0) st.resend.clear();
    if (st.removeIfMissing.size > 0) st.removeIfMissing.clear();

    if (send.length === 0 && removed.length === 0 && st.pending !== "force") return undefined;
    if (type === TYPE_URL.cluster)
      this.reanswerEndpoints(
        send.filter((r) => st.known.has(r.name)).map((r) => r.name),
        st.pendingSince,
      );
    if (type === TYPE_URL.route && this.vhds) this.followVhdsRoutes(send, removed, st.pendingSince);
    // Sending everything (a proxy's first response of a type, typically): the proxy will hold
    // exactly `current` (anything else it held would be in `removed`), and the body is the same
    // for every proxy of the view, built once; only the nonce is per stream.
    const everything = removed.length === 0 && send.length === current.size;
    // A step of the whole held map to `current`: the proxy then holds `current` exactly.
    if (everything || step) st.known.rebase(current);
    else {
      for (const r of send) st.known.set(r.name, r.version);
      for (const n of removed) st.known.delete(n);
      // What the proxy holds is now a subset of `current` at current versions: if it is all of
      // it, share `current` instead of keeping a name → version map per proxy.
      if (st.known.size === current.size) st.known.rebase(current);
    }
    const nonce = this.nextNonce();
    const version = snapshot.versions.get(type) ?? "";
    st.versionSent = version;
    st.nonceSent = nonce;
    const message = everything
      ? wholeDeltaPieces(type, version, current, this.ctx.controlPlaneId, nonce)
      : step
        ? stepDeltaPieces(type, version, send, removed, nonce, this.ctx.controlPlaneId)
        : deltaPieces(type, version, send, removed, nonce, this.ctx.controlPlaneId);
    return { message, resourceCount: send.length, removedCount: removed.length };
  }

  /**
   * What to send (each name once) and what to report removed, from what the proxy holds. `step`:
   * they are the shared diff from the whole map the proxy holds to `current`, arrays every proxy
   * making that step is given (so its response bytes are built once, wire.ts).
   */
  private changes(st: DeltaTypeState, current: ResourceMap, signalMissing: boolean): { send: readonly Resource[]; removed: readonly string[]; step: boolean } {
    st.sub.names.adopt(current);
    const held = st.known.heldMap();
    if (held) {
      // The usual case: the proxy holds a whole earlier map of the view (or nothing); the step to
      // the current one is shared by every proxy making it (all it holds is subscribed).
      const diff = mapDiff(held, current);
      if (st.resend.size === 0 && (st.sub.wildcard || subscribedAll(st.sub.names, diff.changed)))
        return { send: diff.changed, removed: diff.removed, step: true };
      const removed = new Set<string>();
      // (Re)subscribed names go out even when the proxy has them; the others are in the diff.
      const send: Resource[] = [];
      for (const n of st.resend) {
        const r = current.get(n);
        if (r && held.get(n)?.version === r.version) send.push(r);
        else if (!r && (signalMissing || st.removeIfMissing.has(n) || held.has(n))) removed.add(n);
      }
      if (st.sub.wildcard) send.push(...diff.changed);
      else for (const r of diff.changed) if (st.sub.names.has(r.name)) send.push(r);
      for (const n of diff.removed) removed.add(n);
      return { send, removed: [...removed], step: false };
    }
    const removed = new Set<string>();
    const send = new Map<string, Resource>();
    for (const n of st.resend) {
      const r = current.get(n);
      if (r) send.set(n, r);
      else if (signalMissing || st.removeIfMissing.has(n) || st.known.has(n)) removed.add(n);
    }
    const consider = (r: Resource): void => {
      if (st.known.get(r.name) !== r.version) send.set(r.name, r);
    };
    if (st.sub.wildcard) for (const r of current.values()) consider(r);
    else
      for (const n of st.sub.names) {
        const r = current.get(n);
        if (r) consider(r);
      }
    for (const n of st.known.missingFrom(current)) removed.add(n);
    return { send: [...send.values()], removed: [...removed], step: false };
  }

  /**
   * Route configurations sent or removed: those the proxy now holds in VHDS form (Envoy starts a
   * VHDS subscription for each, on the stream's one wildcard) get their virtual hosts next, in
   * RDS → VHDS order; those it no longer holds that way take theirs out of what may be sent.
   */
  private followVhdsRoutes(sent: readonly Resource[], removed: readonly string[], at: number): void {
    let joined = false;
    for (const r of sent) {
      if (!usesVhds(r)) this.dropVhds(r.name);
      else if (!this.vhdsHeld.has(r.name)) {
        this.holdVhds(r.name);
        joined = true;
      }
    }
    for (const n of removed) this.dropVhds(n);
    if (joined) this.types.get(TYPE_URL.virtualHost)?.owe("changed", at);
  }

  /**
   * A reconnecting Envoy keeps its route configurations and their VHDS subscriptions: those it
   * declares at the current VHDS version are held in that form. (One at another version is sent
   * again, and followed then.)
   */
  private heldAfterReconnect(versions: Readonly<Record<string, string>>, routes: ResourceMap): void {
    this.reconnectRoutes = undefined;
    for (const [name, version] of Object.entries(versions)) {
      const r = routes.get(name);
      if (r && r.version === version && usesVhds(r)) this.holdVhds(name);
    }
  }

  private holdVhds(route: string): void {
    this.vhdsHeld.add(route);
    this.heldChanges++;
  }

  private dropVhds(route: string): void {
    if (this.vhdsHeld.delete(route)) this.heldChanges++;
  }

  /** The virtual hosts of the route configurations the proxy holds in VHDS form. */
  private deliverable(vhosts: ResourceMap): ResourceMap {
    const routes = routesOf(vhosts);
    // The usual case: one map, shared by every proxy of the view. Known from the last call while
    // neither the route names nor what the proxy holds changed (a route edit pushes to every
    // stream, and checking a thousand names each time cost more than the rest of its response).
    if (this.heldAll !== routes || this.heldAllAt !== this.heldChanges) {
      let all = true;
      for (const r of routes)
        if (!this.vhdsHeld.has(r)) {
          all = false;
          break;
        }
      this.heldAll = all ? routes : undefined;
      this.heldAllAt = this.heldChanges;
    }
    if (this.heldAll === routes) return vhosts;
    const out = new Map<string, Resource>();
    for (const [name, r] of vhosts) if (this.vhdsHeld.has(vhdsRouteOf(name))) out.set(name, r);
    return out;
  }

  /**
   * An updated cluster warms until it receives its ClusterLoadAssignment again, but Envoy's delta
   * subscription already holds that name, so it asks for nothing: re-send the CLAs of updated
   * clusters right after the CDS response (pushed next, in CDS → EDS order), as istiod does.
   */
  private reanswerEndpoints(updatedClusters: readonly string[], at: number): void {
    const eds = this.types.get(TYPE_URL.endpoint) as DeltaTypeState | undefined;
    if (!eds) return;
    let any = false;
    for (const name of updatedClusters) {
      if (!eds.sub.covers(name)) continue;
      eds.resend.add(name);
      any = true;
    }
    if (any) eds.owe("changed", at);
  }
}
