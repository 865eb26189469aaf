/**
 * WorkloadEntries as endpoints: of the ServiceEntries whose `workloadSelector` picks them
 * (service-entries.ts) and of the Kubernetes Services whose selector matches their labels, in the
 * same namespace, as Istio's serviceentry controller adds them to Kubernetes services.
 */
import type { WorkloadEntrySpec } from "../api/istio/service-entry-types.js";
import type { Service } from "../api/kube-types.js";
import type { StoredObject } from "../api/objects.js";
import type { EndpointModel, ServiceModel, ServicePortModel } from "./ir.js";
import { endpointKey } from "./ir.js";
import { ISTIO_TLS_MODE, serviceFqdn, TLS_MODE_LABEL } from "./names.js";
import type { WorkloadEntryObject } from "./service-entries.js";

/**
 * A workload's endpoint on a service port: the port its `ports` map gives for the port's name,
 * else the port's numeric targetPort, else the port itself. Unix sockets are no endpoints here.
 * As in Istio, a workload that names a `serviceAccount` and no `security.istio.io/tlsMode` label
 * is a mesh member (it runs a sidecar with that identity): auto mTLS reaches it with ISTIO_MUTUAL.
 */
export function workloadEndpoint(we: WorkloadEntrySpec, namespace: string, port: ServicePortModel): EndpointModel | undefined {
  if (!we.address || we.address.startsWith("unix://")) return undefined;
  const named = port.name !== undefined ? we.ports?.[port.name] : undefined;
  const number = named ?? (typeof port.targetPort === "number" ? port.targetPort : port.port);
  return {
    address: we.address,
    port: number,
    labels: we.serviceAccount && we.labels?.[TLS_MODE_LABEL] === undefined ? { ...we.labels, [TLS_MODE_LABEL]: ISTIO_TLS_MODE } : (we.labels ?? {}),
    namespace,
    ...(we.locality ? { locality: we.locality } : {}),
    ...(we.weight ? { weight: we.weight } : {}),
    ...(we.serviceAccount ? { serviceAccount: we.serviceAccount } : {}),
  };
}

/** Endpoints that WorkloadEntries add to Kubernetes Services selecting them, by `endpointKey`. */
export function workloadEntryServiceEndpoints(
  services: readonly StoredObject<Service>[],
  models: ReadonlyMap<string, ServiceModel>,
  workloads: readonly StoredObject<WorkloadEntryObject>[],
  domain: string,
): Map<string, EndpointModel[]> {
  const out = new Map<string, EndpointModel[]>();
  if (workloads.length === 0) return out;
  const byNamespace = new Map<string, WorkloadEntryObject[]>();
  for (const { object: we } of workloads) {
    const ns = we.metadata.namespace ?? "default";
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), we]);
  }
  for (const { object: svc } of services) {
    const selector = svc.spec.selector;
    const ns = svc.metadata.namespace ?? "default";
    const candidates = byNamespace.get(ns);
    if (!selector || Object.keys(selector).length === 0 || !candidates) continue;
    const model = models.get(serviceFqdn(svc.metadata.name, ns, domain));
    if (!model || model.ref.kind !== "Service") continue;
    const picked = candidates
      .filter((we) => Object.entries(selector).every(([k, v]) => we.spec.labels?.[k] === v))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    for (const port of model.ports) {
      const list = picked.flatMap((we) => {
        const ep = workloadEndpoint(we.spec, ns, port);
        return ep ? [ep] : [];
      });
      if (list.length) out.set(endpointKey(model.hostname, port.port), list);
    }
  }
  return out;
}

const merged = new WeakMap<readonly EndpointModel[], WeakMap<readonly EndpointModel[], EndpointModel[]>>();

/**
 * `base` with `extra`'s lists added (appended where a key has both). A pair of lists merges into
 * the same array every time, so an endpoint-only rebuild that kept a service's list keeps the
 * merged one too.
 */
export function withExtraEndpoints(base: Map<string, EndpointModel[]>, extra: ReadonlyMap<string, readonly EndpointModel[]>): Map<string, EndpointModel[]> {
  if (extra.size === 0) return base;
  const out = new Map(base);
  for (const [key, add] of extra) {
    const own = base.get(key);
    if (!own) {
      out.set(key, add as EndpointModel[]);
      continue;
    }
    let byExtra = merged.get(own);
    if (!byExtra) merged.set(own, (byExtra = new WeakMap()));
    let list = byExtra.get(add);
    if (!list) byExtra.set(add, (list = [...own, ...add]));
    out.set(key, list);
  }
  return out;
}
