/**
 * Route resolutions kept across builds, per proxy view: a VirtualService edit resolves that
 * VirtualService's routes again, not the other 999 services' (and their virtual hosts then keep
 * their translated JSON and encoded bytes downstream, found by identity).
 *
 * A resolution reads more than its VirtualService: the destination services (their ports), the
 * DestinationRules the proxy applies to them (consistent hashing) and ExternalName aliases, all
 * through its RouteScope. What it read is recorded with the result; a later build takes the
 * result only if each of those reads gives the same object again, so an edited rule or service
 * misses exactly the resolutions that looked at it. The model keeps unchanged inputs as the same
 * objects across builds (keep.ts), which is what makes those comparisons hit.
 *
 * Held per ProxyView object (the pipeline keeps one per shared part for its life) and per model
 * object, weakly: a view or a VirtualService that goes takes its entries with it.
 *
 * Views share what they resolve alike. The sidecars of each namespace have an outbound part of
 * their own, and each part resolved every service's routes and made its virtual hosts (and their
 * JSON downstream) anew, although only the virtual hosts of its own namespace differ (short-name
 * domains): with four namespaces, four copies of ~4 MiB at 1000 services. A new result equal to
 * one another view holds is that one (Interned), so their virtual hosts are the same object too.
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

interface Kept<T> {
  readonly reads: readonly Read[];
  readonly value: T;
}

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

/**
 * Results some view holds, per model object and key, weakly: a result equal to one of them is
 * replaced by it. Nothing is kept here that no view's memo holds.
 */
class Interned<K extends object, T extends object> {
  private readonly table = new WeakMap<K, Map<string, WeakRef<T>[]>>();

  constructor(private readonly same: (a: T, b: T) => boolean) {}

  /** `value`, or the held result equal to it. */
  find(owner: K, key: string, value: T): T {
    let byKey = this.table.get(owner);
    if (!byKey) this.table.set(owner, (byKey = new Map()));
    const refs = byKey.get(key) ?? [];
    const live: WeakRef<T>[] = [];
    for (const ref of refs) {
      const held = ref.deref();
      if (held === undefined) continue;
      if (this.same(held, value)) return held;
      live.push(ref);
    }
    live.push(new WeakRef(value));
    byKey.set(key, live);
    return value;
  }
}

/** Per proxy view, per model object, per listener port and gateway: the last resolution. */
type Memo<K extends object, T> = WeakMap<ProxyView, WeakMap<K, Map<string, Kept<T>>>>;

function kept<K extends object, T extends object>(
  memo: Memo<K, T>,
  shared: Interned<K, T>,
  owner: K,
  key: string,
  ctx: RouteScope,
  resolve: (ctx: RouteScope) => T,
): T {
  let byOwner = memo.get(ctx.proxy);
  if (!byOwner) memo.set(ctx.proxy, (byOwner = new WeakMap()));
  let byKey = byOwner.get(owner);
  if (!byKey) byOwner.set(owner, (byKey = new Map()));
  const known = byKey.get(key);
  if (known && readsAgain(known.reads, ctx)) {
    keptRouteStats.kept++;
    return known.value;
  }
  keptRouteStats.resolved++;
  const reads: Read[] = [];
  const value = shared.find(owner, key, resolve(recording(ctx, reads)));
  byKey.set(key, { reads, value });
  return value;
}

const httpRoutes: Memo<VirtualServiceModel, HttpRouteModel[]> = new WeakMap();
const defaultRoutes: Memo<ServiceModel, DefaultRouteModel> = new WeakMap();
const sharedHttpRoutes = new Interned<VirtualServiceModel, HttpRouteModel[]>(deepEqual);
const sharedDefaultRoutes = new Interned<ServiceModel, DefaultRouteModel>(deepEqual);

/** resolveHttpRoutes, the same array as last time when nothing it read changed (never mutate it). */
export function keptHttpRoutes(vs: VirtualServiceModel, ctx: RouteScope): HttpRouteModel[] {
  return kept(httpRoutes, sharedHttpRoutes, vs, `${ctx.port}|${ctx.gateway}`, ctx, (c) => resolveHttpRoutes(vs, c));
}

/** resolveDefaultRoute, the same object as last time when nothing it read changed. */
export function keptDefaultRoute(svc: ServiceModel, port: number, ctx: RouteScope): DefaultRouteModel {
  return kept(defaultRoutes, sharedDefaultRoutes, svc, `${port}|${ctx.port}|${ctx.gateway}`, ctx, (c) => resolveDefaultRoute(svc, port, c));
}

const virtualHosts = new WeakMap<ProxyView, WeakMap<ServiceModel, Map<number, VirtualHostScope>>>();
const sharedVirtualHosts = new Interned<ServiceModel, VirtualHostScope>((a, b) => sameVirtualHost(a, b.host, b.domains, b.routes, b.defaultRoute));

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
 * A service's virtual host on a port: last build's object when it holds the same routes (by
 * identity) and domains, or another view's, so that its translation is found again by identity.
 */
export function keptVirtualHost(
  proxy: ProxyView,
  svc: ServiceModel,
  port: number,
  domains: readonly string[],
  routes: readonly HttpRouteModel[],
  defaultRoute: DefaultRouteModel | undefined,
): VirtualHostScope {
  let bySvc = virtualHosts.get(proxy);
  if (!bySvc) virtualHosts.set(proxy, (bySvc = new WeakMap()));
  let byPort = bySvc.get(svc);
  if (!byPort) bySvc.set(svc, (byPort = new Map()));
  const before = byPort.get(port);
  if (before && sameVirtualHost(before, svc.hostname, domains, routes, defaultRoute)) return before;
  const vh = sharedVirtualHosts.find(svc, String(port), { host: svc.hostname, domains, routes, ...(defaultRoute ? { defaultRoute } : {}) });
  byPort.set(port, vh);
  return vh;
}
