// The xds/ layer's public surface for the pipeline, debug and cli layers.
export { TYPE_URL, PUSH_ORDER, SHORT_TYPE, isKnownTypeUrl, isWildcardType, type TypeUrl } from "./type-urls.js";
export type { Resource, ResourceMap, Snapshot, NodeInfo, ViewProvider } from "./snapshot.js";
export { encodeResources, snapshotFrom, typeVersion, contentVersion, type EncodeItem } from "./encode.js";
export { envoyRegistry } from "./registry.js";
export { SnapshotCache, type SnapshotListener } from "./snapshot-cache.js";
export { XdsServer, DEFAULT_XDS_ADDRESS, type XdsServerOptions } from "./server.js";
export type { XdsObserver, ProxySyncStatus, TypeSyncStatus, NackRecord, ShortType, Transport } from "./observer.js";
export { adsServiceDefinition, SOTW_METHOD_PATH, DELTA_METHOD_PATH } from "./service-definition.js";
