/**
 * A sidecar's inbound side as Istio derives it. Without a Sidecar `ingress`: the Services of the
 * proxy's namespace whose selector matches its labels, and for each of their ports the workload
 * port (`targetPort`, a name resolved against the pod's container ports) that traffic reaches the
 * application on; Istio keys inbound chains and clusters by that port, and the first Service (by
 * name) wins where two name the same target port. With a Sidecar `ingress`: its listeners instead,
 * all of them (Istio's default, without PILOT_ENABLE_SIDECAR_SERVICE_INBOUND_LISTENER_MERGE).
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { MeshModel, Protocol, ServiceModel, ServicePortModel } from "./ir.js";
import { resolveNamedPort, selects } from "./named-ports.js";
import type { ProxyView } from "./proxy.js";
import type { ConnectionPoolModel, IngressEndpoint, IngressListenerModel, SidecarModel } from "./sidecar-scope.js";
import { DEFAULT_MESH_CONFIG } from "./mesh-config.js";
import { ISTIO_TLS_MODE, TLS_MODE_LABEL } from "./names.js";
import { mtlsModeForPort, workloadMtls, type MtlsMode } from "./peer-authentication.js";

export interface InboundPortScope {
  readonly targetPort: number;
  readonly protocol: Protocol;
  /** No protocol named: Envoy's HTTP inspector decides per connection. */
  readonly detected: boolean;
  /** The Service that owns the port (for a Sidecar ingress port: one targeting it, else one named after the Sidecar, as Istio makes up). */
  readonly service: ServiceModel;
  readonly servicePort: ServicePortModel;
  /** Where the inbound cluster sends connections. */
  readonly endpoint: IngressEndpoint;
  /** Set for a Sidecar ingress port: the Sidecar it comes from. */
  readonly sidecar?: { readonly name: string; readonly namespace: string };
  /** The Sidecar ingress `bind` (listener and chain names); unset: 0.0.0.0. */
  readonly bind?: string;
  /** A listener of its own on `bind`:port (Sidecar ingress with captureMode NONE, or a proxy without capture), not a virtualInbound chain. */
  readonly bound?: true;
  /** The Sidecar's connection pool for this port (the ingress listener's, else `inboundConnectionPool`). */
  readonly connectionPool?: ConnectionPoolModel;
  /** What the port's chains accept under PeerAuthentication (see `offered`). */
  readonly mtls: MtlsMode;
}

export interface InboundScope {
  /** Sorted by target port. */
  readonly ports: readonly InboundPortScope[];
  /** What connections to ports no Service names (the passthrough chains) accept. */
  readonly passthrough: MtlsMode;
  /** `portLevelMtls` ports that are no inbound port, with what their passthrough chains accept; sorted. */
  readonly passthroughPorts: readonly { readonly port: number; readonly mtls: MtlsMode }[];
  readonly diagnostics: readonly Diagnostic[];
}

const NO_INBOUND: InboundScope = { ports: [], passthrough: "DISABLE", passthroughPorts: [], diagnostics: [] };
const ORIGINAL: IngressEndpoint = { kind: "original" };

export { selects };

/**
 * The inbound ports of `proxy`. Without capture (INTERCEPTION_MODE NONE) only a Sidecar's ingress
 * listeners make any: Services' ports would take the application's own sockets.
 */
export function inboundScope(mesh: MeshModel, proxy: ProxyView, sidecar?: SidecarModel): InboundScope {
  if (proxy.type !== "sidecar") return NO_INBOUND;
  if (sidecar?.ingress.length) return withMtls(mesh, proxy, ingressScope(mesh, proxy, sidecar));
  if (proxy.interceptionMode === "NONE") return NO_INBOUND;
  const { ports, diagnostics } = servicePorts(mesh, proxy);
  const pool = sidecar?.inboundConnectionPool;
  return withMtls(mesh, proxy, { ports: pool ? ports.map((p) => ({ ...p, connectionPool: pool })) : ports, diagnostics });
}

/**
 * What a port's chains accept under the PeerAuthentication `mode`: STRICT and DISABLE as Istio;
 * PERMISSIVE offers mTLS beside plaintext only when the proxy can present a certificate and is
 * a mesh member (the injector's `security.istio.io/tlsMode: istio` label, the one auto mTLS
 * clients key on); otherwise nobody would send it mTLS, and its chains stay plaintext.
 */
function offered(mode: MtlsMode, member: boolean): MtlsMode {
  return mode === "PERMISSIVE" && !member ? "DISABLE" : mode;
}

type PortsWithoutMtls = { readonly ports: readonly Omit<InboundPortScope, "mtls">[]; readonly diagnostics: readonly Diagnostic[] };

/** The workload's PeerAuthentication modes on its inbound ports and on the passthrough. */
function withMtls(mesh: MeshModel, proxy: ProxyView, scope: PortsWithoutMtls): InboundScope {
  const config = mesh.meshConfig ?? DEFAULT_MESH_CONFIG;
  const member = config.workloadCertificates !== false && proxy.labels[TLS_MODE_LABEL] === ISTIO_TLS_MODE;
  const peer = workloadMtls(mesh.peerAuthentications, proxy.namespace, proxy.labels);
  const ports = scope.ports.map((p) => ({ ...p, mtls: offered(mtlsModeForPort(peer, p.targetPort), member) }));
  const passthroughPorts = [...peer.perPort.keys()]
    .filter((port) => !ports.some((p) => p.targetPort === port))
    .sort((a, b) => a - b)
    .map((port) => ({ port, mtls: offered(mtlsModeForPort(peer, port), member) }));
  return { ports, passthrough: offered(peer.mode, member), passthroughPorts, diagnostics: scope.diagnostics };
}

function servicePorts(mesh: MeshModel, proxy: ProxyView): { ports: Omit<InboundPortScope, "mtls">[]; diagnostics: Diagnostic[] } {
  const byPort = new Map<number, Omit<InboundPortScope, "mtls">>();
  const diagnostics: Diagnostic[] = [];
  for (const svc of kubeServicesIn(mesh.services, proxy.namespace)) {
    if (!selects(svc.selector, proxy.labels)) continue;
    for (const port of svc.ports) {
      const target = targetPortOf(mesh, proxy, svc, port, diagnostics);
      if (target === undefined || byPort.has(target)) continue;
      byPort.set(target, {
        targetPort: target,
        protocol: port.protocol,
        detected: port.detected === true,
        service: svc,
        servicePort: port,
        endpoint: ORIGINAL,
      });
    }
  }
  return { ports: [...byPort.values()].sort((a, b) => a.targetPort - b.targetPort), diagnostics };
}

/** Per registry (a model's services map, never changed once built): its Services by namespace, in its order. */
const byNamespace = new WeakMap<ReadonlyMap<string, ServiceModel>, ReadonlyMap<string, readonly ServiceModel[]>>();
const NO_SERVICES: readonly ServiceModel[] = [];

/**
 * The Services (not ServiceEntries) of `namespace`, in the registry's order. Every workload view's
 * inbound side asks, and a walk over the whole registry per view made its cost grow with
 * views × services.
 */
export function kubeServicesIn(services: ReadonlyMap<string, ServiceModel>, namespace: string): readonly ServiceModel[] {
  let index = byNamespace.get(services);
  if (!index) {
    const m = new Map<string, ServiceModel[]>();
    for (const svc of services.values()) {
      if (svc.entry) continue;
      const list = m.get(svc.namespace);
      if (list) list.push(svc);
      else m.set(svc.namespace, [svc]);
    }
    byNamespace.set(services, m);
    index = m;
  }
  return index.get(namespace) ?? NO_SERVICES;
}

function targetPortOf(mesh: MeshModel, proxy: ProxyView, svc: ServiceModel, port: ServicePortModel, diagnostics: Diagnostic[]): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === "number") return target;
  const { port: resolved, conflicting } = resolveNamedPort(mesh.podPorts, svc.namespace, svc.selector, proxy.labels, target);
  if (resolved === undefined) {
    diagnostics.push({
      severity: "warning",
      code: "MP0121",
      message: `port ${port.port} has the named targetPort "${target}", which no container port of the selected pods (labels ${JSON.stringify(proxy.labels)}) declares: this port gets no inbound chain (connections to it pass through to the application unrouted)`,
      object: svc.ref,
    });
    return undefined;
  }
  if (conflicting) {
    diagnostics.push({
      severity: "warning",
      code: "MP0121",
      message: `port ${port.port} has the named targetPort "${target}", which pods with the same labels declare as different container ports (${conflicting.join(", ")}); their sidecars share one configuration, so ${resolved} is used for all of them`,
      object: svc.ref,
    });
  }
  return resolved;
}

/** Istio's `getBindToPort`: an explicit captureMode decides; DEFAULT follows the proxy's capture. */
function bindsToPort(l: IngressListenerModel, proxy: ProxyView): boolean {
  if (!l.captureMode || l.captureMode === "DEFAULT") return proxy.interceptionMode === "NONE";
  return l.captureMode === "NONE";
}

function ingressScope(mesh: MeshModel, proxy: ProxyView, sidecar: SidecarModel): PortsWithoutMtls {
  const { ports: fromServices, diagnostics } = servicePorts(mesh, proxy);
  const ports: Omit<InboundPortScope, "mtls">[] = [];
  sidecar.ingress.forEach((l, i) => {
    const bound = bindsToPort(l, proxy);
    if (!bound && proxy.interceptionMode === "NONE") {
      diagnostics.push({
        severity: "warning",
        code: "MP0122",
        message: `ingress[${i}] (port ${l.port.number}) has captureMode ${l.captureMode}, but this proxy captures nothing (INTERCEPTION_MODE NONE): it gets no listener for the port, as in Istio`,
        object: sidecar.ref,
        path: `spec.ingress[${i}].captureMode`,
      });
      return;
    }
    const owner = fromServices.find((p) => p.targetPort === l.port.number);
    const service: ServiceModel = owner?.service ?? {
      hostname: `${sidecar.name}.${sidecar.namespace}`,
      name: sidecar.name,
      namespace: sidecar.namespace,
      ports: [],
      ref: sidecar.ref,
    };
    const detected = l.port.protocol === "Unsupported";
    const pool = l.connectionPool ?? sidecar.inboundConnectionPool;
    ports.push({
      targetPort: l.port.number,
      protocol: detected ? "HTTP" : l.port.protocol,
      detected,
      service,
      servicePort: { ...(l.port.name ? { name: l.port.name } : {}), port: l.port.number, protocol: l.port.protocol },
      endpoint: l.endpoint,
      sidecar: { name: sidecar.name, namespace: sidecar.namespace },
      ...(l.bind ? { bind: l.bind } : {}),
      ...(bound ? { bound: true as const } : {}),
      ...(pool ? { connectionPool: pool } : {}),
    });
  });
  // Named targetPorts of Services do not matter here: the Sidecar's ports replace them.
  return { ports: ports.sort((a, b) => a.targetPort - b.targetPort), diagnostics: diagnostics.filter((d) => d.code !== "MP0121") };
}
