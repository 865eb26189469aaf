import { stringify as toYaml } from "yaml";
import type { MeshConfig } from "../model/mesh-config.js";
import { translateOffline, type OfflineResult } from "../pipeline/offline.js";
import { loadConfigDir } from "../runtime/config-dir.js";
import { redactSecret } from "../translate/tls.js";

export const RESOURCE_TYPES = ["clusters", "endpoints", "listeners", "routes", "secrets"] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export interface TranslateCliOptions {
  configDir: string;
  proxy: string;
  type?: string;
  output: string;
  metadata?: Record<string, unknown>;
  /** The proxy's locality, `region/zone/subzone`. */
  locality?: string;
  meshConfig?: MeshConfig;
}

/** `meshpilot translate`: what one proxy would receive, offline, in Envoy's JSON form. */
export async function translateCommand(o: TranslateCliOptions): Promise<{ output: string; result: OfflineResult } | { error: string }> {
  if (o.type !== undefined && !(RESOURCE_TYPES as readonly string[]).includes(o.type)) return { error: `--type must be one of ${RESOURCE_TYPES.join(", ")}` };
  if (o.output !== "json" && o.output !== "yaml") return { error: `-o must be json or yaml` };
  const { objects, diagnostics } = await loadConfigDir(o.configDir);
  const [region, zone, subZone] = (o.locality ?? "").split("/");
  const locality = o.locality ? { region: region ?? "", zone: zone ?? "", subZone: subZone ?? "" } : undefined;
  const result = translateOffline(objects, diagnostics, { id: o.proxy, metadata: o.metadata ?? {}, ...(locality ? { locality } : {}) }, o.meshConfig);
  if ("error" in result) return { error: `--proxy: ${result.error}` };
  // Private keys are for Envoy only: printed output shows them redacted, as Envoy's admin does.
  const r = { ...result.resources, secrets: result.resources.secrets.map(redactSecret) };
  const body: unknown = o.type
    ? r[o.type as ResourceType]
    : { clusters: r.clusters, endpoints: r.endpoints, listeners: r.listeners, routes: r.routes, ...(r.secrets.length ? { secrets: r.secrets } : {}) };
  return { output: o.output === "yaml" ? toYaml(body) : JSON.stringify(body, null, 2) + "\n", result };
}
