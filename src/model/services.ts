import type { Diagnostic } from "../api/diagnostics.js";
import type { StoredObject } from "../api/objects.js";
import type { Service } from "../api/kube-types.js";
import type { ServiceModel, ServicePortModel } from "./ir.js";
import { serviceFqdn } from "./names.js";
import { portProtocol } from "./protocol.js";

export function buildServices(services: readonly StoredObject<Service>[], domain: string): { services: Map<string, ServiceModel>; diagnostics: Diagnostic[] } {
  const out = new Map<string, ServiceModel>();
  const diagnostics: Diagnostic[] = [];
  const sorted = [...services].sort((a, b) => compareRefs(a.object, b.object));
  for (const { object: svc, source } of sorted) {
    if (svc.spec.type === "ExternalName") continue;
    const namespace = svc.metadata.namespace ?? "default";
    const hostname = serviceFqdn(svc.metadata.name, namespace, domain);
    const ports: ServicePortModel[] = [];
    for (const [i, p] of (svc.spec.ports ?? []).entries()) {
      const protocol = portProtocol(p);
      if (protocol === "UDP") continue;
      if (protocol === "Unsupported") {
        diagnostics.push({
          severity: "info",
          code: "IST0118",
          message: `port ${p.port}${p.name ? ` (name "${p.name}")` : ""} names no protocol (use appProtocol or a name prefix such as "http-" or "tcp-"); meshpilot does not sniff protocols and treats it as HTTP`,
          object: { kind: "Service", namespace, name: svc.metadata.name },
          path: `spec.ports[${i}]`,
          ...(source ? { source } : {}),
        });
      }
      ports.push({ ...(p.name ? { name: p.name } : {}), port: p.port, ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}), protocol: protocol === "Unsupported" ? "HTTP" : protocol });
    }
    const clusterIP = svc.spec.clusterIP;
    out.set(hostname, {
      hostname,
      name: svc.metadata.name,
      namespace,
      ...(clusterIP ? { clusterIP } : {}),
      ports: ports.sort((a, b) => a.port - b.port),
      ref: { kind: "Service", namespace, name: svc.metadata.name },
    });
  }
  return { services: new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), diagnostics };
}

export function compareRefs(a: { metadata: { namespace?: string; name: string } }, b: { metadata: { namespace?: string; name: string } }): number {
  const an = `${a.metadata.namespace ?? ""}/${a.metadata.name}`;
  const bn = `${b.metadata.namespace ?? ""}/${b.metadata.name}`;
  return an < bn ? -1 : an > bn ? 1 : 0;
}
