/**
 * MP0871: a DestinationRule that sends plaintext (tls mode DISABLE) to workloads whose
 * PeerAuthentication requires mTLS (STRICT) on that port: their sidecars refuse every such
 * connection. Istio reported this as IST0113 MTLSPolicyConflict until its auto-mTLS era retired
 * the analyzer; an explicit DISABLE still overrides auto mTLS, so the conflict still breaks
 * traffic. Only mesh members are judged (a workload without a sidecar enforces nothing), and a
 * subset or port-level setting only for its subset's pods and its port.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { ClientTLSSettings } from "../api/istio-types.js";
import { hostMatches } from "../model/hosts.js";
import { isMeshMember } from "../model/identity.js";
import { endpointKey, type DestinationRuleModel, type MeshModel } from "../model/ir.js";
import { mtlsModeForPort, mtlsPolicyForPort, PeerAuthnCodes, workloadMtls } from "../model/peer-authentication.js";

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

export function mtlsConflicts(mesh: MeshModel): Diagnostic[] {
  const pas = mesh.peerAuthentications;
  if (!pas) return [];
  const out: Diagnostic[] = [];
  for (const dr of mesh.destinationRules) {
    for (const s of settings(dr)) {
      if ((s.tls.mode ?? "DISABLE") !== "DISABLE") continue;
      for (const svc of mesh.services.values()) {
        if (!hostMatches(dr.host, svc.hostname)) continue;
        const found = strictEndpoint(mesh, svc.hostname, svc.ports, s);
        if (!found) continue;
        out.push({
          severity: "error",
          code: PeerAuthnCodes.DestinationRuleConflict,
          message: `tls mode DISABLE sends plaintext to ${svc.hostname}${s.port ? ` port ${s.port}` : ""}, but PeerAuthentication ${found.policy} requires mTLS (STRICT) on workload port ${found.port} of its pods (e.g. ${found.pod}): their sidecars refuse these connections; use ISTIO_MUTUAL (or drop the tls setting for auto mTLS), or relax the PeerAuthentication`,
          object: dr.refs[0]!,
          path: s.path,
        });
      }
    }
  }
  return out;
}

function strictEndpoint(
  mesh: MeshModel,
  host: string,
  ports: readonly { readonly port: number }[],
  s: Setting,
): { policy: string; port: number; pod: string } | undefined {
  for (const p of ports) {
    if (s.port !== undefined && p.port !== s.port) continue;
    for (const ep of mesh.endpoints.get(endpointKey(host, p.port)) ?? []) {
      if (!isMeshMember(ep)) continue;
      if (s.labels && !Object.entries(s.labels).every(([k, v]) => ep.labels[k] === v)) continue;
      const m = workloadMtls(mesh.peerAuthentications, ep.namespace, ep.labels);
      if (mtlsModeForPort(m, ep.port) !== "STRICT") continue;
      const ref = mtlsPolicyForPort(m, ep.port);
      return { policy: ref ? `${ref.namespace}/${ref.name}` : "?", port: ep.port, pod: ep.podName ?? ep.address };
    }
  }
  return undefined;
}
