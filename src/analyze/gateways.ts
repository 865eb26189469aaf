/**
 * IST0101 ("Referenced selector not found"), as Istio's gateway analyzer: a Gateway whose
 * selector matches no pod is served by no proxy, so its servers accept nothing. Judged only when
 * the input has pods at all: a config directory without them describes no workloads (its gateway
 * proxies are started by hand), and silence is better than a finding on every Gateway.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { Pod } from "../api/kube-types.js";
import type { StoredObject } from "../api/objects.js";
import type { MeshModel } from "../model/ir.js";
import { AnalyzeCodes } from "./codes.js";

export function gatewaysSelectingNoPod(mesh: MeshModel, pods: readonly StoredObject<Pod>[]): Diagnostic[] {
  if (pods.length === 0 || !mesh.gateways?.length) return [];
  // Gateways converted from the Gateway API select the deployment meshpilot makes for them; its status says whether it runs.
  const converted = new Set((mesh.gatewayApi?.gateways ?? []).map((g) => `${g.object.metadata.namespace ?? ""}/${g.object.metadata.name}`));
  const out: Diagnostic[] = [];
  for (const gw of mesh.gateways) {
    if (converted.has(`${gw.namespace}/${gw.name}`)) continue;
    const wanted = Object.entries(gw.selector);
    // Any namespace: Istio scopes Gateways to their namespace only with PILOT_SCOPE_GATEWAY_TO_NAMESPACE (off by default).
    if (pods.some(({ object: p }) => wanted.every(([k, v]) => p.metadata.labels?.[k] === v))) continue;
    const shown = wanted.map(([k, v]) => `${k}=${v}`).join(",");
    out.push({
      severity: "error",
      code: AnalyzeCodes.GatewaySelectsNoPod,
      message: `Referenced selector not found: "${shown}": no pod has these labels, so no gateway proxy serves this Gateway and its servers accept no traffic`,
      object: gw.ref,
      path: "spec.selector",
    });
  }
  return out;
}
