import type { Diagnostic } from "../api/diagnostics.js";
import type { StoredObject } from "../api/objects.js";
import type { Service, ServicePort } from "../api/kube-types.js";
import type { Protocol, ServiceAliasModel, ServiceModel, ServicePortModel } from "./ir.js";
import { serviceFqdn } from "./names.js";
import { portProtocol } from "./protocol.js";
import { annotationExportTo } from "./visibility.js";

export function buildServices(
  services: readonly StoredObject<Service>[],
  domain: string,
): { services: Map<string, ServiceModel>; aliases: Map<string, ServiceAliasModel[]>; diagnostics: Diagnostic[] } {
  const out = new Map<string, ServiceModel>();
  const diagnostics: Diagnostic[] = [];
  const externalNames: StoredObject<Service>[] = [];
  const sorted = services
    .map((stored) => ({ stored, key: refKey(stored.object) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.stored);
  for (const stored of sorted) {
    const { object: svc, source } = stored;
    if (svc.spec.type === "ExternalName") {
      externalNames.push(stored);
      continue;
    }
    const namespace = svc.metadata.namespace ?? "default";
    const hostname = serviceFqdn(svc.metadata.name, namespace, domain);
    const ports: ServicePortModel[] = [];
    const specPorts = svc.spec.ports ?? [];
    for (let i = 0; i < specPorts.length; i++) {
      const p = specPorts[i]!;
      const protocol = portProtocol(p);
      if (protocol === "UDP") continue;
      if (protocol === "Unsupported") {
        diagnostics.push({
          severity: "info",
          code: "IST0118",
          message: `port ${p.port}${p.name ? ` (name "${p.name}")` : ""} names no protocol (use appProtocol or a name prefix such as "http-" or "tcp-"); sidecars detect the protocol per connection with Envoy's HTTP inspector, as Istio does: outbound, on a listener of its own for the service's address (HTTP is routed, anything else goes to the service as TCP); inbound, with an HTTP and a TCP chain`,
          object: { kind: "Service", namespace, name: svc.metadata.name },
          path: `spec.ports[${i}]`,
          ...(source ? { source } : {}),
        });
      }
      ports.push(portModel(p, protocol));
    }
    const clusterIP = svc.spec.clusterIP;
    const ref = { kind: "Service", namespace, name: svc.metadata.name };
    const visibility = annotationExportTo(svc.metadata.annotations, ref);
    for (const d of visibility.diagnostics) diagnostics.push(source ? { ...d, source } : d);
    // Built by assignment in the order the fields are listed (a spread per optional field made a
    // temporary object each, a thousand services over): the same model, key order included.
    const model = { hostname, name: svc.metadata.name, namespace } as Mutable<ServiceModel>;
    if (clusterIP) model.clusterIP = clusterIP;
    model.ports = ports.length > 1 ? ports.sort((a, b) => a.port - b.port) : ports;
    if (svc.spec.selector && hasKeys(svc.spec.selector)) model.selector = svc.spec.selector;
    model.ref = ref;
    if (visibility.exportTo) model.exportTo = visibility.exportTo;
    out.set(hostname, model);
  }
  const aliases = serviceAliases(externalNames, out, domain, diagnostics);
  return { services: new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), aliases, diagnostics };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function portModel(p: ServicePort, protocol: Protocol): ServicePortModel {
  const m: Mutable<ServicePortModel> = p.name ? ({ name: p.name } as Mutable<ServicePortModel>) : ({} as Mutable<ServicePortModel>);
  m.port = p.port;
  if (p.targetPort !== undefined) m.targetPort = p.targetPort;
  if (protocol === "Unsupported") {
    m.protocol = "HTTP";
    m.detected = true;
  } else m.protocol = protocol;
  return m;
}

function hasKeys(o: Readonly<Record<string, string>>): boolean {
  for (const _ in o) return true;
  return false;
}

/**
 * ExternalName Services, as Istio (1.21+) reads them: an alias that adds its names to the
 * registry host it points at, with no cluster of its own. One that names a host outside the
 * registry changes nothing: its traffic is unmatched (passed through or blocked by
 * outboundTrafficPolicy), which the finding says.
 */
function serviceAliases(
  externalNames: readonly StoredObject<Service>[],
  registry: ReadonlyMap<string, ServiceModel>,
  domain: string,
  diagnostics: Diagnostic[],
): Map<string, ServiceAliasModel[]> {
  const out = new Map<string, ServiceAliasModel[]>();
  for (const { object: svc, source } of externalNames) {
    const namespace = svc.metadata.namespace ?? "default";
    const ref = { kind: "Service", namespace, name: svc.metadata.name };
    const target = (svc.spec.externalName ?? "").replace(/\.$/, "").toLowerCase();
    if (!registry.has(target)) {
      diagnostics.push({
        severity: "info",
        code: "MP0120",
        message: `ExternalName "${target}" is not a service of the mesh: sidecars treat traffic to it as traffic outside the registry (outboundTrafficPolicy)`,
        object: ref,
        path: "spec.externalName",
        ...(source ? { source } : {}),
      });
      continue;
    }
    const alias = { hostname: serviceFqdn(svc.metadata.name, namespace, domain), name: svc.metadata.name, namespace, ref };
    const list = out.get(target);
    if (list) list.push(alias);
    else out.set(target, [alias]);
  }
  for (const list of out.values()) list.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  return out;
}

const refKey = (o: { metadata: { namespace?: string; name: string } }): string => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

export function compareRefs(a: { metadata: { namespace?: string; name: string } }, b: { metadata: { namespace?: string; name: string } }): number {
  const an = refKey(a);
  const bn = refKey(b);
  return an < bn ? -1 : an > bn ? 1 : 0;
}
