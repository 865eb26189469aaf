/**
 * What one router view serves, resolved: its merged Gateway servers (gateways.ts) with the routes
 * of their bound VirtualServices (resolved as for sidecars, for this gateway and the server's
 * port), the certificate Secrets they name (read from the proxy's namespace, as Istio reads them)
 * and, as Istio's gateway scoping does, only the services those routes reach.
 *
 * Several VirtualServices for one host on one gateway merge as Istio merges them: each keeps its
 * routes, in creation order, one after the other in a single virtual host. A host only the first
 * server of a port serves; `httpsRedirect` marks the server's virtual hosts TLS-only, and makes one
 * for each of its hosts no VirtualService fills.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import { mergeGateways, type BoundServer, type GatewayPortModel } from "./gateways.js";
import { hostsOverlap, hostSubsetOf } from "../api/validate-names.js";
import { credentialKey, type CredentialModel, type DestinationRuleModel, type MeshModel } from "./ir.js";
import { CREDENTIAL_CA_SUFFIX, parseGatewayCredentialName, parseOutboundClusterName } from "./names.js";
import { secretAllowed } from "./gateway-api/refs.js";
import type { ReferenceGrant } from "../api/gateway-api/types.js";
import type { ClusterPolicy } from "./parsed.js";
import { clusterPolicy, destinationRuleFor } from "./policies.js";
import type { ProxyView } from "./proxy.js";
import { resolveGatewayL4Routes, resolveHttpRoutes, type HttpRouteModel, type L4RouteModel, type RouteScope } from "./routes.js";
import type { PeerAuthentications } from "./peer-authentication.js";
import { aliasTargets, serviceMtls, serviceScope, type ServiceScope } from "./scope.js";
import { serviceVisible } from "./visibility.js";

export interface GatewayVirtualHostScope {
  readonly host: string;
  readonly domains: readonly string[];
  /** The routes of each bound VirtualService for the host, in creation order (Istio concatenates them). */
  readonly routes: readonly (readonly HttpRouteModel[])[];
  /** The server has `httpsRedirect`: plaintext requests get a 301 to https. */
  readonly requireTls: boolean;
  /** The listener port number the routes were resolved for (the server port). */
  readonly port: number;
}

/**
 * A `credentialName` looked up where Istio looks: in the gateway proxy's namespace, or for a
 * Gateway API reference (`kubernetes-gateway://<ns>/<name>`) in that namespace, when the proxy's
 * namespace may read it (its own, or a ReferenceGrant there lets Gateways of the proxy's read it).
 */
export interface GatewayCredentialScope {
  /** As the server names it (the SDS names derive from it). */
  readonly name: string;
  /** The Secret's namespace and name. */
  readonly namespace: string;
  readonly secretName: string;
  readonly secret?: CredentialModel;
  /** The `<name>-cacert` Secret, when there is one. */
  readonly caSecret?: CredentialModel;
  /** Why the proxy may not have it (then `secret` is absent). */
  readonly refused?: string;
}

export interface GatewayServerScope {
  readonly bound: BoundServer;
  /** HTTPS servers: the virtual hosts of their own route configuration. */
  readonly virtualHosts: readonly GatewayVirtualHostScope[];
  /** PASSTHROUGH, TCP and terminated TLS servers: their filter chains' routes. */
  readonly l4Routes: readonly L4RouteModel[];
  readonly credential?: GatewayCredentialScope;
}

export interface GatewayListenerScope {
  readonly port: GatewayPortModel;
  readonly servers: readonly GatewayServerScope[];
  /** A plaintext HTTP port: the virtual hosts of its shared `http.<port>` route configuration. */
  readonly virtualHosts: readonly GatewayVirtualHostScope[];
}

export interface GatewayScope {
  readonly proxy: ProxyView;
  /** `namespace/name` of the Gateways the view serves. */
  readonly gateways: readonly string[];
  readonly listeners: readonly GatewayListenerScope[];
  /** The services the routes reach (by FQDN), with the clusters of each. */
  readonly services: readonly ServiceScope[];
  /** The outbound cluster names the routes use. */
  readonly clusters: ReadonlySet<string>;
  readonly diagnostics: readonly Diagnostic[];
  /** The mesh's PeerAuthentications (destination endpoints' mTLS is decided by theirs). */
  readonly peerAuthentications?: PeerAuthentications;
}

const NO_CREDENTIALS: ReadonlyMap<string, CredentialModel> = new Map();

export function buildGatewayScope(mesh: MeshModel, proxy: ProxyView): GatewayScope {
  const credentials = mesh.credentials ?? NO_CREDENTIALS;
  const grants = mesh.gatewayApi?.referenceGrants ?? [];
  const merged = mergeGateways(mesh.gateways ?? [], mesh.virtualServices, proxy, mesh.services);
  const rules = new Map<string, DestinationRuleModel | undefined>();
  const ruleFor = (host: string): DestinationRuleModel | undefined => {
    if (!rules.has(host)) {
      const svc = mesh.services.get(host);
      rules.set(host, svc ? destinationRuleFor(mesh.destinationRules, host, svc.namespace, proxy.namespace, proxy.labels) : undefined);
    }
    return rules.get(host);
  };
  const policyFor = (host: string, subset: string | undefined, port: number): ClusterPolicy | undefined => {
    const rule = ruleFor(host);
    return rule ? clusterPolicy(rule, subset, port) : undefined;
  };
  const aliasTarget = aliasTargets(mesh);
  const ctxFor = (b: BoundServer): RouteScope => ({
    port: b.server.port.number,
    gateway: b.server.gateway,
    proxy,
    services: mesh.services,
    policyFor,
    ...(aliasTarget ? { aliasTarget } : {}),
  });

  const listeners: GatewayListenerScope[] = merged.ports.map((port) => {
    const used = new Set<string>();
    const plaintext = port.kind === "http" ? port.servers.flatMap((b) => virtualHosts(b, ctxFor(b), used)) : [];
    const servers = port.servers.map((b): GatewayServerScope => {
      const ctx = ctxFor(b);
      const narrow = (sni: string): string[] => b.hosts.filter((h) => hostsOverlap(sni, h)).map((h) => (hostSubsetOf(sni, h) ? sni : h));
      const l4Routes =
        b.handling === "passthrough"
          ? resolveGatewayL4Routes(b.virtualServices, "tls", narrow, ctx)
          : b.handling === "tcp" || b.handling === "tls-terminate"
            ? resolveGatewayL4Routes(b.virtualServices, "tcp", narrow, ctx)
            : [];
      const name = b.server.tls?.credentialName;
      const credential =
        name && (b.handling === "https" || b.handling === "tls-terminate") ? credentialScope(name, proxy.namespace, credentials, grants) : undefined;
      return {
        bound: b,
        virtualHosts: b.handling === "https" ? virtualHosts(b, ctx, new Set()) : [],
        l4Routes,
        ...(credential ? { credential } : {}),
      };
    });
    return { port, servers, virtualHosts: plaintext };
  });

  const clusters = new Set<string>();
  for (const l of listeners) {
    for (const vh of l.virtualHosts) addRouteClusters(vh, clusters);
    for (const s of l.servers) {
      for (const vh of s.virtualHosts) addRouteClusters(vh, clusters);
      for (const r of s.l4Routes) for (const d of r.proxy.destinations) clusters.add(d.cluster);
    }
  }
  const hosts = new Set<string>();
  for (const c of clusters) {
    const parsed = parseOutboundClusterName(c);
    if (parsed) hosts.add(parsed.host);
  }
  const services: ServiceScope[] = [];
  for (const svc of mesh.services.values()) {
    if (!hosts.has(svc.hostname) || !serviceVisible(svc, proxy.namespace, mesh.meshConfig)) continue;
    services.push(serviceScope(svc, ruleFor(svc.hostname), credentials, serviceMtls(mesh, svc)));
  }
  return {
    proxy,
    gateways: merged.gateways,
    listeners,
    services,
    clusters,
    diagnostics: merged.diagnostics,
    ...(mesh.peerAuthentications ? { peerAuthentications: mesh.peerAuthentications } : {}),
  };
}

function credentialScope(
  name: string,
  proxyNamespace: string,
  credentials: ReadonlyMap<string, CredentialModel>,
  grants: readonly ReferenceGrant[],
): GatewayCredentialScope {
  const ref = parseGatewayCredentialName(name);
  const namespace = ref?.namespace ?? proxyNamespace;
  const secretName = ref?.name ?? name;
  if (ref && !secretAllowed(grants, proxyNamespace, namespace, secretName))
    return {
      name,
      namespace,
      secretName,
      refused: `Secret ${namespace}/${secretName} (tls.credentialName ${name}) is in another namespace than the gateway proxy's (${proxyNamespace}) and no ReferenceGrant in "${namespace}" allows Gateways from "${proxyNamespace}" to read it`,
    };
  const secret = credentials.get(credentialKey(namespace, secretName));
  const caSecret = credentials.get(credentialKey(namespace, secretName + CREDENTIAL_CA_SUFFIX));
  return { name, namespace, secretName, ...(secret ? { secret } : {}), ...(caSecret ? { caSecret } : {}) };
}

function addRouteClusters(vh: GatewayVirtualHostScope, out: Set<string>): void {
  for (const group of vh.routes) {
    for (const r of group) {
      if (r.action.kind !== "forward") continue;
      for (const d of r.action.destinations) out.add(d.cluster);
      for (const m of r.action.mirrors) out.add(m.cluster);
    }
  }
}

/** A server's virtual hosts: one per host it shares with its VirtualServices, skipping hosts an earlier server of the route configuration took. */
function virtualHosts(b: BoundServer, ctx: RouteScope, used: Set<string>): GatewayVirtualHostScope[] {
  const requireTls = b.server.tls?.httpsRedirect === true;
  const byHost = new Map<string, HttpRouteModel[][]>();
  for (const { virtualService, hosts } of b.virtualServices) {
    // As in Istio, a VirtualService that yields no route here adds nothing.
    const routes = resolveHttpRoutes(virtualService, ctx);
    if (routes.length === 0) continue;
    for (const h of hosts) {
      const list = byHost.get(h);
      if (list) list.push(routes);
      else byHost.set(h, [routes]);
    }
  }
  if (requireTls) for (const h of b.hosts) if (!byHost.has(h)) byHost.set(h, []);
  const out: GatewayVirtualHostScope[] = [];
  for (const [host, routes] of byHost) {
    if (used.has(host)) continue;
    used.add(host);
    out.push({ host, domains: [host], routes, requireTls, port: ctx.port });
  }
  return out;
}
