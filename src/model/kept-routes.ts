/**
 * Route resolutions kept across builds and shared by views: a VirtualService edit resolves that
 * VirtualService's routes again, not the other 999 services' (and their virtual hosts then keep
 * their translated JSON and encoded bytes downstream, found by identity), and resolves them once
 * for every view that reads the same, not once per view.
 *
 * A resolution reads more than its VirtualService: the destination services (their ports), the
 * DestinationRules the proxy applies to them (consistent hashing) and ExternalName aliases, all
 * through its RouteScope. What it read is recorded with the result; a later build, or another
 * view, takes the result only if each of those reads gives the same object again, so an edited
 * rule or service misses exactly the resolutions that looked at it. The model keeps unchanged
 * inputs as the same objects across builds (keep.ts), which is what makes those comparisons hit.
 * What a resolution reads of the proxy itself is in the key it is found by (proxyFacts).
 *
 * The sidecars of each namespace have an outbound part of their own: with workload proxies in
 * four namespaces, each part resolving and keeping every service's routes was four copies of
 * ~5 MiB at 1000 services and four resolutions of each edit. Resolutions and virtual hosts are
 * held here per model object, weakly; the views that use them hold them (scope.ts), so what no
 * view uses goes, and a VirtualService or service that goes takes its entries with it.
 */
import type { ServiceModel, VirtualServiceModel } from "./ir.js";
import type { ClusterPolicy } from "./parsed.js";
import type { ProxyView } from "./proxy.js";
import { deepEqual } from "../api/equal.js";
import { resolveDefaultRoute, resolveHttpRoutes, type DefaultRouteModel, type HttpRouteModel, type RouteScope } from "./routes.js";
import type { VirtualHostScope } from "./scope.js";

type Read =
  | { readonly kind: "service"; readonly host: string; readonly value: ServiceModel | undefined }
  | { readonly kind: "services"; readonly value: ReadonlyMap<string, ServiceModel> }
  | { readonly kind: "policy"; readonly host: string; readonly subset: string | undefined; readonly port: number; readonly value: ClusterPolicy | undefined }
  | { readonly kind: "alias"; readonly host: string; readonly value: string | undefined };

/** Counts for tests: resolutions computed and taken from an earlier build. */
export const keptRouteStats = { resolved: 0, kept: 0 };

/** The same map, recording what is read from it. */
class RecordingServices implements ReadonlyMap<string, ServiceModel> {
  constructor(
    private readonly map: ReadonlyMap<string, ServiceModel>,
    private readonly reads: Read[],
  ) {}
  get(host: string): ServiceModel | undefined {
    const value = this.map.get(host);
    this.reads.push({ kind: "service", host, value });
    return value;
  }
  has(host: string): boolean {
    return this.get(host) !== undefined;
  }
  private whole(): ReadonlyMap<string, ServiceModel> {
    this.reads.push({ kind: "services", value: this.map });
    return this.map;
  }
  get size(): number {
    return this.whole().size;
  }
  forEach(f: (value: ServiceModel, key: string, map: ReadonlyMap<string, ServiceModel>) => void): void {
    this.whole().forEach((v, k) => f(v, k, this));
  }
  entries(): MapIterator<[string, ServiceModel]> {
    return this.whole().entries();
  }
  keys(): MapIterator<string> {
    return this.whole().keys();
  }
  values(): MapIterator<ServiceModel> {
    return this.whole().values();
  }
  [Symbol.iterator](): MapIterator<[string, ServiceModel]> {
    return this.whole()[Symbol.iterator]();
  }
}

/** `ctx` with every read of the model recorded in `reads`. */
function recording(ctx: RouteScope, reads: Read[]): RouteScope {
  const aliasTarget = ctx.aliasTarget;
  return {
    ...ctx,
    services: new RecordingServices(ctx.services, reads),
    policyFor(host, subset, port) {
      const value = ctx.policyFor(host, subset, port);
      reads.push({ kind: "policy", host, subset, port, value });
      return value;
    },
    // Recorded also without aliases: "no alias for this host" is a read that a later alias changes.
    aliasTarget(host: string) {
      const value = aliasTarget?.(host);
      reads.push({ kind: "alias", host, value });
      return value;
    },
  };
}

/** Does each recorded read give the same object under `ctx`? */
function readsAgain(reads: readonly Read[], ctx: RouteScope): boolean {
  for (const r of reads) {
    switch (r.kind) {
      case "service":
        if (ctx.services.get(r.host) !== r.value) return false;
        break;
      case "services":
        if (ctx.services !== r.value) return false;
        break;
      case "policy":
        if (ctx.policyFor(r.host, r.subset, r.port) !== r.value) return false;
        break;
      case "alias":
        if ((ctx.aliasTarget ? ctx.aliasTarget(r.host) : undefined) !== r.value) return false;
        break;
    }
  }
  return true;
}

/** A resolution: found again by any view whose scope reads the same objects while some view holds it. */
export interface Resolution<T> {
  readonly value: T;
}

interface Kept<T> extends Resolution<T> {
  /** What resolving read of the model, and what each read gave. */
  readonly reads: readonly Read[];
}

/**
 * Per model object and key, the resolutions that some view holds, weakly: a view keeps those it
 * uses (scope.ts holds them with its port's hosts), so one that no view uses any more goes with
 * the next collection. A view takes the first whose reads give the same objects in its scope,
 * so the outbound parts of several namespaces resolve a VirtualService once, not once each; a
 * new result equal to a held one is that one, so their virtual hosts are the same object too.
 */
class Resolutions<K extends object, T extends object> {
  private readonly table = new WeakMap<K, Map<string, WeakRef<Kept<T>>[]>>();

  constructor(private readonly same: (a: T, b: T) => boolean) {}

  get(owner: K, key: string, ctx: RouteScope, resolve: (ctx: RouteScope) => T): Kept<T> {
    let byKey = this.table.get(owner);
    if (!byKey) this.table.set(owner, (byKey = new Map()));
    const refs = byKey.get(key) ?? [];
    const live: WeakRef<Kept<T>>[] = [];
    for (const ref of refs) {
      const held = ref.deref();
      if (held === undefined) continue;
      if (readsAgain(held.reads, ctx)) {
        keptRouteStats.kept++;
        return held;
      }
      live.push(ref);
    }
    keptRouteStats.resolved++;
    const reads: Read[] = [];
    let value = resolve(recording(ctx, reads));
    for (const ref of live) {
      const held = ref.deref()!;
      if (this.same(held.value, value)) {
        value = held.value;
        break;
      }
    }
    const made = { reads, value };
    live.push(new WeakRef(made));
    byKey.set(key, live);
    return made;
  }
}

const httpRoutes = new Resolutions<VirtualServiceModel, HttpRouteModel[]>(deepEqual);
const defaultRoutes = new Resolutions<ServiceModel, DefaultRouteModel>(deepEqual);

/** Per VirtualService: the label keys its matches' sourceLabels name, and whether one names a sourceNamespace. */
const sourceReads = new WeakMap<VirtualServiceModel, { readonly namespace: boolean; readonly labels: readonly string[] }>();

/**
 * What resolving `vs` reads of the proxy, as a key: its DNS domain (short destination hosts),
 * its namespace where a match has sourceNamespace, and the labels sourceLabels name (routes.ts
 * matchApplies and resolveDestination read nothing else of it). Parts of namespaces that agree
 * on these share their resolutions.
 */
function proxyFacts(vs: VirtualServiceModel, proxy: ProxyView): string {
  let reads = sourceReads.get(vs);
  if (!reads) {
    let namespace = false;
    const labels = new Set<string>();
    const matches = [...vs.routedHttp.flatMap((r) => r.match ?? []), ...vs.tcp.flatMap((r) => r.match ?? []), ...vs.tls.flatMap((r) => r.match)];
    for (const m of matches) {
      if (m.sourceNamespace) namespace = true;
      for (const k of Object.keys(m.sourceLabels ?? {})) labels.add(k);
    }
    sourceReads.set(vs, (reads = { namespace, labels: [...labels].sort() }));
  }
  let key = proxy.dnsDomain;
  if (reads.namespace) key += `\0${proxy.namespace}`;
  for (const k of reads.labels) key += `\0${proxy.labels[k] ?? "\u0001"}`;
  return key;
}

/** resolveHttpRoutes, the same array as last time when nothing it read changed (never mutate it); hold the Resolution to keep it findable. */
export function keptHttpRoutes(vs: VirtualServiceModel, ctx: RouteScope): Resolution<HttpRouteModel[]> {
  return httpRoutes.get(vs, `${ctx.port}|${ctx.gateway}|${proxyFacts(vs, ctx.proxy)}`, ctx, (c) => resolveHttpRoutes(vs, c));
}

/** resolveDefaultRoute (it reads nothing of the proxy), the same object as last time when nothing it read changed. */
export function keptDefaultRoute(svc: ServiceModel, port: number, ctx: RouteScope): Resolution<DefaultRouteModel> {
  return defaultRoutes.get(svc, `${port}|${ctx.port}|${ctx.gateway}`, ctx, (c) => resolveDefaultRoute(svc, port, c));
}

/** Per service and port, the virtual hosts some view holds (weakly: a view's port scope holds its own). */
const virtualHosts = new WeakMap<ServiceModel, Map<number, WeakRef<VirtualHostScope>[]>>();

function sameVirtualHost(
  vh: VirtualHostScope,
  host: string,
  domains: readonly string[],
  routes: readonly HttpRouteModel[],
  defaultRoute: DefaultRouteModel | undefined,
): boolean {
  return (
    vh.host === host &&
    vh.routes === routes &&
    vh.defaultRoute === defaultRoute &&
    (vh.domains === domains || (vh.domains.length === domains.length && vh.domains.every((d, i) => d === domains[i])))
  );
}

/**
 * A service's virtual host on a port: the object some view holds with the same routes (by
 * identity) and domains, whichever view made it, so that its translation is found again by identity.
 */
export function keptVirtualHost(
  svc: ServiceModel,
  port: number,
  domains: readonly string[],
  routes: readonly HttpRouteModel[],
  defaultRoute: DefaultRouteModel | undefined,
): VirtualHostScope {
  let byPort = virtualHosts.get(svc);
  if (!byPort) virtualHosts.set(svc, (byPort = new Map()));
  const refs = byPort.get(port) ?? [];
  const live: WeakRef<VirtualHostScope>[] = [];
  for (const ref of refs) {
    const held = ref.deref();
    if (held === undefined) continue;
    if (sameVirtualHost(held, svc.hostname, domains, routes, defaultRoute)) return held;
    live.push(ref);
  }
  const vh: VirtualHostScope = { host: svc.hostname, domains, routes, ...(defaultRoute ? { defaultRoute } : {}) };
  live.push(new WeakRef(vh));
  byPort.set(port, live);
  return vh;
}
