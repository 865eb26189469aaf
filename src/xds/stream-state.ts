// Per stream, per type URL: what the proxy subscribed to, what we sent, what it ACKed or
// refused, and whether a response is owed. Kept in one place so SotW and delta streams report
// the same status fields.
import { KnownVersions } from "./known.js";
import type { InFlight } from "./push-scheduler.js";
import { NameSet } from "./name-set.js";
import type { ResourceMap } from "./snapshot.js";
import { syncState, type NackRecord, type TypeSyncStatus } from "./observer.js";

/**
 * The last response of a type the proxy has not answered yet (ACK or NACK); while it is, its bytes
 * may count against the push scheduler's cap (as its InFlight). `since`: when the proxy last kept
 * up on this type (a newer response inherits it from the one it supersedes).
 */
export interface Unanswered extends InFlight {
  readonly nonce: string;
  since: number;
}

/** What a delta request changed in a subscription. */
export interface SubscriptionChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly wildcardAdded: boolean;
}

const UNCHANGED: SubscriptionChange = Object.freeze({ added: Object.freeze([]), removed: Object.freeze([]), wildcardAdded: false });

/** The resource names a proxy asked for on one type. */
export class Subscription {
  /** Wildcard: every resource of the type in the view (explicit `*` or legacy empty request). */
  wildcard = false;
  readonly names = new NameSet();
  /** A name (or `*`) was ever sent for this type; after that an empty list means "nothing". */
  private explicit = false;

  covers(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  get empty(): boolean {
    return !this.wildcard && this.names.size === 0;
  }

  /**
   * SotW: each request carries the full list. An empty list is wildcard only for LDS/CDS and
   * only while no name was ever sent (legacy wildcard); otherwise it unsubscribes everything.
   * Returns whether the subscription grew (names added, or wildcard switched on).
   */
  replace(names: readonly string[], wildcardType: boolean): boolean {
    const wasWildcard = this.wildcard;
    let grew = false;
    if (names.length === 0) {
      this.wildcard = wildcardType && !this.explicit;
      this.names.clear();
    } else {
      this.explicit = true;
      this.wildcard = names.includes("*");
      const next = new Set(names.filter((n) => n !== "*"));
      for (const n of next) if (!this.names.has(n)) grew = true;
      // Most requests (ACKs) repeat the list: keep the set (and its shared form) as it is.
      if (grew || next.size !== this.names.size) {
        this.names.clear();
        for (const n of next) this.names.add(n);
      }
    }
    return grew || (this.wildcard && !wasWildcard);
  }

  /**
   * Delta: subscription changes. `first`: the stream's first request for this type, where an
   * empty subscribe list means legacy wildcard for LDS/CDS (Envoy sent wildcard that way).
   * `whole`: the map whose names `subscribe` is exactly (connection.ts wholeMapOf), if known.
   * Returns the names explicitly (re)subscribed and the names unsubscribed.
   */
  apply(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean, wildcardType: boolean, whole?: ResourceMap): SubscriptionChange {
    if (!first && subscribe.length === 0 && unsubscribe.length === 0) return UNCHANGED; // an ACK, usually
    // `subscribe` is exactly `whole`'s names (no "*" among them), into an empty subscription.
    if (whole && this.names.size === 0 && unsubscribe.length === 0) {
      this.explicit = true;
      this.names.cover(whole);
      return { added: subscribe, removed: [], wildcardAdded: false };
    }
    const wasWildcard = this.wildcard;
    if (first && subscribe.length === 0 && wildcardType && !this.explicit) this.wildcard = true;
    const added: string[] = [];
    const removed: string[] = [];
    for (const n of subscribe) {
      this.explicit = true;
      if (n === "*") this.wildcard = true;
      else {
        this.names.add(n);
        added.push(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === "*") this.wildcard = false;
      else if (this.names.delete(n)) removed.push(n);
    }
    return { added, removed, wildcardAdded: this.wildcard && !wasWildcard };
  }
}

/**
 * "none": nothing owed. "changed": the snapshot changed; respond only if this proxy's view of it
 * did. "force": a response is owed even if nothing changed (initial request, new names, EDS
 * after CDS).
 */
export type Pending = "none" | "changed" | "force";

export class TypeState {
  readonly sub = new Subscription();
  pending: Pending = "none";
  /** `performance.now()` when the oldest still-owed reason for a response arose. */
  pendingSince = 0;
  versionSent = "";
  nonceSent = "";
  versionAcked = "";
  nonceAcked = "";
  /** `Date.now()` of the last ACK; 0 before any. A number, not a Date: one per type per stream. */
  ackedAt = 0;
  lastNack: NackRecord | undefined;
  nacks = 0;
  /**
   * name → version the proxy has: SotW, what the last response carried (named subscriptions
   * only); delta, what we sent or the proxy declared in `initial_resource_versions`.
   */
  readonly known = new KnownVersions();
  /** The response of this type sent and not answered yet (connection.ts). */
  unanswered: Unanswered | undefined = undefined;

  owe(kind: "changed" | "force", at: number): void {
    if (this.pending === "none") this.pendingSince = at;
    if (kind === "force" || this.pending === "none") this.pending = kind;
  }

  settle(): void {
    this.pending = "none";
  }

  /** Record a NACK. Returns true if it is news (not a repeat of the last NACK). */
  nack(nonce: string, message: string): boolean {
    const version = nonce !== "" && nonce === this.nonceSent ? this.versionSent : "";
    const repeat = this.lastNack?.version === version && this.lastNack.message === message;
    this.lastNack = { version, nonce, message, at: new Date() };
    this.nacks++;
    return !repeat;
  }

  ack(nonce: string, version: string): void {
    this.nonceAcked = nonce;
    this.versionAcked = version;
    this.ackedAt = Date.now();
  }

  status(): TypeSyncStatus {
    return {
      state: syncState(this),
      versionSent: this.versionSent,
      nonceSent: this.nonceSent,
      versionAcked: this.versionAcked,
      nonceAcked: this.nonceAcked,
      ...(this.ackedAt > 0 ? { ackedAt: new Date(this.ackedAt) } : {}),
      ...(this.lastNack ? { lastNack: this.lastNack } : {}),
      nacks: this.nacks,
      wildcard: this.sub.wildcard,
      subscribed: this.sub.names.size,
      pending: this.pending !== "none",
    };
  }
}
