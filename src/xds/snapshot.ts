import type { TypeUrl } from "./type-urls.js";

/** One encoded xDS resource: `body` is the serialized Envoy message (the `Any.value`). */
export interface Resource {
  readonly name: string;
  /** Content hash of `body`; doubles as the delta per-resource version. */
  readonly version: string;
  readonly body: Uint8Array;
}

export type ResourceMap = ReadonlyMap<string, Resource>;

/**
 * Everything one class of proxies gets. Immutable: a change produces a new Snapshot that reuses
 * the unchanged Resource objects (and their bytes).
 */
export interface Snapshot {
  /** Per type: a hash over the (name, version) pairs; the SotW `version_info`. */
  readonly versions: ReadonlyMap<TypeUrl, string>;
  readonly resources: ReadonlyMap<TypeUrl, ResourceMap>;
  /**
   * This snapshot as a stream that takes VHDS, or one that does not, sees it (route-form.ts): made
   * by the first stream that asks, kept here rather than in a weak map, whose table every view's
   * new snapshot on every change grew until the next full collection.
   */
  vhdsForm?: Snapshot;
  wholeForm?: Snapshot;
}

/** What the server knows of a connecting Envoy (from the first request's `node`). */
export interface NodeInfo {
  readonly id: string;
  readonly cluster: string;
  /** `node.metadata` as plain JSON. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** `node.locality`, when set (locality load balancing is relative to it). */
  readonly locality?: { readonly region: string; readonly zone: string; readonly subZone: string };
  readonly userAgentName?: string;
  readonly userAgentVersion?: string;
}

/**
 * The bridge between the pipeline and the ADS server. The server groups streams by key and follows
 * that key's Snapshot; a key never changes for a stream. Proxies of one key must receive identical
 * config; the provider may also give several keys one and the same Snapshot object (proxies that
 * differ only in what no configuration reads), and move a key to another Snapshot on any build.
 */
export interface ViewProvider {
  /**
   * The view key for a node, or a reason to refuse the stream (e.g. a malformed node id). With
   * the key, the node's namespace: the secure port serves a node only to an identity of it.
   */
  viewKey(node: NodeInfo): { readonly key: string; readonly namespace?: string } | { readonly error: string };
  /**
   * The first stream of a view opened. The provider answers by calling SnapshotCache.set(key, …),
   * possibly later (e.g. only after every source has synced): until then streams wait.
   */
  activate(key: string, node: NodeInfo): void;
  /** The last stream of a view closed. */
  deactivate(key: string): void;
}
