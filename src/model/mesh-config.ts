/**
 * The mesh-wide settings of Istio's MeshConfig that change what sidecars get: how a sidecar treats
 * traffic to hosts outside the registry (`outboundTrafficPolicy.mode`, default ALLOW_ANY) and the
 * root namespace whose Sidecar is every namespace's default (`rootNamespace`, default istio-system).
 * A Sidecar resource's own `outboundTrafficPolicy` overrides this per workload (see scope.ts).
 */

export type OutboundTrafficPolicyMode = "ALLOW_ANY" | "REGISTRY_ONLY";

export const OUTBOUND_TRAFFIC_POLICY_MODES: readonly OutboundTrafficPolicyMode[] = ["ALLOW_ANY", "REGISTRY_ONLY"];

export interface MeshConfig {
  readonly outboundTrafficPolicy: { readonly mode: OutboundTrafficPolicyMode };
  /** Where a Sidecar without workloadSelector is every namespace's default (Istio: `istio-system`). */
  readonly rootNamespace?: string;
}

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
  const withRoot = (c: MeshConfig): MeshConfig => (typeof root === "string" ? { ...c, rootNamespace: root } : c);
  const otp = (doc as Record<string, unknown>)["outboundTrafficPolicy"];
  if (otp === undefined) return { config: withRoot(DEFAULT_MESH_CONFIG) };
  if (!otp || typeof otp !== "object" || Array.isArray(otp)) return { error: "outboundTrafficPolicy must be a mapping with a mode" };
  const raw = (otp as Record<string, unknown>)["mode"];
  if (raw === undefined) return { config: withRoot(DEFAULT_MESH_CONFIG) };
  if (typeof raw !== "string") return { error: "outboundTrafficPolicy.mode must be a string" };
  const parsed = parseOutboundTrafficPolicyMode(raw);
  return "error" in parsed ? parsed : { config: withRoot({ outboundTrafficPolicy: { mode: parsed.mode } }) };
}
