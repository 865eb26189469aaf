/**
 * What a client needs to know about a destination service's workloads for mTLS, as Istio
 * derives it from the service's endpoints: whether any of them is a mesh member (labelled
 * `security.istio.io/tlsMode: istio`) and the SPIFFE identities of the members (the SANs a client
 * pins). Istio also lists the accounts of workloads without a sidecar, which never present a
 * mesh certificate; leaving them out keeps services outside the mesh from rebuilding clusters on
 * every pod change. Both change clusters, not only endpoints, so an endpoint update that changes
 * them rebuilds everything (as a change of service accounts makes Istio push clusters).
 */
import type { EndpointModel, ServiceModel } from "./ir.js";
import { endpointKey } from "./ir.js";
import { ISTIO_TLS_MODE, spiffeId, TLS_MODE_LABEL } from "./names.js";

export interface ServiceIdentity {
  /** SPIFFE URIs of the mesh members' service accounts, sorted, once each. */
  readonly accounts: readonly string[];
  /** Some endpoint is a mesh member (always true: services without members have no entry). */
  readonly meshEndpoints: boolean;
}

export function isMeshMember(ep: EndpointModel): boolean {
  return ep.labels[TLS_MODE_LABEL] === ISTIO_TLS_MODE;
}

function identityOf(svc: ServiceModel, endpoints: ReadonlyMap<string, readonly EndpointModel[]>, trustDomain: string): ServiceIdentity | undefined {
  const accounts = new Set<string>();
  let mesh = false;
  for (const port of svc.ports) {
    for (const ep of endpoints.get(endpointKey(svc.hostname, port.port)) ?? []) {
      if (!isMeshMember(ep)) continue;
      mesh = true;
      if (ep.serviceAccount) accounts.add(spiffeId(trustDomain, ep.namespace, ep.serviceAccount));
    }
  }
  return mesh ? { accounts: [...accounts].sort(), meshEndpoints: true } : undefined;
}

/**
 * Per service host with endpoints. With `previous` and `hosts`, only the services of `hosts`
 * are looked at again (the others' endpoints did not change).
 */
export function serviceIdentities(
  services: ReadonlyMap<string, ServiceModel>,
  endpoints: ReadonlyMap<string, readonly EndpointModel[]>,
  trustDomain: string,
  previous?: { readonly identities: ReadonlyMap<string, ServiceIdentity>; readonly hosts: Iterable<string> },
): Map<string, ServiceIdentity> {
  if (previous) {
    const out = new Map(previous.identities);
    for (const h of previous.hosts) {
      const svc = services.get(h);
      const id = svc ? identityOf(svc, endpoints, trustDomain) : undefined;
      if (id) out.set(h, id);
      else out.delete(h);
    }
    return out;
  }
  const out = new Map<string, ServiceIdentity>();
  for (const svc of services.values()) {
    const id = identityOf(svc, endpoints, trustDomain);
    if (id) out.set(svc.hostname, id);
  }
  return out;
}

/** Whether the identities of `hosts` are the same in `a` and `b`. */
export function sameIdentities(a: ReadonlyMap<string, ServiceIdentity>, b: ReadonlyMap<string, ServiceIdentity>, hosts: Iterable<string>): boolean {
  for (const h of hosts) {
    const x = a.get(h);
    const y = b.get(h);
    if (x === y) continue;
    if (!x || !y || x.meshEndpoints !== y.meshEndpoints || x.accounts.join(",") !== y.accounts.join(",")) return false;
  }
  return true;
}
