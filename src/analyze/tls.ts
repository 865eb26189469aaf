import type { Diagnostic } from "../api/diagnostics.js";
import type { ClientTLSSettings } from "../api/istio-types.js";
import type { DestinationRuleModel, MeshModel } from "../model/ir.js";
import { KeptCheck } from "./kept.js";

function tlsSettings(dr: DestinationRuleModel): { tls: ClientTLSSettings; path: string }[] {
  const out: { tls: ClientTLSSettings; path: string }[] = [];
  const tp = dr.trafficPolicy;
  if (tp?.tls) out.push({ tls: tp.tls, path: "spec.trafficPolicy.tls" });
  tp?.portLevelSettings?.forEach((p, i) => p.tls && out.push({ tls: p.tls, path: `spec.trafficPolicy.portLevelSettings[${i}].tls` }));
  dr.subsets.forEach((s, i) => {
    if (s.trafficPolicy?.tls) out.push({ tls: s.trafficPolicy.tls, path: `spec.subsets[${i}].trafficPolicy.tls` });
  });
  return out;
}

/**
 * TLS origination settings that cannot work, or that disagree with each other. (MUTUAL without a
 * client certificate is refused by validation, as Istio's webhook refuses it: IST0106.)
 */
export function tlsFindings(mesh: MeshModel): Diagnostic[] {
  return [...mesh.destinationRules.flatMap((dr) => kept.of(dr, [], () => ruleTlsFindings(dr))), ...mergedTlsFindings(mesh.destinationRules)];
}

const kept = new KeptCheck<DestinationRuleModel>();
const merged = new WeakMap<readonly DestinationRuleModel[], readonly Diagnostic[]>();

function ruleTlsFindings(dr: DestinationRuleModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const object = dr.refs[0]!;
  const settings = tlsSettings(dr);
  for (const { tls, path } of settings) {
    const simpleOrMutual = tls.mode === "SIMPLE" || tls.mode === "MUTUAL";
    if (simpleOrMutual && !tls.caCertificates && !tls.credentialName && !tls.insecureSkipVerify) {
      out.push({
        severity: "warning",
        code: path.includes("portLevelSettings") ? "IST0129" : "IST0128",
        message: `tls mode ${tls.mode} without caCertificates: the server's certificate is not verified`,
        object,
        path: `${path}.caCertificates`,
      });
    }
    if ((tls.mode === "DISABLE" || tls.mode === "ISTIO_MUTUAL") && (tls.clientCertificate || tls.privateKey || tls.caCertificates || tls.credentialName)) {
      out.push({
        severity: "warning",
        code: "MP0402",
        message: `tls mode ${tls.mode} ignores clientCertificate, privateKey, caCertificates and credentialName; did you mean SIMPLE or MUTUAL?`,
        object,
        path: `${path}.mode`,
      });
    }
  }
  const top = dr.trafficPolicy?.tls?.mode;
  dr.subsets.forEach((s, i) => {
    const own = s.trafficPolicy?.tls?.mode;
    if (top && own && own !== top && (top === "ISTIO_MUTUAL" || own === "ISTIO_MUTUAL")) {
      out.push({
        severity: "warning",
        code: "MP0403",
        message: `subset "${s.name}" uses tls mode ${own} while the rule uses ${top}: traffic to this subset ${own === "ISTIO_MUTUAL" ? "expects" : "bypasses"} mesh mTLS, so one of them cannot reach the same pods`,
        object,
        path: `spec.subsets[${i}].trafficPolicy.tls.mode`,
      });
    }
  });
  return out;
}

/** Rules for one host in one namespace are merged: the first rule's policy wins, silently. */
function mergedTlsFindings(rules: readonly DestinationRuleModel[]): readonly Diagnostic[] {
  const known = merged.get(rules);
  if (known) return known;
  const out: Diagnostic[] = [];
  const groups = new Map<string, DestinationRuleModel[]>();
  for (const dr of rules) groups.set(`${dr.namespace}|${dr.host}`, [...(groups.get(`${dr.namespace}|${dr.host}`) ?? []), dr]);
  for (const rules of groups.values()) {
    const modes = new Set(rules.map((r) => r.trafficPolicy?.tls?.mode ?? "unset"));
    if (rules.length > 1 && modes.size > 1) {
      const [first, ...rest] = rules as [DestinationRuleModel, ...DestinationRuleModel[]];
      for (const r of rest) {
        out.push({
          severity: "warning",
          code: "MP0404",
          message: `DestinationRules ${first.namespace}/${first.name} and ${r.namespace}/${r.name} both apply to host "${r.host}" with different tls modes; only the oldest (${first.name}, ${first.trafficPolicy?.tls?.mode ?? "unset"}) takes effect`,
          object: r.refs[0]!,
          path: "spec.trafficPolicy.tls.mode",
        });
      }
    }
  }
  merged.set(rules, out);
  return out;
}
