/**
 * The Sidecar resource: which one applies to a proxy (Istio's precedence), and what each of its
 * egress listeners lets the proxy see. scope.ts narrows a view's services, VirtualServices and
 * ports with it, so a scoped proxy really receives less.
 */
import { notTranslatedYet as notYet, type Diagnostic, type ObjectRef } from "../api/diagnostics.js";
import type { SidecarObject } from "../api/istio-resource.js";
import type { Pod } from "../api/kube-types.js";
import type { StoredObject } from "../api/objects.js";
import type { ConnectionPoolSettings } from "../api/istio-types.js";
import { hostMatches } from "./hosts.js";
import type { Protocol, ServiceModel, VirtualServiceModel } from "./ir.js";
import type { OutboundTrafficPolicyMode } from "./mesh-config.js";
import { parseDurations, type Parsed } from "./parsed.js";
import { outboundClusterName, serviceFqdn } from "./names.js";
import { protocolByName } from "./protocol.js";
import { byCreation } from "./routing.js";

export const DEFAULT_ROOT_NAMESPACE = "istio-system";

export const SidecarCodes = {
  /** An egress host written as a short name that names no registry host (Istio matches it as written). */
  ShortEgressHost: "MP0125",
  /** An egressProxy destination whose cluster the proxy does not have (not in its scope). */
  EgressProxyUnknown: "MP0126",
} as const;

/** One `namespace/dnsName` of an egress listener. `.` stays unresolved: in a root-namespace Sidecar it means the proxy's namespace. */
export interface EgressHostModel {
  readonly namespace: string;
  readonly host: string;
}

export interface EgressListenerModel {
  readonly port?: { readonly number: number; readonly protocol: string; readonly name?: string };
  readonly bind?: string;
  readonly captureMode?: "DEFAULT" | "IPTABLES" | "NONE";
  readonly hosts: readonly EgressHostModel[];
}

/**
 * Where an ingress listener's inbound cluster sends connections (its `defaultEndpoint`): the
 * connection's original destination (unset, or no host), a fixed loopback address, the pod's own
 * address on another port (`0.0.0.0:<port>`), or a unix domain socket.
 */
export type IngressEndpoint =
  | { readonly kind: "original" }
  | { readonly kind: "loopback"; readonly address: string; readonly port: number }
  | { readonly kind: "pod"; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

export type ConnectionPoolModel = Parsed<ConnectionPoolSettings>;

export interface IngressListenerModel {
  readonly port: { readonly number: number; readonly protocol: Protocol; readonly name?: string };
  /** The address a bound listener listens on (Istio's default: 0.0.0.0). */
  readonly bind?: string;
  readonly captureMode?: "DEFAULT" | "IPTABLES" | "NONE";
  readonly endpoint: IngressEndpoint;
  readonly connectionPool?: ConnectionPoolModel;
}

export interface SidecarModel {
  readonly name: string;
  readonly namespace: string;
  readonly creationTimestamp: string;
  readonly ref: ObjectRef;
  readonly workloadSelector?: Readonly<Record<string, string>>;
  /** As written; one `*\/*` catch-all when the Sidecar has no egress. */
  readonly egress: readonly EgressListenerModel[];
  /** Set when the Sidecar has an outboundTrafficPolicy (its mode's default is REGISTRY_ONLY). */
  readonly outboundTrafficPolicy?: OutboundTrafficPolicyMode;
  /**
   * `outboundTrafficPolicy.egressProxy` (validation allows it with ALLOW_ANY only): the cluster
   * that takes traffic to hosts outside the registry instead of PassthroughCluster, as Istio names
   * it from the destination (`outbound|<port>|<subset>|<host>`).
   */
  readonly egressProxyCluster?: string;
  /** As written; when there are any, they replace the inbound ports that Services would give. */
  readonly ingress: readonly IngressListenerModel[];
  readonly inboundConnectionPool?: ConnectionPoolModel;
}

const CATCH_ALL: readonly EgressListenerModel[] = [{ hosts: [{ namespace: "*", host: "*" }] }];

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined);

function egressListener(raw: Rec): EgressListenerModel {
  const port = rec(raw["port"]);
  const hosts = (raw["hosts"] as string[] | undefined) ?? [];
  return {
    ...(port
      ? {
          port: {
            number: (port["number"] as number | undefined) ?? 0,
            protocol: String(port["protocol"] ?? ""),
            ...(typeof port["name"] === "string" ? { name: port["name"] } : {}),
          },
        }
      : {}),
    ...(typeof raw["bind"] === "string" && raw["bind"] !== "" ? { bind: raw["bind"] } : {}),
    ...(typeof raw["captureMode"] === "string" ? { captureMode: raw["captureMode"] as EgressListenerModel["captureMode"] & string } : {}),
    hosts: hosts.map((h) => {
      const slash = h.indexOf("/");
      return { namespace: h.slice(0, slash), host: h.slice(slash + 1) };
    }),
  };
}

/**
 * Istio's reading of `defaultEndpoint` for an IPv4 proxy: `127.0.0.1` and `[::1]` name the
 * loopback (IPv4 preferred), `0.0.0.0` the pod's own address, `[::]` falls back to `::1` (the
 * proxy has no IPv6 address), and an empty host leaves the original destination.
 */
function ingressEndpoint(de: unknown): IngressEndpoint {
  if (typeof de !== "string" || de === "") return { kind: "original" };
  if (de.startsWith("unix://")) return { kind: "unix", path: de.slice("unix://".length) };
  const colon = de.lastIndexOf(":");
  const host = de.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(de.slice(colon + 1));
  switch (host) {
    case "127.0.0.1":
    case "::1":
      return { kind: "loopback", address: "127.0.0.1", port };
    case "0.0.0.0":
      return { kind: "pod", port };
    case "::":
      return { kind: "loopback", address: "::1", port };
    default:
      return { kind: "original" };
  }
}

function ingressListener(raw: Rec): IngressListenerModel {
  const port = rec(raw["port"]) ?? {};
  const pool = rec(raw["connectionPool"]);
  return {
    port: {
      number: (port["number"] as number | undefined) ?? 0,
      protocol: protocolByName(String(port["protocol"] ?? "")),
      ...(typeof port["name"] === "string" ? { name: port["name"] } : {}),
    },
    ...(typeof raw["bind"] === "string" && raw["bind"] !== "" ? { bind: raw["bind"] } : {}),
    ...(typeof raw["captureMode"] === "string" ? { captureMode: raw["captureMode"] as IngressListenerModel["captureMode"] & string } : {}),
    endpoint: ingressEndpoint(raw["defaultEndpoint"]),
    ...(pool ? { connectionPool: parseDurations(pool as ConnectionPoolSettings) } : {}),
  };
}

/** Sidecars (validated) → models oldest first, with the findings about what is conflicting or not translated yet. */
export function buildSidecars(
  stored: readonly StoredObject<SidecarObject>[],
  pods: readonly StoredObject<Pod>[] = [],
): { sidecars: SidecarModel[]; diagnostics: Diagnostic[] } {
  const sidecars: SidecarModel[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const { object } of stored) {
    const namespace = object.metadata.namespace ?? "default";
    const ref: ObjectRef = { kind: "Sidecar", namespace, name: object.metadata.name };
    const spec = object.spec;
    const ws = rec(spec["workloadSelector"]);
    const labels = rec(ws?.["labels"]) as Record<string, string> | undefined;
    const egress = Array.isArray(spec["egress"]) && spec["egress"].length ? (spec["egress"] as Rec[]).map(egressListener) : CATCH_ALL;
    const otp = rec(spec["outboundTrafficPolicy"]);
    const icp = rec(spec["inboundConnectionPool"]);
    sidecars.push({
      name: object.metadata.name,
      namespace,
      creationTimestamp: object.metadata.creationTimestamp ?? "",
      ref,
      // A selector without labels selects every workload, as a namespace-wide Sidecar.
      ...(labels && Object.keys(labels).length ? { workloadSelector: labels } : {}),
      egress,
      ...(otp ? { outboundTrafficPolicy: otp["mode"] === "ALLOW_ANY" ? "ALLOW_ANY" : "REGISTRY_ONLY" } : {}),
      ...egressProxy(otp),
      ingress: Array.isArray(spec["ingress"]) ? (spec["ingress"] as Rec[]).map(ingressListener) : [],
      ...(icp ? { inboundConnectionPool: parseDurations(icp as ConnectionPoolSettings) } : {}),
    });
    diagnostics.push(...untranslatedParts(spec, ref));
  }
  sidecars.sort(byCreation);
  diagnostics.push(...conflicts(sidecars), ...selectorConflicts(sidecars, pods));
  return { sidecars, diagnostics };
}

function egressProxy(otp: Rec | undefined): { egressProxyCluster?: string } {
  const dest = rec(otp?.["egressProxy"]);
  const port = rec(dest?.["port"])?.["number"];
  if (otp?.["mode"] !== "ALLOW_ANY" || !dest || typeof dest["host"] !== "string" || typeof port !== "number") return {};
  const subset = typeof dest["subset"] === "string" && dest["subset"] !== "" ? dest["subset"] : undefined;
  return { egressProxyCluster: outboundClusterName(port, subset, dest["host"]) };
}

/** The parts of a Sidecar meshpilot does not apply yet, each reported with what that means for traffic. */
function untranslatedParts(spec: Readonly<Rec>, ref: ObjectRef): Diagnostic[] {
  const out: Diagnostic[] = [];
  (Array.isArray(spec["ingress"]) ? (spec["ingress"] as Rec[]) : []).forEach((l, i) => {
    // Istio terminates TLS on a Sidecar ingress port only with ENABLE_TLS_ON_SIDECAR_INGRESS (off by default).
    if (rec(l["tls"]))
      out.push(notYet(ref, `spec.ingress[${i}].tls`, "the ingress port receives connections as they arrive; this TLS is not terminated by the sidecar"));
  });
  (Array.isArray(spec["egress"]) ? (spec["egress"] as Rec[]) : []).forEach((l, i) => {
    const bind = typeof l["bind"] === "string" ? l["bind"] : "";
    if (bind.startsWith("unix://"))
      out.push(notYet(ref, `spec.egress[${i}].bind`, "no listener is made on the unix domain socket; its hosts are reachable through the captured ports only"));
    else if (bind !== "" && l["captureMode"] !== "NONE")
      out.push(
        notYet(
          ref,
          `spec.egress[${i}].bind`,
          "on proxies with capture (REDIRECT) the listener stays 0.0.0.0_<port>; the bind address is used only with captureMode NONE or on proxies without capture",
        ),
      );
  });
  return out;
}

/**
 * MP0125: an egress host whose dnsName is a short name (`shop/reviews`). Istio matches egress
 * hosts against registry host names as written, with no expansion to `<name>.<ns>.svc.<domain>`
 * (unlike VirtualService hosts), so such a host imports only a ServiceEntry host of that literal
 * name. meshpilot does the same and says so when no host has the name, naming the FQDN meant.
 */
export function shortEgressHosts(sidecars: readonly SidecarModel[], services: ReadonlyMap<string, ServiceModel>, domain: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const sc of sidecars) {
    if (sc.egress === CATCH_ALL) continue;
    sc.egress.forEach((l, i) =>
      l.hosts.forEach((h, j) => {
        if (h.host === "*" || h.host.includes(".") || services.has(h.host) || h.namespace === "~") return;
        const ns = h.namespace === "." ? sc.namespace : h.namespace;
        const meant =
          ns === "*"
            ? [...services.values()].filter((s) => !s.entry && s.name === h.host).map((s) => s.hostname)
            : [serviceFqdn(h.host, ns, domain)].filter((fqdn) => services.has(fqdn));
        const written = `${h.namespace}/${h.host}`;
        const hint = meant.length ? `write ${meant.map((m) => `"${h.namespace}/${m}"`).join(" or ")}` : `no service or ServiceEntry host is named "${h.host}"`;
        out.push({
          severity: "warning",
          code: SidecarCodes.ShortEgressHost,
          message: `egress host "${written}" imports nothing: a Sidecar matches host names as written and does not expand short names (as Istio); ${hint}`,
          object: sc.ref,
          path: `spec.egress[${i}].hosts[${j}]`,
        });
      }),
    );
  }
  return out;
}

/** IST0111: more than one Sidecar without workloadSelector in a namespace; the oldest applies. */
function conflicts(sidecars: readonly SidecarModel[]): Diagnostic[] {
  const first = new Map<string, SidecarModel>();
  const out: Diagnostic[] = [];
  for (const sc of sidecars) {
    if (sc.workloadSelector) continue;
    const winner = first.get(sc.namespace);
    if (!winner) {
      first.set(sc.namespace, sc);
      continue;
    }
    out.push({
      severity: "error",
      code: "IST0111",
      message: `namespace ${sc.namespace} has more than one Sidecar without a workloadSelector; ${winner.name} (the oldest) applies and this one is ignored`,
      object: sc.ref,
    });
  }
  return out;
}

/** IST0110: two workload-selecting Sidecars select the same pod; the oldest applies to it. */
/** Do pods decide a finding about these Sidecars (two or more select workloads: IST0110)? */
export function podsDecideSidecarFindings(sidecars: readonly SidecarModel[]): boolean {
  return sidecars.filter((sc) => sc.workloadSelector).length >= 2;
}

function selectorConflicts(sidecars: readonly SidecarModel[], pods: readonly StoredObject<Pod>[]): Diagnostic[] {
  if (!podsDecideSidecarFindings(sidecars)) return [];
  const selecting = sidecars.filter((sc) => sc.workloadSelector);
  const reported = new Set<SidecarModel>();
  const out: Diagnostic[] = [];
  for (const { object: pod } of pods) {
    const labels = pod.metadata.labels ?? {};
    const ns = pod.metadata.namespace ?? "default";
    const matching = selecting.filter((sc) => sc.namespace === ns && Object.entries(sc.workloadSelector!).every(([k, v]) => labels[k] === v));
    for (const sc of matching.slice(1)) {
      if (reported.has(sc)) continue;
      reported.add(sc);
      out.push({
        severity: "error",
        code: "IST0110",
        message: `its workloadSelector selects pod ${ns}/${pod.metadata.name}, which Sidecar ${matching[0]!.name} (older) also selects; the older one applies and this one is ignored for that pod`,
        object: sc.ref,
        path: "spec.workloadSelector",
      });
    }
  }
  return out;
}

/**
 * The Sidecar of a proxy, by Istio's precedence: one in its namespace whose workloadSelector its
 * labels satisfy (oldest first), else its namespace's one without selector, else the root
 * namespace's one without selector; none: the proxy sees everything.
 */
export function sidecarFor(
  sidecars: readonly SidecarModel[],
  namespace: string,
  labels: Readonly<Record<string, string>>,
  rootNamespace: string,
): SidecarModel | undefined {
  let namespaceWide: SidecarModel | undefined;
  let root: SidecarModel | undefined;
  for (const sc of sidecars) {
    if (sc.namespace === namespace) {
      if (!sc.workloadSelector) namespaceWide ??= sc;
      else if (Object.entries(sc.workloadSelector).every(([k, v]) => labels[k] === v)) return sc;
    } else if (sc.namespace === rootNamespace && !sc.workloadSelector) root ??= sc;
  }
  return namespaceWide ?? root;
}

/** The egress listener that governs `port`: the one on that port, else the catch-all. */
export function egressListenerFor(sc: SidecarModel, port: number): EgressListenerModel | undefined {
  return sc.egress.find((l) => l.port?.number === port) ?? sc.egress.find((l) => !l.port);
}

function namespaceMatches(h: EgressHostModel, namespace: string, proxyNamespace: string): boolean {
  if (h.namespace === "~") return false;
  if (h.namespace === "*") return true;
  return (h.namespace === "." ? proxyNamespace : h.namespace) === namespace;
}

/** Whether a service `host` of `namespace` is imported by the listener, for a proxy of `proxyNamespace`. */
export function importsService(l: EgressListenerModel, host: string, namespace: string, proxyNamespace: string): boolean {
  return l.hosts.some((h) => namespaceMatches(h, namespace, proxyNamespace) && hostMatches(h.host, host));
}

/** Whether the listener imports a VirtualService: its namespace matches and one of its hosts overlaps an imported name. */
export function importsVirtualService(l: EgressListenerModel, vs: VirtualServiceModel, proxyNamespace: string): boolean {
  return l.hosts.some((h) => namespaceMatches(h, vs.namespace, proxyNamespace) && vs.hosts.some((vh) => hostMatches(h.host, vh) || hostMatches(vh, h.host)));
}
