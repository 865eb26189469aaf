/**
 * References across namespaces (Gateway API's ReferenceGrant) and the Services routes point at:
 * pure lookups over the objects of one build.
 */
import type { BackendRef, ReferenceGrant } from "../../api/gateway-api/types.js";
import type { StoredObject } from "../../api/objects.js";
import type { Service } from "../../api/kube-types.js";
import { Reasons } from "../../api/gateway-api/status.js";

/**
 * Where a backendRef that does not resolve points: a name under the reserved `.invalid` TLD, so
 * that no Service or ServiceEntry gives it a cluster and its share of requests gets 500.
 */
export const UNRESOLVED_BACKEND_HOST = "unresolved-backend.meshpilot.invalid";
/** Its port when the backendRef names none. */
export const UNRESOLVED_BACKEND_PORT = 80;

export interface RefIndex {
  readonly grants: readonly ReferenceGrant[];
  readonly services: ReadonlyMap<string, Service>;
  readonly domain: string;
}

export function refIndex(grants: readonly StoredObject<ReferenceGrant>[], services: readonly StoredObject<Service>[], domain: string): RefIndex {
  return {
    grants: grants.map((g) => g.object),
    services: new Map(services.map((s) => [`${s.object.metadata.namespace ?? "default"}/${s.object.metadata.name}`, s.object])),
    domain,
  };
}

/** Whether an object of `from.kind` in `from.namespace` may refer to `toKind`/`toName` in `toNs` (core group for Secret and Service). */
export function permitted(
  grants: readonly ReferenceGrant[],
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; namespace: string; name: string },
): boolean {
  if (from.namespace === to.namespace) return true;
  return grants.some(
    (g) =>
      (g.metadata.namespace ?? "default") === to.namespace &&
      g.spec.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
      g.spec.to.some((t) => t.group === to.group && t.kind === to.kind && (t.name === undefined || t.name === "" || t.name === to.name)),
  );
}

export type BackendResolution =
  | { readonly ok: true; readonly host: string; readonly port: number; readonly service: Service }
  | { readonly ok: false; readonly reason: string; readonly message: string };

/** A backendRef of a route in `routeNs`, resolved to a Service host and port. */
export function resolveBackend(idx: RefIndex, routeKind: string, routeNs: string, ref: BackendRef): BackendResolution {
  const group = ref.group ?? "";
  const kind = ref.kind ?? "Service";
  const ns = ref.namespace ?? routeNs;
  if (group !== "" || kind !== "Service")
    return {
      ok: false,
      reason: Reasons.InvalidKind,
      message: `backendRef ${group ? `${group}/` : ""}${kind} "${ref.name}": only Services are supported backends`,
    };
  if (
    !permitted(
      idx.grants,
      { group: "gateway.networking.k8s.io", kind: routeKind, namespace: routeNs },
      { group: "", kind: "Service", namespace: ns, name: ref.name },
    )
  )
    return {
      ok: false,
      reason: Reasons.RefNotPermitted,
      message: `backendRef Service ${ns}/${ref.name} is in another namespace and no ReferenceGrant in "${ns}" allows ${routeKind}s from "${routeNs}"`,
    };
  const service = idx.services.get(`${ns}/${ref.name}`);
  if (!service) return { ok: false, reason: Reasons.BackendNotFound, message: `backendRef Service ${ns}/${ref.name} does not exist` };
  const port = ref.port ?? 0;
  if (!(service.spec.ports ?? []).some((p) => p.port === port))
    return { ok: false, reason: Reasons.BackendNotFound, message: `backendRef Service ${ns}/${ref.name} has no port ${port}` };
  return { ok: true, host: `${ref.name}.${ns}.svc.${idx.domain}`, port, service };
}

/** Whether Gateways in `gatewayNs` may use the Secret `namespace/name` as a certificate (Istio's SecretAllowed). */
export function secretAllowed(grants: readonly ReferenceGrant[], gatewayNs: string, namespace: string, name: string): boolean {
  return permitted(grants, { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: gatewayNs }, { group: "", kind: "Secret", namespace, name });
}

/** A route's backendRef and where it sits in the route (for its finding). */
export interface PlacedRef<R extends BackendRef> {
  readonly ref: R;
  readonly path: string;
}

/** One weighted destination of a route, in Istio terms. */
export type WeightedBackend<E extends object> = { readonly destination: { host: string; port: { number: number } }; weight?: number } & Partial<E>;

/**
 * A route's backendRefs as weighted destinations. A backendRef that cannot be resolved is
 * reported and keeps its weight, pointed at UNRESOLVED_BACKEND_HOST, so that its share of the
 * traffic fails as the spec requires (requests get 500, connections are closed) instead of moving
 * to the other backends. Weight 0 takes no traffic. With no resolved backend at all, none; a
 * single destination needs no weight (Istio weights are relative too). `extra` adds fields to a
 * resolved backend's destination (an HTTP backend's header filters).
 */
export function weightedBackends<R extends BackendRef, E extends object>(
  placed: readonly PlacedRef<R>[],
  resolve: (ref: R) => BackendResolution,
  problem: (path: string, message: string, reason: string) => void,
  extra: (ref: R) => E | undefined = () => undefined,
): WeightedBackend<E>[] {
  const out: WeightedBackend<E>[] = [];
  let resolved = 0;
  for (const { ref, path } of placed) {
    const r = resolve(ref);
    if (!r.ok) problem(path, r.message, r.reason);
    const weight = ref.weight ?? 1;
    if (weight === 0) continue;
    if (!r.ok) {
      out.push({ destination: { host: UNRESOLVED_BACKEND_HOST, port: { number: ref.port ?? UNRESOLVED_BACKEND_PORT } }, weight } as WeightedBackend<E>);
      continue;
    }
    resolved++;
    out.push({ destination: { host: r.host, port: { number: r.port } }, weight, ...extra(ref) } as WeightedBackend<E>);
  }
  if (resolved === 0) return [];
  if (out.length === 1) {
    const { weight: _w, ...only } = out[0]!;
    return [only as WeightedBackend<E>];
  }
  return out;
}
