/**
 * Istio Gateways in the model, and what the router proxies of one view serve: the Gateways whose
 * `selector` their labels satisfy (any namespace, as Istio with PILOT_SCOPE_GATEWAY_TO_NAMESPACE
 * off), merged per listener port as Istio merges them. A port takes servers of one kind only:
 * plaintext HTTP (one route configuration `http.<port>` shared by all its servers), TLS (HTTPS
 * and TLS servers, one filter chain each, told apart by SNI; a host already served on the port
 * is taken from the later server) or TCP (the first server only). A server that cannot join its
 * port is left out with a finding; the rest keep serving. VirtualServices bind to a server when
 * they name its Gateway in `gateways` and one of their hosts meets one of its hosts
 * (`namespace/host`: `*` any namespace, `.` the Gateway's, else that namespace).
 */
import type { Diagnostic, ObjectRef } from "../api/diagnostics.js";
import { originOf } from "./gateway-api/origin.js";
import type { StoredObject } from "../api/objects.js";
import type { Gateway, GatewayTlsMode, TlsProtocolVersion } from "../api/istio/gateway-types.js";
import { gatewayProtocol, isValidCipherSuite } from "../api/istio/validate-gateway.js";
import { hostSubsetOf, hostsOverlap } from "../api/validate-names.js";
import { isExportedTo } from "./hosts.js";
import type { ServiceModel, VirtualServiceModel } from "./ir.js";
import { gatewayHttpRouteName, gatewayHttpsRouteName, gatewayKey, MESH_GATEWAY, resolveGatewayName } from "./names.js";

export { gatewayKey, resolveGatewayName };
import type { ProxyView } from "./proxy.js";
import { byCreation } from "./routing.js";

export type GatewayObject = Gateway;

export const GatewayModelCodes = {
  /** A VirtualService names a Gateway that does not exist (Istio's analyzer: IST0101 ReferencedResourceNotFound). */
  GatewayNotFound: "IST0101",
  /** A server conflicts with an earlier one on the same port; it is left out. */
  ServerConflict: "MP0502",
  /** A server's TLS mode meshpilot does not serve; it is left out. */
  UnsupportedServer: "MP0503",
} as const;

/** Gateway server protocols (Istio's names, upper case). */
export type GatewayProtocol = "HTTP" | "HTTPS" | "HTTP2" | "GRPC" | "GRPC-WEB" | "TCP" | "TLS" | "MONGO" | "REDIS" | "MYSQL";

/** `host` under a namespace restriction: `*` any namespace, else that namespace (`.` already resolved). */
export interface GatewayHostModel {
  readonly namespace: string;
  readonly host: string;
}

export interface GatewayTlsModel {
  readonly mode: GatewayTlsMode;
  readonly httpsRedirect: boolean;
  /** The Secret (in the gateway proxy's namespace) with the server certificate, key and, for MUTUAL, the client CA. */
  readonly credentialName?: string;
  readonly serverCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  /** SANs a client certificate must carry (MUTUAL). */
  readonly subjectAltNames: readonly string[];
  readonly minProtocolVersion?: TlsProtocolVersion;
  readonly maxProtocolVersion?: TlsProtocolVersion;
  /** Only those Envoy knows (validation warned about the others). */
  readonly cipherSuites: readonly string[];
}

export interface GatewayServerModel {
  /** `namespace/name` of the Gateway: what VirtualService `gateways` entries resolve to. */
  readonly gateway: string;
  readonly gatewayName: string;
  readonly gatewayNamespace: string;
  readonly port: { readonly number: number; readonly protocol: GatewayProtocol; readonly name: string };
  readonly bind?: string;
  readonly hosts: readonly GatewayHostModel[];
  readonly tls?: GatewayTlsModel;
  readonly name?: string;
  readonly ref: ObjectRef;
  /** The server's field path in its Gateway (`spec.servers[1]`), for findings only. */
  readonly path: string;
}

export interface GatewayModel {
  readonly name: string;
  readonly namespace: string;
  readonly creationTimestamp: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly servers: readonly GatewayServerModel[];
  readonly ref: ObjectRef;
}

/**
 * How a server's connections are handled: `http` plaintext HTTP; `https` TLS terminated, then
 * HTTP; `tls-terminate` TLS terminated, then TCP routes; `passthrough` TLS routed by SNI
 * untouched; `tcp` plain TCP routes.
 */
export type ServerHandling = "http" | "https" | "tls-terminate" | "passthrough" | "tcp";

/** A VirtualService bound to a server, with the hosts they share (each the more specific of a pair). */
export interface BoundVirtualService {
  readonly virtualService: VirtualServiceModel;
  readonly hosts: readonly string[];
}

export interface BoundServer {
  readonly server: GatewayServerModel;
  readonly handling: ServerHandling;
  /** The server's hosts left after earlier servers of its port took theirs (SNI names of its chain). */
  readonly hosts: readonly string[];
  /** `http.<port>` or `https.<port>.<portName>.<gateway>.<namespace>`; none for TCP handling. */
  readonly routeName?: string;
  /** Bound VirtualServices in Istio's order (creation time, then namespace/name). */
  readonly virtualServices: readonly BoundVirtualService[];
}

/** One listener of a router proxy and the servers it serves. */
export interface GatewayPortModel {
  /** The listener's port: the server port, or the targetPort a Service of the proxy maps it to. */
  readonly port: number;
  readonly bind: string;
  readonly kind: "http" | "tls" | "tcp";
  readonly servers: readonly BoundServer[];
}

/** What the router proxies of one view serve. */
export interface MergedGateway {
  /** `namespace/name` of the Gateways that select the view, oldest first. */
  readonly gateways: readonly string[];
  /** By port, then bind address. */
  readonly ports: readonly GatewayPortModel[];
  readonly diagnostics: readonly Diagnostic[];
}

const TLS_MODES_TERMINATING: readonly GatewayTlsMode[] = ["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL", "ISTIO_MUTUAL"];

function tlsModel(raw: NonNullable<Gateway["spec"]["servers"]>[number]["tls"]): GatewayTlsModel | undefined {
  if (!raw) return undefined;
  return {
    mode: raw.mode ?? "PASSTHROUGH",
    httpsRedirect: raw.httpsRedirect === true,
    ...(raw.credentialName ? { credentialName: raw.credentialName } : {}),
    ...(raw.serverCertificate ? { serverCertificate: raw.serverCertificate } : {}),
    ...(raw.privateKey ? { privateKey: raw.privateKey } : {}),
    ...(raw.caCertificates ? { caCertificates: raw.caCertificates } : {}),
    subjectAltNames: raw.subjectAltNames ?? [],
    ...(raw.minProtocolVersion ? { minProtocolVersion: raw.minProtocolVersion } : {}),
    ...(raw.maxProtocolVersion ? { maxProtocolVersion: raw.maxProtocolVersion } : {}),
    cipherSuites: (raw.cipherSuites ?? []).filter(isValidCipherSuite),
  };
}

function hostModel(h: string, gatewayNamespace: string): GatewayHostModel {
  const slash = h.indexOf("/");
  if (slash < 0) return { namespace: "*", host: h.toLowerCase() };
  const ns = h.slice(0, slash);
  return { namespace: ns === "." ? gatewayNamespace : ns, host: h.slice(slash + 1).toLowerCase() };
}

/** Validated Gateways → models, oldest first. */
export function buildGateways(gateways: readonly StoredObject<GatewayObject>[]): GatewayModel[] {
  const out: GatewayModel[] = [];
  for (const { object: gw } of gateways) {
    const namespace = gw.metadata.namespace ?? "default";
    const name = gw.metadata.name;
    const ref: ObjectRef = originOf(gw.metadata) ?? { kind: "Gateway", namespace, name };
    const servers: GatewayServerModel[] = [];
    (gw.spec.servers ?? []).forEach((s, i) => {
      const protocol = gatewayProtocol(s.port.protocol) as GatewayProtocol | undefined;
      if (!protocol) return;
      const tls = tlsModel(s.tls);
      servers.push({
        gateway: gatewayKey(namespace, name),
        gatewayName: name,
        gatewayNamespace: namespace,
        port: { number: s.port.number, protocol, name: s.port.name },
        ...(s.bind ? { bind: s.bind } : {}),
        hosts: s.hosts.map((h) => hostModel(h, namespace)),
        ...(tls ? { tls } : {}),
        ...(s.name ? { name: s.name } : {}),
        ref,
        path: `spec.servers[${i}]`,
      });
    });
    out.push({ name, namespace, creationTimestamp: gw.metadata.creationTimestamp ?? "", selector: gw.spec.selector ?? {}, servers, ref });
  }
  return out.sort(byCreation);
}

/** Istio's selection: every selector label on the proxy (an empty selector selects every router). */
export function gatewaySelects(gw: GatewayModel, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(gw.selector).every(([k, v]) => labels[k] === v);
}

export function serverHandling(s: GatewayServerModel): ServerHandling {
  const p = s.port.protocol;
  const mode = s.tls?.mode;
  if (p === "HTTPS") return mode && TLS_MODES_TERMINATING.includes(mode) ? "https" : "passthrough";
  if (p === "TLS") return mode && TLS_MODES_TERMINATING.includes(mode) ? "tls-terminate" : "passthrough";
  if (p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "GRPC-WEB") return "http";
  return "tcp";
}

function portKind(h: ServerHandling): GatewayPortModel["kind"] {
  return h === "http" ? "http" : h === "tcp" ? "tcp" : "tls";
}

/** Istio's route configuration name of a server: shared per port for plaintext HTTP, per server for HTTPS. */
export function gatewayRouteName(s: GatewayServerModel, handling: ServerHandling, listenerPort: number): string | undefined {
  if (handling === "http") return gatewayHttpRouteName(listenerPort);
  if (handling === "https") return gatewayHttpsRouteName(s.port.number, s.port.name, s.gatewayName, s.gatewayNamespace);
  return undefined;
}

/**
 * The listener port of a server port on this proxy: the targetPort of a Service of the proxy's
 * namespace that selects it and exposes that port (Istio resolves gateway ports this way), else
 * the server port itself.
 */
export function listenerPortFor(serverPort: number, proxy: ProxyView, services: ReadonlyMap<string, ServiceModel>): number {
  for (const svc of services.values()) {
    if (svc.namespace !== proxy.namespace || svc.entry || !svc.selector || Object.keys(svc.selector).length === 0) continue;
    if (!Object.entries(svc.selector).every(([k, v]) => proxy.labels[k] === v)) continue;
    const p = svc.ports.find((sp) => sp.port === serverPort);
    if (p && typeof p.targetPort === "number") return p.targetPort;
  }
  return serverPort;
}

/** Whether a VirtualService in `vsNamespace` may bind through server host `h`. */
function namespaceAllowed(h: GatewayHostModel, vsNamespace: string): boolean {
  return h.namespace === "*" || h.namespace === vsNamespace;
}

/** The hosts of `vs` that meet the server's hosts, each the more specific of the pair, in VirtualService host order. */
export function sharedHosts(vs: VirtualServiceModel, serverHosts: readonly GatewayHostModel[]): string[] {
  const out: string[] = [];
  for (const vh of vs.hosts) {
    for (const sh of serverHosts) {
      if (!namespaceAllowed(sh, vs.namespace) || !hostsOverlap(vh, sh.host)) continue;
      const h = hostSubsetOf(vh, sh.host) ? vh : sh.host;
      if (!out.includes(h)) out.push(h);
    }
  }
  return out;
}

/** The VirtualServices bound to a server, in creation order. */
function boundVirtualServices(s: GatewayServerModel, virtualServices: readonly VirtualServiceModel[]): BoundVirtualService[] {
  const out: BoundVirtualService[] = [];
  for (const vs of virtualServices) {
    if (!vs.gateways.some((g) => resolveGatewayName(g, vs.namespace) === s.gateway)) continue;
    if (!isExportedTo(vs.exportTo, vs.namespace, s.gatewayNamespace)) continue;
    const hosts = sharedHosts(vs, s.hosts);
    if (hosts.length) out.push({ virtualService: vs, hosts });
  }
  return out;
}

interface PortAcc {
  port: number;
  bind: string;
  kind: GatewayPortModel["kind"];
  servers: BoundServer[];
  sni: Map<string, string>;
  routeNames: Set<string>;
}

/**
 * What a router proxy of `proxy`'s view serves: its Gateways' servers merged per port, with the
 * VirtualServices bound to each (virtualServices in creation order).
 */
export function mergeGateways(
  gateways: readonly GatewayModel[],
  virtualServices: readonly VirtualServiceModel[],
  proxy: ProxyView,
  services: ReadonlyMap<string, ServiceModel>,
): MergedGateway {
  const diagnostics: Diagnostic[] = [];
  const selected = gateways.filter((g) => gatewaySelects(g, proxy.labels));
  const ports = new Map<string, PortAcc>();
  const conflict = (s: GatewayServerModel, message: string, code: string = GatewayModelCodes.ServerConflict): void => {
    diagnostics.push({ severity: "error", code, message, object: s.ref, path: s.path });
  };
  for (const gw of selected) {
    for (const s of gw.servers) {
      const handling = serverHandling(s);
      if (s.tls?.mode === "AUTO_PASSTHROUGH" || s.tls?.mode === "ISTIO_MUTUAL" || s.tls?.mode === "OPTIONAL_MUTUAL") {
        conflict(
          s,
          `server on port ${s.port.number}: TLS mode ${s.tls.mode} is not supported by meshpilot yet; the server is left out`,
          GatewayModelCodes.UnsupportedServer,
        );
        continue;
      }
      if (s.bind?.startsWith("unix://")) {
        conflict(
          s,
          `server on port ${s.port.number}: binding to a unix socket is not supported by meshpilot yet; the server is left out`,
          GatewayModelCodes.UnsupportedServer,
        );
        continue;
      }
      const port = listenerPortFor(s.port.number, proxy, services);
      const bind = s.bind ?? "0.0.0.0";
      const key = `${bind}_${port}`;
      const kind = portKind(handling);
      let acc = ports.get(key);
      if (!acc) {
        acc = { port, bind, kind, servers: [], sni: new Map(), routeNames: new Set() };
        ports.set(key, acc);
      } else if (acc.kind !== kind) {
        conflict(
          s,
          `server on port ${s.port.number} (${s.port.protocol}) conflicts with an earlier ${acc.kind.toUpperCase()} server on the same port; the server is left out`,
        );
        continue;
      } else if (kind === "tcp") {
        conflict(s, `server on port ${s.port.number} (${s.port.protocol}): the port already has a TCP server; the server is left out`);
        continue;
      }
      let hosts = s.hosts.map((h) => h.host);
      if (kind === "tls") {
        const dup = hosts.filter((h) => acc!.sni.has(h));
        if (dup.length) {
          conflict(
            s,
            `server on port ${s.port.number}: host${dup.length > 1 ? "s" : ""} ${dup.join(", ")} already served on this port by ${dup.map((h) => acc!.sni.get(h)).join(", ")}; ${dup.length === hosts.length ? "the server is left out" : "left out of this server"}`,
          );
          hosts = hosts.filter((h) => !acc!.sni.has(h));
          if (hosts.length === 0) continue;
        }
      }
      const routeName = gatewayRouteName(s, handling, port);
      if (handling === "https" && routeName && acc.routeNames.has(routeName)) {
        conflict(
          s,
          `server on port ${s.port.number}: another HTTPS server of Gateway ${s.gateway} on this port has port name "${s.port.name}" (route ${routeName}); the server is left out`,
        );
        continue;
      }
      if (routeName) acc.routeNames.add(routeName);
      for (const h of hosts) acc.sni.set(h, `${s.gateway} ${s.path}`);
      const restricted = hosts.length === s.hosts.length ? s : { ...s, hosts: s.hosts.filter((h) => hosts.includes(h.host)) };
      acc.servers.push({ server: s, handling, hosts, ...(routeName ? { routeName } : {}), virtualServices: boundVirtualServices(restricted, virtualServices) });
    }
  }
  const sorted = [...ports.values()].sort((a, b) => a.port - b.port || (a.bind < b.bind ? -1 : a.bind > b.bind ? 1 : 0));
  return {
    gateways: selected.map((g) => gatewayKey(g.namespace, g.name)),
    ports: sorted.map(({ port, bind, kind, servers }) => ({ port, bind, kind, servers })),
    diagnostics,
  };
}

/**
 * VirtualServices bound to a Gateway that does not exist (Istio's IST0101). `mesh` always exists.
 */
export function missingGatewayFindings(gateways: readonly GatewayModel[], virtualServices: readonly VirtualServiceModel[]): Diagnostic[] {
  const known = new Set(gateways.map((g) => gatewayKey(g.namespace, g.name)));
  const out: Diagnostic[] = [];
  for (const vs of virtualServices) {
    vs.gateways.forEach((g, i) => {
      const key = resolveGatewayName(g, vs.namespace);
      if (key === MESH_GATEWAY || known.has(key)) return;
      out.push({
        severity: "error",
        code: GatewayModelCodes.GatewayNotFound,
        message: `Referenced gateway not found: "${g}" (${key}); the VirtualService is bound to no gateway proxy through it`,
        object: vs.ref,
        path: `spec.gateways[${i}]`,
      });
    });
  }
  return out;
}
