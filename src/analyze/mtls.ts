/**
 * MP0871: a DestinationRule whose TLS mode the PeerAuthentication of its workloads refuses on
 * that port: `DISABLE` (plaintext) to workloads that require mTLS (STRICT), or `ISTIO_MUTUAL` to
 * workloads whose mTLS is DISABLEd (their sidecars take only plaintext there). Either way every
 * such connection fails. Istio reported this as IST0113 MTLSPolicyConflict until its auto-mTLS era
 * retired the analyzer; an explicit mode still overrides auto mTLS, so the conflict still breaks
 * traffic. Only mesh members are judged (a workload without a sidecar enforces nothing), and a
 * subset or port-level setting only for its subset's pods and its port.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { ClientTLSSettings } from "../api/istio-types.js";
import { hostMatches } from "../model/hosts.js";
import { isMeshMember } from "../model/identity.js";
import { endpointKey, type DestinationRuleModel, type MeshModel } from "../model/ir.js";
import { mtlsModeForPort, mtlsPolicyForPort, PeerAuthnCodes, workloadMtls, type MtlsMode } from "../model/peer-authentication.js";

interface Setting {
  readonly tls: ClientTLSSettings;
  readonly path: string;
  readonly port?: number;
  readonly labels?: Readonly<Record<string, string>>;
}

function settings(dr: DestinationRuleModel): Setting[] {
  const out: Setting[] = [];
  const tp = dr.trafficPolicy;
  if (tp?.tls) out.push({ tls: tp.tls, path: "spec.trafficPolicy.tls.mode" });
  tp?.portLevelSettings?.forEach((p, i) => {
    if (p.tls) out.push({ tls: p.tls, path: `spec.trafficPolicy.portLevelSettings[${i}].tls.mode`, ...(p.port?.number ? { port: p.port.number } : {}) });
  });
  dr.subsets.forEach((s, i) => {
    if (s.trafficPolicy?.tls) out.push({ tls: s.trafficPolicy.tls, path: `spec.subsets[${i}].trafficPolicy.tls.mode`, labels: s.labels });
  });
  return out;
}

interface Found {
  readonly target: string;
  readonly policy: string;
  readonly port: number;
  readonly pod: string;
}

/** Which PeerAuthentication mode refuses which client mode, and what to say about it. */
const REFUSED: ReadonlyArray<{ client: string; server: MtlsMode; why: (f: Found) => string }> = [
  {
    client: "DISABLE",
    server: "STRICT",
    why: (f) =>
      `sends plaintext to ${f.target}, but PeerAuthentication ${f.policy} requires mTLS (STRICT) on workload port ${f.port} of its pods (e.g. ${f.pod}): their sidecars refuse these connections; use ISTIO_MUTUAL (or drop the tls setting for auto mTLS), or relax the PeerAuthentication`,
  },
  {
    client: "ISTIO_MUTUAL",
    server: "DISABLE",
    why: (f) =>
      `sends mTLS to ${f.target}, but PeerAuthentication ${f.policy} disables mTLS on workload port ${f.port} of its pods (e.g. ${f.pod}): their sidecars take only plaintext there, so these connections fail; drop the tls setting (auto mTLS follows the PeerAuthentication), or enable mTLS in the PeerAuthentication`,
  },
];

export function mtlsConflicts(mesh: MeshModel): Diagnostic[] {
  const pas = mesh.peerAuthentications;
  if (!pas) return [];
  const out: Diagnostic[] = [];
  for (const dr of mesh.destinationRules) {
    for (const s of settings(dr)) {
      const refused = REFUSED.find((r) => r.client === (s.tls.mode ?? "DISABLE"));
      if (!refused) continue;
      for (const svc of mesh.services.values()) {
        if (!hostMatches(dr.host, svc.hostname)) continue;
        const found = endpointWithMode(mesh, svc.hostname, svc.ports, s, refused.server);
        if (!found) continue;
        out.push({
          severity: "error",
          code: PeerAuthnCodes.DestinationRuleConflict,
          message: `tls mode ${refused.client} ${refused.why({ target: `${svc.hostname}${s.port ? ` port ${s.port}` : ""}`, ...found })}`,
          object: dr.refs[0]!,
          path: s.path,
        });
      }
    }
  }
  return out;
}

/** A mesh member behind `host` (on the setting's port and subset) whose PeerAuthentication mode on its port is `mode`. */
function endpointWithMode(
  mesh: MeshModel,
  host: string,
  ports: readonly { readonly port: number }[],
  s: Setting,
  mode: MtlsMode,
): Omit<Found, "target"> | undefined {
  for (const p of ports) {
    if (s.port !== undefined && p.port !== s.port) continue;
    for (const ep of mesh.endpoints.get(endpointKey(host, p.port)) ?? []) {
      if (!isMeshMember(ep)) continue;
      if (s.labels && !Object.entries(s.labels).every(([k, v]) => ep.labels[k] === v)) continue;
      const m = workloadMtls(mesh.peerAuthentications, ep.namespace, ep.labels);
      if (mtlsModeForPort(m, ep.port) !== mode) continue;
      const ref = mtlsPolicyForPort(m, ep.port);
      return { policy: ref ? `${ref.namespace}/${ref.name}` : "?", port: ep.port, pod: ep.podName ?? ep.address };
    }
  }
  return undefined;
}
