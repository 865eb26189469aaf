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
