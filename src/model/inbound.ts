/**
 * A sidecar's inbound side as Istio derives it: the Services of the proxy's namespace whose
 * selector matches its labels, and for each of their ports the workload port (`targetPort`) that
 * traffic reaches the application on. Istio keys inbound listeners' chains and clusters by that
 * port, and the first Service (by name) wins where two name the same target port.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { MeshModel, Protocol, ServiceModel, ServicePortModel } from "./ir.js";
import type { ProxyView } from "./proxy.js";

export interface InboundPortScope {
  readonly targetPort: number;
  readonly protocol: Protocol;
  /** No protocol named: Envoy's HTTP inspector decides per connection. */
  readonly detected: boolean;
  readonly service: ServiceModel;
  readonly servicePort: ServicePortModel;
}

export interface InboundScope {
  /** Sorted by target port. */
  readonly ports: readonly InboundPortScope[];
  readonly diagnostics: readonly Diagnostic[];
}

const NO_INBOUND: InboundScope = { ports: [], diagnostics: [] };

export function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** The inbound ports of `proxy`; none for INTERCEPTION_MODE NONE (nothing is captured, as in Istio without a Sidecar ingress). */
export function inboundScope(mesh: MeshModel, proxy: ProxyView): InboundScope {
  if (proxy.type !== "sidecar" || proxy.interceptionMode === "NONE") return NO_INBOUND;
  const byPort = new Map<number, InboundPortScope>();
  const diagnostics: Diagnostic[] = [];
  for (const svc of mesh.services.values()) {
    if (svc.namespace !== proxy.namespace || !selects(svc.selector, proxy.labels)) continue;
    for (const port of svc.ports) {
      const target = port.targetPort ?? port.port;
      if (typeof target !== "number") {
        diagnostics.push({
          severity: "warning",
          code: "MP0121",
          message: `port ${port.port} has the named targetPort "${target}": sidecars do not resolve container port names for inbound traffic yet, so this port gets no inbound chain (connections to it pass through to the application unrouted)`,
          object: svc.ref,
        });
        continue;
      }
      if (byPort.has(target)) continue;
      byPort.set(target, { targetPort: target, protocol: port.protocol, detected: port.detected === true, service: svc, servicePort: port });
    }
  }
  return { ports: [...byPort.values()].sort((a, b) => a.targetPort - b.targetPort), diagnostics };
}
