// A type's SotW version: a digest of its (name, version) pairs, whatever their order. The pairs'
// digests are added up lane by lane (modulo 2^32), so a map that patchMap made from a versioned
// one is versioned from that sum and the replaced pairs alone: after an endpoint change a shared
// part's thousands of ClusterLoadAssignments are neither sorted nor hashed again.
import { hash } from "node:crypto";
import { EncodedResource } from "./encoded-resource.js";
import { LayeredMap } from "./layered-map.js";
import { patchOf } from "./map-patch.js";
import type { Resource, ResourceMap } from "./snapshot.js";

/** 128 bits of a pair's SHA-256: a sum of random 128-bit values does not collide by chance. */
const LANES = 4;
/** Hex characters kept, as for a resource's version. */
const VERSION_HEX = 16;

/** Maps are immutable: each is summed and versioned once. */
const sums = new WeakMap<ResourceMap, Uint32Array>();
const versions = new WeakMap<ResourceMap, string>();

/** The (name, version) pairs hashed since the process started: the work versions cost (tests count it). */
export const typeVersionWork = { pairsHashed: 0 };

/**
 * Each Resource's pair digest, once: an unchanged resource keeps its object across builds, so a
 * map rebuilt around a few new resources (a route edit's) hashes only those. An EncodedResource
 * keeps its own; this holds other resources'.
 */
const pairDigests = new WeakMap<Resource, Uint32Array>();

/**
 * The first 128 bits of `text`'s SHA-256 as four little-endian 32-bit lanes. Read from the hex
 * digest: a digest as a Buffer is an array buffer of its own per call, which made the one-shot
 * hash several times slower than the hashing itself (thousands of pairs per build).
 */
export function digestLanes(text: string): Uint32Array {
  const hex = hash("sha256", text, "hex");
  const lanes = new Uint32Array(LANES);
  for (let k = 0; k < LANES; k++) {
    let v = 0;
    // Byte j of the lane is its j-th least significant: hex characters 2(4k+j) and the next.
    for (let j = 3; j >= 0; j--) {
      const at = (k * 4 + j) * 2;
      v = (v << 8) | (hexDigit(hex.charCodeAt(at)) << 4) | hexDigit(hex.charCodeAt(at + 1));
    }
    lanes[k] = v >>> 0;
  }
  return lanes;
}

/** A lowercase hex digit's value (what the hex digest holds). */
function hexDigit(c: number): number {
  return c <= 57 ? c - 48 : c - 87;
}

function addPair(sum: Uint32Array, name: string, r: Resource, version: string, sign: 1 | -1): void {
  const own = name === r.name && version === r.version;
  let d = own ? (EncodedResource.pairOf(r) ?? pairDigests.get(r)) : undefined;
  if (d === undefined) {
    typeVersionWork.pairsHashed++;
    d = digestLanes(`${name}\0${version}`);
    if (own && !EncodedResource.setPair(r, d)) pairDigests.set(r, d);
  }
  // A Uint32Array stores each lane modulo 2^32, negative sums included.
  for (let i = 0; i < LANES; i++) sum[i] = sum[i]! + sign * d[i]!;
}

function sumOf(map: ResourceMap): Uint32Array {
  let sum = sums.get(map);
  if (sum !== undefined) return sum;
  const patch = patchOf(map);
  const base = patch?.base.deref();
  const baseSum = base === undefined ? undefined : sums.get(base);
  if (patch !== undefined && baseSum !== undefined) {
    sum = baseSum.slice();
    for (const [old, r] of patch.replaced) {
      addPair(sum, r.name, old, old.version, -1);
      addPair(sum, r.name, r, r.version, 1);
    }
  } else {
    sum = new Uint32Array(LANES);
    for (const [name, r] of map) addPair(sum, name, r, r.version, 1);
  }
  sums.set(map, sum);
  return sum;
}

/** The SotW version of one type's resources. */
export function typeVersion(resources: ResourceMap): string {
  let version = versions.get(resources);
  if (version !== undefined) return version;
  // A view's own resources over a shared map: the shared map's version stands for its pairs, so
  // that each view sums its few own resources, not the thousands it shares.
  const text =
    resources instanceof LayeredMap
      ? `layered\0${typeVersion(resources.shared)}\0${Buffer.from(sumOf(resources.own).buffer).toString("hex")}`
      : Buffer.from(sumOf(resources).buffer);
  version = hash("sha256", text, "hex").slice(0, VERSION_HEX);
  versions.set(resources, version);
  return version;
}
