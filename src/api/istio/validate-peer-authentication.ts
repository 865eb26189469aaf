/**
 * PeerAuthentication validation, following Istio 1.30's webhook after the schema check: the
 * workload selector (no empty key, no wildcard), and `portLevelMtls` only under a selector with
 * labels (Istio refuses it on a mesh- or namespace-wide policy), keyed by port numbers 1..65535.
 */
import { checkMessage, isPlainObject, type FieldType, type MessageSchema } from "../istio-schema.js";
import type { Issues } from "../issues.js";
import { validateIstioLabels } from "../validate-common.js";
import { describe } from "../validate-names.js";

/** The modes of PeerAuthentication.MutualTLS (UNSET inherits from the parent scope). */
export const MTLS_MODES = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"] as const;

const MutualTlsSchema: MessageSchema = { name: "PeerAuthentication.MutualTLS", fields: { mode: { t: "enum", values: [...MTLS_MODES] } } };
const mutualTls: FieldType = { t: "message", of: () => MutualTlsSchema };

const PeerAuthenticationSchema: MessageSchema = {
  name: "PeerAuthentication",
  fields: {
    selector: { t: "message", of: () => ({ name: "WorkloadSelector", fields: { matchLabels: { t: "map", of: { t: "string" } } } }) },
    mtls: mutualTls,
    portLevelMtls: { t: "map", of: mutualTls },
  },
};

export function validatePeerAuthenticationSpec(spec: unknown, _namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) return;
  if (!isPlainObject(spec)) {
    si.error(`spec must be a map, got ${describe(spec)}`);
    return;
  }
  checkMessage(spec, PeerAuthenticationSchema, si);
  const selector = isPlainObject(spec["selector"]) ? spec["selector"] : undefined;
  const labels = selector && isPlainObject(selector["matchLabels"]) ? selector["matchLabels"] : undefined;
  if (labels) {
    for (const [k, v] of Object.entries(labels)) {
      const at = si.at("selector", "matchLabels", k);
      if (k === "") at.error("empty key is not supported in selector");
      if (k.includes("*") || (typeof v === "string" && v.includes("*"))) at.error(`wildcard is not supported in selector: "${k}=${String(v)}"`);
    }
    validateIstioLabels(labels, si.at("selector", "matchLabels"));
  }
  const ports = spec["portLevelMtls"];
  if (!isPlainObject(ports)) return;
  const keys = Object.keys(ports);
  if (keys.length > 0 && (!labels || Object.keys(labels).length === 0)) {
    si.at("portLevelMtls").error(
      "portLevelMtls needs a workload selector with labels (spec.selector.matchLabels): a mesh- or namespace-wide PeerAuthentication cannot set per-port modes, as in Istio",
    );
  }
  for (const key of keys) {
    const n = Number(key);
    if (!/^[0-9]+$/.test(key) || n < 1 || n > 65535)
      si.at("portLevelMtls", key).error(`port "${key}" must be a number in 1..65535 (the workload's port, not the Service's)`);
  }
}
