/**
 * Gateway listeners → Istio Gateway servers, with what the listener status needs: the route kinds
 * it supports, its certificate, and conflicts with other listeners on the same port.
 *
 * A listener with an unusable certificate is not served (Istio leaves it out too), but it keeps
 * its status so that the user sees why; every other listener of the Gateway keeps serving.
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import type { KubernetesGateway, Listener } from "../../api/gateway-api/types.js";
import { GATEWAY_API_GROUP } from "../../api/gateway-api/types.js";
import { credentialKey, type CredentialModel } from "../ir.js";
import { GatewayApiCodes } from "./codes.js";
import { secretAllowed, type RefIndex } from "./refs.js";
import { gatewayCredentialName } from "../names.js";
import { cond, Reasons, type Condition } from "../../api/gateway-api/status.js";

export interface IstioServer {
  readonly port: { readonly number: number; readonly name: string; readonly protocol: string };
  readonly hosts: readonly string[];
  readonly tls?: { readonly mode: "SIMPLE" | "PASSTHROUGH"; readonly credentialName?: string };
}

export interface ListenerModel {
  readonly listener: Listener;
  readonly index: number;
  /** Routes may attach (the listener is valid, maybe not programmed). */
  readonly usable: boolean;
  /** Served: usable, its refs resolved and not conflicted. */
  readonly programmed: boolean;
  readonly supportedKinds: readonly string[];
  readonly conditions: readonly Condition[];
  readonly server?: IstioServer;
}

const DEFAULT_KINDS: Readonly<Record<string, readonly string[]>> = {
  HTTP: ["HTTPRoute", "GRPCRoute"],
  HTTPS: ["HTTPRoute", "GRPCRoute"],
  TLS: ["TLSRoute", "TCPRoute"],
  TCP: ["TCPRoute"],
};

/**
 * Which listeners of one port can share it: HTTP-like ones by hostname, TLS ones by SNI; TCP
 * shares with nothing. As the spec's listener precedence has it, the first listener of a port
 * (in the Gateway's order) keeps it; a later one that cannot be told apart from an earlier,
 * unconflicted one is the conflicted one.
 */
function conflictOf(l: Listener, earlier: readonly Listener[]): { reason: string; message: string } | undefined {
  const same = earlier.filter((o) => o.port === l.port);
  if (same.length === 0) return undefined;
  const family = (p: string) => (p === "HTTPS" || p === "TLS" ? "tls" : p);
  const other = same.find((o) => family(o.protocol) !== family(l.protocol));
  if (other)
    return {
      reason: Reasons.ProtocolConflict,
      message: `port ${l.port} is taken by the earlier listener "${other.name}" (${other.protocol}), whose protocol cannot share it with ${l.protocol}`,
    };
  const dup = same.find((o) => l.protocol === "TCP" || (o.hostname ?? "") === (l.hostname ?? ""));
  if (dup)
    return {
      reason: Reasons.HostnameConflict,
      message:
        l.protocol === "TCP"
          ? `port ${l.port} is taken by the earlier TCP listener "${dup.name}"; TCP listeners cannot share a port`
          : `the earlier listener "${dup.name}" has the same port ${l.port} and hostname "${l.hostname ?? "*"}"`,
    };
  return undefined;
}

export function buildListeners(
  gw: KubernetesGateway,
  idx: RefIndex,
  credentials: ReadonlyMap<string, CredentialModel>,
  diag: (code: string, path: string, message: string, severity?: Diagnostic["severity"]) => void,
): ListenerModel[] {
  const ns = gw.metadata.namespace ?? "default";
  // Listeners that hold their port so far (precedence: the Gateway's order).
  const holders: Listener[] = [];
  return gw.spec.listeners.map((l, index) => {
    const path = `spec.listeners[${index}]`;
    const conditions: Condition[] = [];
    const defaults = DEFAULT_KINDS[l.protocol];
    if (!defaults) {
      const message = `protocol ${l.protocol} is not supported (HTTP, HTTPS, TLS and TCP are)`;
      diag(GatewayApiCodes.ListenerNotSupported, `${path}.protocol`, message);
      return {
        listener: l,
        index,
        usable: false,
        programmed: false,
        supportedKinds: [],
        conditions: [
          cond("Accepted", false, Reasons.UnsupportedProtocol, message),
          cond("Programmed", false, Reasons.Invalid, message),
          cond("ResolvedRefs", true, Reasons.ResolvedRefs, "no references"),
          cond("Conflicted", false, Reasons.NoConflicts, "no conflicts"),
        ],
      };
    }
    let resolved: Condition = cond("ResolvedRefs", true, Reasons.ResolvedRefs, "all references resolved");
    // Route kinds: the listener's list, else the protocol's defaults.
    let kinds = [...defaults];
    const asked = l.allowedRoutes?.kinds;
    if (asked && asked.length > 0) {
      const ok = asked.filter((k) => (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && defaults.includes(k.kind)).map((k) => k.kind);
      const bad = asked.filter((k) => !ok.includes(k.kind) || (k.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP);
      if (bad.length > 0) {
        const message = `route kind(s) ${bad.map((k) => k.kind).join(", ")} cannot attach to a ${l.protocol} listener (supported: ${defaults.join(", ")})`;
        diag(GatewayApiCodes.ListenerNotSupported, `${path}.allowedRoutes.kinds`, message, "warning");
        resolved = cond("ResolvedRefs", false, Reasons.InvalidRouteKinds, message);
      }
      kinds = ok;
    }
    // Certificates: HTTPS and TLS Terminate need one usable Secret.
    const terminate = l.protocol === "HTTPS" || (l.protocol === "TLS" && (l.tls?.mode ?? "Terminate") === "Terminate");
    let credentialName: string | undefined;
    if (terminate) {
      const refs = l.tls?.certificateRefs ?? [];
      const problem = (reason: string, message: string, at: string) => {
        diag(GatewayApiCodes.InvalidCertificateRef, at, message);
        if (resolved.status === "True") resolved = cond("ResolvedRefs", false, reason, message);
      };
      if (refs.length === 0) problem(Reasons.InvalidCertificateRef, `listener "${l.name}" terminates TLS but has no certificateRefs`, `${path}.tls`);
      refs.forEach((r, i) => {
        const at = `${path}.tls.certificateRefs[${i}]`;
        const rns = r.namespace ?? ns;
        if ((r.group ?? "") !== "" || (r.kind ?? "Secret") !== "Secret")
          return problem(Reasons.InvalidCertificateRef, `certificateRef ${r.kind ?? "Secret"} "${r.name}": only core Secrets are supported`, at);
        if (!secretAllowed(idx.grants, ns, rns, r.name))
          return problem(
            Reasons.RefNotPermitted,
            `certificateRef Secret ${rns}/${r.name} is in another namespace and no ReferenceGrant in "${rns}" lets Gateways from "${ns}" use it`,
            at,
          );
        const cred = credentials.get(credentialKey(rns, r.name));
        if (!cred)
          return problem(
            Reasons.InvalidCertificateRef,
            `certificateRef Secret ${rns}/${r.name} does not exist (or was refused as invalid; see its own finding)`,
            at,
          );
        if (!cred.cert || !cred.key || !looksPem(cred.cert, "CERTIFICATE") || !looksPem(cred.key, "PRIVATE KEY"))
          return problem(
            Reasons.InvalidCertificateRef,
            `certificateRef Secret ${rns}/${r.name} is malformed: it needs a PEM certificate in tls.crt and a PEM private key in tls.key`,
            at,
          );
        // Istio's name for it, served over SDS only to gateways entitled to it (gateway-scope.ts).
        if (i === 0) credentialName = gatewayCredentialName(rns, r.name);
        return undefined;
      });
      if (refs.length > 1) diag(GatewayApiCodes.RouteFeatureNotSupported, `${path}.tls.certificateRefs`, "only the first certificateRef is served", "warning");
    }
    const conflict = conflictOf(l, holders);
    if (conflict) diag(GatewayApiCodes.ListenerConflict, path, conflict.message);
    else holders.push(l);
    const programmed = resolved.status === "True" && !conflict && (!terminate || credentialName !== undefined);
    // A conflicted listener is neither accepted nor programmed, with the conflict as the reason of both.
    conditions.push(
      conflict ? cond("Accepted", false, conflict.reason, conflict.message) : cond("Accepted", true, Reasons.Accepted, "listener accepted"),
      programmed
        ? cond("Programmed", true, Reasons.Programmed, "listener programmed")
        : cond("Programmed", false, conflict?.reason ?? Reasons.Invalid, conflict?.message ?? resolved.message),
      resolved,
      conflict ? cond("Conflicted", true, conflict.reason, conflict.message) : cond("Conflicted", false, Reasons.NoConflicts, "no conflicts"),
    );
    const passthrough = l.protocol === "TLS" && l.tls?.mode === "Passthrough";
    const server: IstioServer = {
      port: { number: l.port, name: l.name, protocol: l.protocol },
      hosts: [`*/${l.hostname ?? "*"}`],
      ...(passthrough ? { tls: { mode: "PASSTHROUGH" as const } } : terminate && credentialName ? { tls: { mode: "SIMPLE" as const, credentialName } } : {}),
    };
    return { listener: l, index, usable: !conflict, programmed, supportedKinds: kinds, conditions, ...(programmed ? { server } : {}) };
  });
}

/** Whether base64 Secret data holds a PEM block of this type (a cheap check; Envoy parses it for real). */
function looksPem(b64: string, type: string): boolean {
  const text = Buffer.from(b64, "base64").toString("latin1");
  return new RegExp(`-----BEGIN [A-Z ]*${type}-----`).test(text);
}
