import type { Diagnostic } from "../api/diagnostics.js";
import type { StoredObject } from "../api/objects.js";
import type { EndpointSlice, Pod } from "../api/kube-types.js";
import { SERVICE_NAME_LABEL } from "../api/kube-types.js";
import type { EndpointModel, ServiceModel } from "./ir.js";
import { endpointKey } from "./ir.js";
import { serviceFqdn } from "./names.js";

interface PodIndex {
  readonly byName: ReadonlyMap<string, Pod>;
  readonly byIp: ReadonlyMap<string, Pod>;
}

function indexPods(pods: readonly StoredObject<Pod>[]): PodIndex {
  const byName = new Map<string, Pod>();
  const byIp = new Map<string, Pod>();
  for (const { object: pod } of pods) {
    const ns = pod.metadata.namespace ?? "default";
    byName.set(`${ns}/${pod.metadata.name}`, pod);
    for (const ip of [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)]) {
      if (ip) byIp.set(`${ns}/${ip}`, pod);
    }
  }
  return { byName, byIp };
}

/**
 * Ready endpoints per service port, with the labels of the Pod behind each address (the labels
 * DestinationRule subsets select on). As in Istio, an address whose targetRef names a Pod that is
 * not known yet is left out until the Pod appears, and not-ready or terminating endpoints are not sent.
 */
export function buildEndpoints(
  slices: readonly StoredObject<EndpointSlice>[],
  pods: readonly StoredObject<Pod>[],
  services: ReadonlyMap<string, ServiceModel>,
  domain: string,
): { endpoints: Map<string, EndpointModel[]>; diagnostics: Diagnostic[] } {
  const podIndex = indexPods(pods);
  const endpoints = new Map<string, EndpointModel[]>();
  const diagnostics: Diagnostic[] = [];
  const sorted = [...slices].sort((a, b) => {
    const an = `${a.object.metadata.namespace}/${a.object.metadata.name}`;
    const bn = `${b.object.metadata.namespace}/${b.object.metadata.name}`;
    return an < bn ? -1 : an > bn ? 1 : 0;
  });
  for (const { object: slice, source } of sorted) {
    if (slice.addressType === "FQDN") continue;
    const ns = slice.metadata.namespace ?? "default";
    const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svcName) continue;
    const svc = services.get(serviceFqdn(svcName, ns, domain));
    if (!svc) continue;
    const ref = { kind: "EndpointSlice", namespace: ns, name: slice.metadata.name };
    for (const sp of svc.ports) {
      const slicePort = (slice.ports ?? []).find((p) => (p.name ?? "") === (sp.name ?? ""));
      const portNumber = slicePort?.port ?? (typeof sp.targetPort === "number" ? sp.targetPort : undefined);
      if (portNumber === undefined) continue;
      const key = endpointKey(svc.hostname, sp.port);
      const list = endpoints.get(key) ?? [];
      for (const [ei, ep] of (slice.endpoints ?? []).entries()) {
        if (ep.conditions?.ready === false || ep.conditions?.terminating === true) continue;
        let pod: Pod | undefined;
        if (ep.targetRef?.kind === "Pod" && ep.targetRef.name) {
          pod = podIndex.byName.get(`${ep.targetRef.namespace ?? ns}/${ep.targetRef.name}`);
          if (!pod) {
            if (sp === svc.ports[0]) {
              diagnostics.push({
                severity: "warning",
                code: "MP0201",
                message: `endpoint targetRef names Pod ${ep.targetRef.namespace ?? ns}/${ep.targetRef.name}, which is not known; its addresses are left out until the Pod appears`,
                object: ref,
                path: `endpoints[${ei}].targetRef`,
                ...(source ? { source } : {}),
              });
            }
            continue;
          }
        }
        for (const address of ep.addresses) {
          const owner = pod ?? podIndex.byIp.get(`${ns}/${address}`);
          list.push({
            address,
            port: portNumber,
            labels: owner?.metadata.labels ?? {},
            namespace: ns,
            ...(owner ? { podName: owner.metadata.name } : {}),
            ...(ep.zone ? { zone: ep.zone } : {}),
          });
        }
      }
      endpoints.set(key, list);
    }
  }
  for (const list of endpoints.values()) list.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  return { endpoints, diagnostics };
}
