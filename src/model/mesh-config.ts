/**
 * The mesh-wide settings of Istio's MeshConfig that change what sidecars get: how a sidecar treats
 * traffic to hosts outside the registry (`outboundTrafficPolicy.mode`, default ALLOW_ANY) and the
 * root namespace whose Sidecar is every namespace's default (`rootNamespace`, default istio-system).
 * A Sidecar resource's own `outboundTrafficPolicy` overrides this per workload (see scope.ts).
 * Identity: the SPIFFE trust domain of workload certificates (`trustDomain`, default
 * cluster.local) and whether sidecars send mTLS to mesh members without a DestinationRule
 * (`enableAutoMtls`, default true). Visibility: the namespaces a Service or ServiceEntry that says
 * nothing itself is exported to (`defaultServiceExportTo`, default everywhere). Access logging: access-log-config.ts.
 */
import { accessLogSettingsFrom, type MeshAccessLogSettings } from "./access-log-config.js";

export type OutboundTrafficPolicyMode = "ALLOW_ANY" | "REGISTRY_ONLY";

export const OUTBOUND_TRAFFIC_POLICY_MODES: readonly OutboundTrafficPolicyMode[] = ["ALLOW_ANY", "REGISTRY_ONLY"];

export interface MeshConfig extends MeshAccessLogSettings {
  readonly outboundTrafficPolicy: { readonly mode: OutboundTrafficPolicyMode };
  /** Where a Sidecar without workloadSelector is every namespace's default (Istio: `istio-system`). */
  readonly rootNamespace?: string;
  /** SPIFFE trust domain (Istio: cluster.local). */
  readonly trustDomain?: string;
  /** Auto mTLS (Istio: true). */
  readonly enableAutoMtls?: boolean;
  /** exportTo of Services and ServiceEntries that set none (`.`, `*`, `~` or namespaces; Istio: `*`). */
  readonly defaultServiceExportTo?: readonly string[];
  /**
   * meshpilot's own, not Istio's: whether proxies hold workload certificates (`default` and
   * `ROOTCA` over SDS). When false (no CA serves them) there is nothing to present, so auto mTLS
   * and the mTLS chains of PERMISSIVE are left out; STRICT and ISTIO_MUTUAL are kept (they fail,
   * as configured). Unset: true.
   */
  readonly workloadCertificates?: boolean;
}

export const DEFAULT_TRUST_DOMAIN = "cluster.local";

export const DEFAULT_MESH_CONFIG: MeshConfig = { outboundTrafficPolicy: { mode: "ALLOW_ANY" } };

/** A mode as a user writes it (`--outbound-traffic-policy`, a mesh config file), or why it is not one. */
export function parseOutboundTrafficPolicyMode(text: string): { mode: OutboundTrafficPolicyMode } | { error: string } {
  const mode = OUTBOUND_TRAFFIC_POLICY_MODES.find((m) => m === text);
  return mode ? { mode } : { error: `outboundTrafficPolicy.mode "${text}" must be one of ${OUTBOUND_TRAFFIC_POLICY_MODES.join(", ")}` };
}

/**
 * Istio's mesh config YAML (the `mesh` key of the istio ConfigMap, or `meshConfig` of an
 * IstioOperator) parsed to what meshpilot honours; an unknown mode is an error, other fields are
 * left to their owners.
 */
export function meshConfigFrom(doc: unknown): { config: MeshConfig } | { error: string } {
  if (doc === null || doc === undefined) return { config: DEFAULT_MESH_CONFIG };
  if (typeof doc !== "object" || Array.isArray(doc)) return { error: "mesh config must be a YAML mapping" };
  const root = (doc as Record<string, unknown>)["rootNamespace"];
  if (root !== undefined && (typeof root !== "string" || root === "")) return { error: "rootNamespace must be a namespace name" };
  const td = (doc as Record<string, unknown>)["trustDomain"];
  if (td !== undefined && (typeof td !== "string" || td === "" || /[/\s]/.test(td)))
    return { error: "trustDomain must be a domain name such as cluster.local" };
  const auto = (doc as Record<string, unknown>)["enableAutoMtls"];
  if (auto !== undefined && typeof auto !== "boolean") return { error: "enableAutoMtls must be true or false" };
  const exportTo = (doc as Record<string, unknown>)["defaultServiceExportTo"];
  if (exportTo !== undefined && (!Array.isArray(exportTo) || exportTo.some((e) => typeof e !== "string" || e === "")))
    return { error: 'defaultServiceExportTo must be a list of namespaces, ".", "*" or "~"' };
  const logs = accessLogSettingsFrom(doc as Record<string, unknown>);
  if ("error" in logs) return logs;
  const withRoot = (c: MeshConfig): MeshConfig => ({
    ...c,
    ...logs.settings,
    ...(typeof root === "string" ? { rootNamespace: root } : {}),
    ...(typeof td === "string" ? { trustDomain: td } : {}),
    ...(typeof auto === "boolean" ? { enableAutoMtls: auto } : {}),
    ...(Array.isArray(exportTo) && exportTo.length ? { defaultServiceExportTo: exportTo as string[] } : {}),
  });
  const otp = (doc as Record<string, unknown>)["outboundTrafficPolicy"];
  if (otp === undefined) return { config: withRoot(DEFAULT_MESH_CONFIG) };
  if (!otp || typeof otp !== "object" || Array.isArray(otp)) return { error: "outboundTrafficPolicy must be a mapping with a mode" };
  const raw = (otp as Record<string, unknown>)["mode"];
  if (raw === undefined) return { config: withRoot(DEFAULT_MESH_CONFIG) };
  if (typeof raw !== "string") return { error: "outboundTrafficPolicy.mode must be a string" };
  const parsed = parseOutboundTrafficPolicyMode(raw);
  return "error" in parsed ? parsed : { config: withRoot({ outboundTrafficPolicy: { mode: parsed.mode } }) };
}
