// What a load client counts per xDS type: responses, their bytes on the wire, the resources
// they carried (and those resources' own bytes, which do not depend on nonces or batching, so
// proxies of one view can be compared), and removals.
import { TYPE_URL, type TypeUrl } from "../xds/type-urls.js";

/**
 * `vhds`: virtual hosts by VHDS (delta streams of proxies that claim an Envoy that takes it);
 * `sds`: the Secrets the clusters and listeners ask for over ADS (counted, never kept or shown).
 */
export type ShortType = "cds" | "eds" | "lds" | "rds" | "vhds" | "sds";
export const SHORT_TYPES: readonly ShortType[] = ["cds", "eds", "lds", "rds", "vhds", "sds"];

export const TYPE_URL_OF: Readonly<Record<ShortType, TypeUrl>> = {
  cds: TYPE_URL.cluster,
  eds: TYPE_URL.endpoint,
  lds: TYPE_URL.listener,
  rds: TYPE_URL.route,
  vhds: TYPE_URL.virtualHost,
  sds: TYPE_URL.secret,
};

export const SHORT_OF: Readonly<Record<string, ShortType>> = {
  [TYPE_URL.cluster]: "cds",
  [TYPE_URL.endpoint]: "eds",
  [TYPE_URL.listener]: "lds",
  [TYPE_URL.route]: "rds",
  [TYPE_URL.virtualHost]: "vhds",
  [TYPE_URL.secret]: "sds",
};

export interface TypeCount {
  msgs: number;
  bytes: number;
  resources: number;
  /** Sum of the resource bodies' lengths (Any.value), independent of nonces and batching. */
  resourceBytes: number;
  removed: number;
  /** Delta: resources received at the version the proxy already held (a re-send; after a resume, what initial_resource_versions should have spared). */
  unchanged: number;
}

export type Counts = Record<ShortType, TypeCount>;

export function emptyCounts(): Counts {
  return { cds: zero(), eds: zero(), lds: zero(), rds: zero(), vhds: zero(), sds: zero() };
}

function zero(): TypeCount {
  return { msgs: 0, bytes: 0, resources: 0, resourceBytes: 0, removed: 0, unchanged: 0 };
}

/** The sum of `all`, a new value. */
export function sumCounts(all: Iterable<Counts>): Counts {
  const out = emptyCounts();
  for (const x of all) {
    for (const t of SHORT_TYPES) {
      out[t].msgs += x[t].msgs;
      out[t].bytes += x[t].bytes;
      out[t].resources += x[t].resources;
      out[t].resourceBytes += x[t].resourceBytes;
      out[t].removed += x[t].removed;
      out[t].unchanged += x[t].unchanged;
    }
  }
  return out;
}

export function copyCounts(c: Counts): Counts {
  return sumCounts([c]);
}

export function totalBytes(c: Counts): number {
  return SHORT_TYPES.reduce((a, t) => a + c[t].bytes, 0);
}
