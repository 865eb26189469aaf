// What the ADS server tells the outside world: a status table per connected proxy (for
// `proxy-status` and the debug endpoint) and events (for Prometheus). The debug layer turns
// events into `pilot_xds`, `pilot_xds_pushes{type}`, `pilot_total_xds_rejects{type}` and
// `pilot_xds_push_time`; xds/ itself stays free of the metrics library.

export type ShortType = "cds" | "eds" | "lds" | "rds" | "vhds" | "sds";
export type Transport = "sotw" | "delta";

export interface NackRecord {
  /** The version the proxy refused (the one sent with the NACKed nonce). */
  readonly version: string;
  readonly nonce: string;
  /** Envoy's `error_detail.message`. */
  readonly message: string;
  readonly at: Date;
}

/**
 * Where one type of one proxy stands, in `istioctl proxy-status` words: nothing sent yet, the
 * last response ACKed, sent and not answered yet, or refused (the last response was NACKed).
 */
export type SyncState = "SYNCED" | "NOT SENT" | "STALE" | "NACKED";

/** The state a proxy's type is in, from the nonces: the last response sent is what is judged. */
export function syncState(t: {
  readonly nonceSent: string;
  readonly nonceAcked: string;
  readonly lastNack?: { readonly nonce: string } | undefined;
}): SyncState {
  if (t.nonceSent === "") return "NOT SENT";
  if (t.lastNack !== undefined && t.lastNack.nonce === t.nonceSent) return "NACKED";
  return t.nonceAcked === t.nonceSent ? "SYNCED" : "STALE";
}

export interface TypeSyncStatus {
  readonly state: SyncState;
  /** SotW `version_info` / delta `system_version_info` of the last response; "" if none. */
  readonly versionSent: string;
  readonly nonceSent: string;
  /** Version and nonce of the last response the proxy ACKed. */
  readonly versionAcked: string;
  readonly nonceAcked: string;
  /** When the proxy last ACKed this type. */
  readonly ackedAt?: Date;
  readonly lastNack?: NackRecord;
  readonly nacks: number;
  readonly wildcard: boolean;
  /** Explicitly subscribed names (besides a wildcard). */
  readonly subscribed: number;
  /** A response is owed (a change not pushed yet). */
  readonly pending: boolean;
}

export interface ProxySyncStatus {
  readonly id: string;
  readonly cluster: string;
  readonly viewKey: string;
  readonly transport: Transport;
  readonly connectedSince: Date;
  /** Envoy's version, from the node's user agent. */
  readonly proxyVersion?: string;
  /** The `control_plane.identifier` this server sends. */
  readonly controlPlane: string;
  readonly types: Partial<Record<ShortType, TypeSyncStatus>>;
}

/** Optional hooks; every method may be omitted. They must not throw. */
export interface XdsObserver {
  onConnect?(proxyId: string, viewKey: string, transport: Transport): void;
  onDisconnect?(proxyId: string, viewKey: string, transport: Transport): void;
  /**
   * A response was written. `seconds`: from the snapshot `set` (or the request) that caused it
   * to the write. `removedCount`: names the response reported removed (delta only).
   */
  onPush?(type: ShortType, proxyId: string, bytes: number, resourceCount: number, seconds: number, removedCount: number): void;
  onNack?(type: ShortType, proxyId: string, message: string): void;
}
