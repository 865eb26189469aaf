// How route configurations travel: whole (inline virtual hosts) to state-of-the-world streams,
// and to delta streams of Envoys that take them, split by VHDS (Envoy's virtual host discovery):
// the RouteConfiguration keeps only its catch-all virtual host and names `vhds` over ADS, and
// every other virtual host is a resource of its own, so a VirtualService edit re-sends the one
// virtual host it changes instead of the whole route configuration (0.5–1 MB at 1000 services).
//
// What Envoy does (measured against Envoy 1.40; source/common/router/vhds.cc,
// route_config_update_receiver_impl.cc):
// - VHDS over ADS needs a delta ADS stream (`ads_config.api_type: DELTA_GRPC`), else Envoy NACKs.
// - Envoy subscribes to VirtualHost with an empty (wildcard) list and matches what it receives to
//   its route configurations by the part of the resource name before the `/`: a virtual host is
//   named `<route configuration>/<virtual host>`.
// - It removes a virtual host by matching `removed_resources` against VirtualHost.name, so that
//   name must be the resource name: Envoy's own config dump shows the prefixed names.
// - A virtual host that arrives before its route configuration is dropped, and a route
//   configuration that arrives later asks for nothing new (the wildcard is already on): the
//   server sends a route configuration's virtual hosts after the route configuration
//   (delta-stream.ts).
// - No `on_demand` filter: every virtual host is sent up front, as the wildcard asks.
// The catch-all (`*`) stays inline, so a route configuration always answers what it answered whole.
import type { EncodeCache } from "./encode-cache.js";
import { assembledOnce, contentVersion, digestText, encodeMessage, resourceOf, type Assembler } from "./encode.js";
import { patchMap, patchOf } from "./map-patch.js";
import { lenField, lenHeader } from "./proto-fields.js";
import { ownCopy } from "./wire.js";
import type { Resource, ResourceMap } from "./snapshot.js";
import { TYPE_URL } from "./type-urls.js";
import { digestLanes } from "./type-version.js";

/** What the translator gives: Envoy JSON of a RouteConfiguration (only these fields are read here). */
export interface RouteConfigurationLike {
  readonly name?: string;
  readonly virtualHosts?: readonly VirtualHostLike[];
}

interface VirtualHostLike {
  readonly name?: string;
  readonly domains?: readonly string[];
}

export interface EncodedRoutes {
  /** Every route configuration with its virtual hosts inline (SotW, dumps, non-VHDS clients). */
  readonly routes: ResourceMap;
  /** The virtual hosts that VHDS delivers, named `<route configuration>/<virtual host>`. */
  readonly virtualHosts: ResourceMap;
}

const VHDS_SOURCE = { configSource: { ads: {}, resourceApiVersion: "V3" } } as const;

/** An inline route configuration → its VHDS form, for those that have one. */
const splitForms = new WeakMap<Resource, Resource>();
/** Per inline map, the map of VHDS forms (shared by every VHDS stream of every view holding it). */
const splitMaps = new WeakMap<ResourceMap, ResourceMap>();
/** Per VHDS route configuration, whether it names VHDS. */
const namesVhds = new WeakSet<Resource>();

/** The VHDS resource name of virtual host `vhost` of route configuration `route`. */
export function vhdsName(route: string, vhost: string): string {
  return `${route}/${vhost}`;
}

/** The route configuration a VHDS virtual host belongs to. */
export function vhdsRouteOf(name: string): string {
  const slash = name.indexOf("/");
  return slash < 0 ? "" : name.slice(0, slash);
}

/** A virtual host travels by VHDS unless it is a catch-all or a name would not split cleanly. */
function delivered(route: string, vh: VirtualHostLike): boolean {
  return !(vh.domains ?? []).includes("*") && vh.name !== undefined && !vh.name.includes("/") && !route.includes("/");
}

/** How many bytes the leading `name` (field 1) of an encoded message takes, if it is `name`. */
function leadingName(body: Uint8Array, name: string): number | undefined {
  const expected = lenField(1, Buffer.from(name, "utf8"));
  return body.length >= expected.length && Buffer.compare(expected, body.subarray(0, expected.length)) === 0 ? expected.length : undefined;
}

/**
 * Encode route configurations in both forms. Each virtual host that VHDS delivers is encoded
 * once, under its VHDS name; the inline route configuration is assembled from those bytes (with
 * the name field swapped back), so an edit encodes the virtual hosts it changes, not the whole
 * route configuration. `previous` are the view's last maps; `shared` finds what other views encoded.
 */
export function encodeRoutes(
  routes: readonly RouteConfigurationLike[],
  previous?: { readonly routes?: ResourceMap; readonly virtualHosts?: ResourceMap },
  shared?: EncodeCache,
): EncodedRoutes {
  const out = new Map<string, Resource>();
  const delivered: (readonly Resource[])[] = [];
  // While every route configuration is the previous one of its place, or that one with some
  // virtual hosts replaced in place, the VHDS map is the previous one patched with those.
  const before = previous?.routes;
  const names = before !== undefined && previous?.virtualHosts !== undefined && before.size === routes.length ? before.keys() : undefined;
  let inPlace: Resource[] | undefined = names && [];
  for (const rc of routes) {
    const name = rc.name ?? "";
    if (out.has(name)) throw new Error(`rds resource "${name}": duplicate name (Envoy rejects a response with repeated names)`);
    // Views share translated objects: one seen before is known by identity, without hashing it.
    const same = shared?.ofJson(rc);
    const known = same?.name === name ? same : undefined;
    const built: Encoded = known ? { inline: known, vhosts: deliveredOf.get(known) ?? [] } : encodeRoute(rc, name, previous, shared);
    out.set(name, built.inline);
    delivered.push(built.vhosts);
    if (inPlace === undefined) continue;
    if (names!.next().value !== name) inPlace = undefined;
    else if (built.inline === before!.get(name)) continue;
    else if (built.replaced) inPlace.push(...built.replaced);
    else inPlace = undefined;
  }
  let virtualHosts: ResourceMap;
  if (inPlace !== undefined) {
    const patched = patchMap(previous!.virtualHosts!, inPlace);
    routeAssemblyStats.vhostsPatched += patched === previous!.virtualHosts ? 0 : patchOf(patched)!.replaced.length;
    virtualHosts = patched;
  } else virtualHosts = vhostMap(delivered, previous?.virtualHosts);
  return { routes: sameAs(out, previous?.routes), virtualHosts };
}

/**
 * One route configuration encoded: inline, its VHDS virtual hosts, and, when it is the previous
 * one of its name with some parts made again (each VHDS virtual host's name kept at its place),
 * the VHDS virtual hosts of those.
 */
interface Encoded {
  readonly inline: Resource;
  readonly vhosts: readonly Resource[];
  readonly replaced?: readonly Resource[];
}

/**
 * The VHDS virtual hosts in one map. When they are the previous map's names in its order (an edit
 * changed some virtual hosts, added or removed none), the previous map patched with the changed
 * ones: what is derived from maps (type versions, diffs, the encode cache's retained set) then
 * follows the edit, not the thousand virtual hosts around it.
 */
function vhostMap(delivered: readonly (readonly Resource[])[], previous: ResourceMap | undefined): ResourceMap {
  if (previous) {
    const names = previous.keys();
    const fresh: Resource[] = [];
    let count = 0;
    let inOrder = true;
    for (const list of delivered) {
      for (const v of list) {
        count++;
        routeAssemblyStats.vhostsWalked++;
        if (names.next().value !== v.name) {
          inOrder = false;
          break;
        }
        if (previous.get(v.name) !== v) fresh.push(v);
      }
      if (!inOrder) break;
    }
    if (inOrder && count === previous.size) {
      routeAssemblyStats.vhostsPatched += fresh.length;
      return patchMap(previous, fresh);
    }
  }
  const vhosts = new Map<string, Resource>();
  for (const list of delivered)
    for (const v of list) {
      if (vhosts.has(v.name)) throw new Error(`rds resource "${vhdsRouteOf(v.name)}": virtual host "${v.name.slice(v.name.indexOf("/") + 1)}" twice`);
      vhosts.set(v.name, v);
    }
  return vhosts;
}

/** The VHDS virtual hosts of an inline route configuration. */
const deliveredOf = new WeakMap<Resource, readonly Resource[]>();

/** `next`, or `previous` if it holds the same resources in the same order (what is keyed on map identity stays). */
function sameAs(next: ResourceMap, previous: ResourceMap | undefined): ResourceMap {
  if (!previous || previous.size !== next.size) return next;
  const names = previous.keys();
  for (const [name, r] of next) if (names.next().value !== name || previous.get(name) !== r) return next;
  return previous;
}

function encodeRoute(
  rc: RouteConfigurationLike,
  name: string,
  previous: { readonly routes?: ResourceMap; readonly virtualHosts?: ResourceMap } | undefined,
  shared: EncodeCache | undefined,
): Encoded {
  const where = `rds resource "${name}"`;
  const { virtualHosts = [], ...head } = rc;
  // Each virtual host as the pieces of its field 2 in the whole message, copied once into it.
  const part = (vh: VirtualHostLike): Part => partOf(name, where, vh, previous, shared);
  // Last time's assembly of this route configuration: a virtual host it held (by identity) at the same place keeps its part.
  const last = previous?.routes?.get(name);
  const before = last && assemblies.get(last);
  const made = before?.virtualHosts.length === virtualHosts.length ? patchedParts(before, virtualHosts, part) : madeParts(virtualHosts, part);
  const { parts, vhosts, sum } = made;
  // Field 1 (name) first, then the virtual hosts (field 2), then the rest: the order protobuf
  // encoders write, so the bytes are what encoding the whole message gives. The parts' digests
  // count as a sum (placeDigest): an edit's is worked out from the parts it changed.
  const headText = JSON.stringify(head);
  const digest = digestText(`route configuration\0${headText}\0${Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).toString("base64")}`);
  const inline = assembledOnce(TYPE_URL.route, name, digest, () => assembler(name, where, head, parts), previous?.routes, shared);
  // The VHDS form holds the head and the inline virtual hosts: an edit of VHDS virtual hosts keeps it.
  const earlier = made.replaced && made.inlineKept && before?.headText === headText ? splitForms.get(last!) : undefined;
  if (earlier && !splitForms.has(inline)) splitForms.set(inline, earlier);
  if (vhosts.length > 0 && !splitForms.has(inline)) {
    routeAssemblyStats.vhdsForms++;
    const stay = virtualHosts.filter((_, i) => parts[i]!.vhost === undefined);
    const json = { ...head, virtualHosts: stay, vhds: VHDS_SOURCE };
    const body = encodeMessage(TYPE_URL.route, json, where);
    const vhdsForm: Resource = { name, version: contentVersion(body), body };
    namesVhds.add(vhdsForm);
    splitForms.set(inline, vhdsForm);
  }
  deliveredOf.set(inline, vhosts);
  assemblies.set(inline, { virtualHosts, parts, vhosts, sum, headText });
  shared?.putJson(rc, inline);
  return { inline, vhosts, ...(made.replaced ? { replaced: made.replaced } : {}) };
}

/** A route configuration's parts, its VHDS virtual hosts, and the sum of its parts' placed digests. */
interface Parts {
  readonly parts: readonly Part[];
  readonly vhosts: readonly Resource[];
  readonly sum: Uint32Array;
  /** Made from an assembly with each VHDS virtual host's name kept at its place: the VHDS virtual hosts of the parts made again. */
  readonly replaced?: readonly Resource[];
  /** Made from an assembly whose inline (not VHDS) virtual hosts' parts it kept. */
  readonly inlineKept?: boolean;
}

function madeParts(virtualHosts: readonly VirtualHostLike[], partOf: (vh: VirtualHostLike) => Part): Parts {
  const parts: Part[] = [];
  const vhosts: Resource[] = [];
  const sum = new Uint32Array(LANES);
  virtualHosts.forEach((vh, i) => {
    const part = partOf(vh);
    parts.push(part);
    if (part.vhost) vhosts.push(part.vhost);
    addPlaced(sum, i, part, 1);
  });
  return { parts, vhosts, sum };
}

/** `kept`'s parts, those of virtual hosts that are not its own (by identity) made again: work in proportion to an edit. */
function patchedParts(kept: Assembly, virtualHosts: readonly VirtualHostLike[], partOf: (vh: VirtualHostLike) => Part): Parts {
  let parts: Part[] | undefined;
  let vhosts: Resource[] | undefined;
  let sum: Uint32Array | undefined;
  let replaced: Resource[] | undefined = [];
  let inlineKept = true;
  for (let i = 0; i < virtualHosts.length; i++) {
    const vh = virtualHosts[i]!;
    if (kept.virtualHosts[i] === vh) continue;
    const old = kept.parts[i]!;
    const part = partOf(vh);
    if (part === old) continue;
    parts ??= kept.parts.slice();
    vhosts ??= kept.vhosts.slice();
    sum ??= kept.sum.slice();
    parts[i] = part;
    addPlaced(sum, i, old, -1);
    addPlaced(sum, i, part, 1);
    if (old.vhost === undefined || part.vhost === undefined) inlineKept = false;
    if (replaced === undefined) continue;
    if (old.vhost?.name !== part.vhost?.name) replaced = undefined;
    else if (part.vhost !== undefined) {
      vhosts[vhostPlace(kept.parts, i)] = part.vhost;
      replaced.push(part.vhost);
    }
  }
  if (parts === undefined) return { parts: kept.parts, vhosts: kept.vhosts, sum: kept.sum, replaced: [], inlineKept };
  if (replaced !== undefined) return { parts, vhosts: vhosts!, sum: sum!, replaced, inlineKept };
  return { parts, vhosts: parts.flatMap((p) => (p.vhost ? [p.vhost] : [])), sum: sum! };
}

/** Where part `i`'s VHDS virtual host is among those of `parts`. */
function vhostPlace(parts: readonly Part[], i: number): number {
  let n = 0;
  for (let j = 0; j < i; j++) if (parts[j]!.vhost !== undefined) n++;
  return n;
}

/** 128 bits of SHA-256 per placed part: a sum of random 128-bit values does not collide by chance. */
const LANES = 4;

/** Add (`sign` 1) or take away (-1) part `part` at place `at` to `sum`, lane by lane modulo 2^32. */
function addPlaced(sum: Uint32Array, at: number, part: Part, sign: 1 | -1): void {
  let known = part.placed;
  if (known?.at !== at) {
    routeAssemblyStats.placedHashed++;
    part.placed = known = { at, lanes: digestLanes(`${at}\0${part.digest}`) };
  }
  for (let k = 0; k < LANES; k++) sum[k] = sum[k]! + sign * known.lanes[k]!;
}

/**
 * What puts an inline route configuration together when first read. Made out of encodeRoute's
 * scope: a closure made there would keep all of it, `previous` among it, and so, until read, the
 * maps of every earlier build (each unread route configuration holding the one before it).
 */
function assembler(name: string, where: string, head: Omit<RouteConfigurationLike, "virtualHosts">, parts: readonly Part[]): Assembler {
  if (name === "") throw new Error(`${where}: a route configuration needs a name`);
  const headBytes = encodeMessage(TYPE_URL.route, head, where);
  const nameLength = leadingName(headBytes, name)!;
  return {
    assemble: () => {
      routeAssemblyStats.assembled++;
      return Buffer.concat([headBytes.subarray(0, nameLength), ...parts.flatMap((p) => p.pieces()), headBytes.subarray(nameLength)]);
    },
    // Measured: 7 KB at 100 virtual hosts, 33 KB at 1000, 98 KB at 3000 (this list of parts, the
    // lists of its virtual hosts' JSON and VHDS resources), besides what later versions share.
    keeps: UNREAD_BYTES_PER_VHOST * parts.length + headBytes.length + UNREAD_BYTES_EACH,
  };
}

const UNREAD_BYTES_PER_VHOST = 32;
const UNREAD_BYTES_EACH = 4096;

/** One virtual host in an inline route configuration: its content digest, its bytes there, and its VHDS resource if it travels by VHDS. */
interface Part {
  readonly digest: string;
  readonly pieces: () => readonly Uint8Array[];
  readonly vhost?: Resource;
  /**
   * Its placed digest at the place it was last summed at (parts of unchanged virtual hosts stay
   * at theirs): on the part, where a side table cost an entry per virtual host of every build.
   */
  placed?: { readonly at: number; readonly lanes: Uint32Array };
}

/** An inline route configuration's virtual hosts, their parts, its VHDS virtual hosts and the sum of its placed parts. */
interface Assembly {
  readonly virtualHosts: readonly VirtualHostLike[];
  readonly parts: readonly Part[];
  readonly vhosts: readonly Resource[];
  readonly sum: Uint32Array;
  /** Its fields other than the virtual hosts, as JSON text. */
  readonly headText: string;
}

/** Per inline route configuration, what it was assembled from. */
const assemblies = new WeakMap<Resource, Assembly>();

/**
 * Counts for tests: virtual hosts whose part of an inline route configuration was made (not kept
 * from its last assembly), inline route configurations copied together (when first read),
 * virtual hosts put in a patch of the previous map, virtual hosts vhostMap looked through,
 * parts' placed digests hashed (addPlaced), and VHDS forms of route configurations encoded.
 */
export const routeAssemblyStats = { parts: 0, assembled: 0, vhostsPatched: 0, vhostsWalked: 0, placedHashed: 0, vhdsForms: 0 };

function partOf(
  route: string,
  where: string,
  vh: VirtualHostLike,
  previous: { readonly virtualHosts?: ResourceMap } | undefined,
  shared: EncodeCache | undefined,
): Part {
  routeAssemblyStats.parts++;
  if (!delivered(route, vh)) {
    const body = encodeMessage(TYPE_URL.virtualHost, vh, `${where} virtual host "${vh.name}"`);
    const pieces = [ownCopy([lenHeader(2, body.length)]), body];
    return { digest: digestText(JSON.stringify(vh)), pieces: () => pieces, placed: undefined };
  }
  const r = encodeVhost(route, vh, previous?.virtualHosts, shared);
  let part = deliveredParts.get(r);
  if (!part) deliveredParts.set(r, (part = deliveredPart(r, vh.name!)));
  return part;
}

/** Made out of partOf's scope, so that the part (kept as long as its virtual host) keeps nothing of the build that made it. */
function deliveredPart(r: Resource, name: string): Part {
  return { digest: r.version, pieces: () => inlinePieces(r, name), vhost: r, placed: undefined };
}

/** Per VHDS virtual host, its part of an inline route configuration: one for every route configuration (every view) holding it. */
const deliveredParts = new WeakMap<Resource, Part>();

/** Per VHDS virtual host, its pieces in the inline route configuration (the same for every assembly that holds it). */
const inlineForms = new WeakMap<Resource, readonly Uint8Array[]>();

/** The VHDS resource's bytes with its own name field swapped for the inline virtual host's `name`, as field 2. */
function inlinePieces(r: Resource, name: string): readonly Uint8Array[] {
  let pieces = inlineForms.get(r);
  if (!pieces) {
    const ownName = lenField(1, Buffer.from(name, "utf8"));
    const rest = r.body.subarray(leadingNameOf(r));
    pieces = [ownCopy([lenHeader(2, ownName.length + rest.length), ownName]), rest];
    inlineForms.set(r, pieces);
  }
  return pieces;
}

const nameLengths = new WeakMap<Resource, number>();

/** How many bytes a VHDS virtual host's leading name field takes (once per Resource). */
function leadingNameOf(r: Resource): number {
  let n = nameLengths.get(r);
  if (n === undefined) {
    n = leadingName(r.body, r.name);
    if (n === undefined) throw new Error(`vhds resource "${r.name}": encoded without its name first`);
    nameLengths.set(r, n);
  }
  return n;
}

/** One virtual host as its VHDS resource, named `<route configuration>/<virtual host>`. */
function encodeVhost(route: string, vh: VirtualHostLike, previous: ResourceMap | undefined, shared: EncodeCache | undefined): Resource {
  const resourceName = vhdsName(route, vh.name!);
  const same = shared?.ofJson(vh);
  if (same?.name === resourceName) return same;
  const body = encodeMessage(TYPE_URL.virtualHost, { ...vh, name: resourceName }, `vhds resource "${resourceName}"`);
  const r = resourceOf(TYPE_URL.virtualHost, resourceName, body, previous?.get(resourceName), shared);
  shared?.putJson(vh, r);
  return r;
}

/**
 * Encode, into `shared`, the virtual hosts of `routes` that VHDS delivers, one per step: a caller
 * spreading a big view's encoding over turns of the event loop runs these first, and
 * encodeRoutes then finds each virtual host encoded (by identity) and only assembles.
 */
export function* encodeVirtualHostSteps(routes: readonly RouteConfigurationLike[], shared: EncodeCache): Generator<void, void, undefined> {
  for (const rc of routes) {
    const name = rc.name ?? "";
    for (const vh of rc.virtualHosts ?? []) {
      if (!delivered(name, vh)) continue;
      encodeVhost(name, vh, undefined, shared);
      yield;
    }
  }
}

/** The route configurations as VHDS streams get them: those with VHDS virtual hosts in their VHDS form. */
export function vhdsRoutes(inline: ResourceMap): ResourceMap {
  const known = splitMaps.get(inline);
  if (known) return known;
  const out = new Map<string, Resource>();
  for (const [name, r] of inline) out.set(name, splitForms.get(r) ?? r);
  splitMaps.set(inline, out);
  return out;
}

/** Does this route configuration (as a VHDS stream got it) take its virtual hosts by VHDS? */
export function usesVhds(r: Resource): boolean {
  return namesVhds.has(r);
}
