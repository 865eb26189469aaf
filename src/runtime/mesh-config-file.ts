/**
 * The mesh config as a user hands it over: Istio's mesh config YAML (the `mesh` key of the
 * `istio` ConfigMap, or that ConfigMap itself), and `--outbound-traffic-policy`, which overrides
 * the file's mode.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { DEFAULT_MESH_CONFIG, meshConfigFrom, type MeshConfig, type OutboundTrafficPolicyMode } from "../model/mesh-config.js";

export function loadMeshConfig(file: string | undefined, outboundTrafficPolicy: OutboundTrafficPolicyMode | undefined): MeshConfig {
  let config = DEFAULT_MESH_CONFIG;
  if (file !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, "utf8"));
      const cm = doc as { kind?: unknown; data?: { mesh?: unknown } } | null;
      if (cm && cm.kind === "ConfigMap") doc = typeof cm.data?.mesh === "string" ? parseYaml(cm.data.mesh) : undefined;
    } catch (err) {
      throw new Error(`--mesh-config ${file}: ${(err as Error).message}`);
    }
    const parsed = meshConfigFrom(doc);
    if ("error" in parsed) throw new Error(`--mesh-config ${file}: ${parsed.error}`);
    config = parsed.config;
  }
  return outboundTrafficPolicy ? { ...config, outboundTrafficPolicy: { mode: outboundTrafficPolicy } } : config;
}
