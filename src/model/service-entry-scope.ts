/** What a ServiceEntry host changes in a proxy's scope: its SANs for upstream TLS. */
import type { ServiceModel } from "./ir.js";
import type { ClusterPolicy } from "./parsed.js";

const withSans = new WeakMap<object, ClusterPolicy>();

/**
 * The cluster policy with the entry's `subjectAltNames` as the TLS SANs when the DestinationRule
 * names none (as Istio does for SIMPLE, MUTUAL and ISTIO_MUTUAL to ServiceEntry hosts).
 */
export function entryPolicy(svc: ServiceModel, policy: ClusterPolicy | undefined): ClusterPolicy | undefined {
  const sans = svc.entry?.subjectAltNames;
  const tls = policy?.tls;
  if (!policy || !tls || !sans?.length || tls.subjectAltNames?.length || !tls.mode || tls.mode === "DISABLE") return policy;
  const known = withSans.get(policy);
  if (known) return known;
  const out: ClusterPolicy = { ...policy, tls: { ...tls, subjectAltNames: sans } };
  withSans.set(policy, out);
  return out;
}
