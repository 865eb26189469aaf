/**
 * The mesh config as a user hands it over: Istio's mesh config YAML (the `mesh` key of the
 * `istio` ConfigMap, or that ConfigMap itself), and `--outbound-traffic-policy`, which overrides
 * the file's mode.
 */
import { readFileSync } from "node:fs";
import type * as Yaml from "yaml";
import { lazyModule } from "../lazy-module.js";
import { DEFAULT_MESH_CONFIG, meshConfigFrom, type MeshConfig, type OutboundTrafficPolicyMode } from "../model/mesh-config.js";

/** Only a run given `--mesh-config` reads YAML here (not loaded at every start). */
const yaml = lazyModule<typeof Yaml>("yaml");

export function loadMeshConfig(file: string | undefined, outboundTrafficPolicy: OutboundTrafficPolicyMode | undefined): MeshConfig {
  let config = DEFAULT_MESH_CONFIG;
  if (file !== undefined) {
    let doc: unknown;
    try {
      doc = yaml().parse(readFileSync(file, "utf8"));
      const cm = doc as { kind?: unknown; data?: { mesh?: unknown } } | null;
      if (cm && cm.kind === "ConfigMap") doc = typeof cm.data?.mesh === "string" ? yaml().parse(cm.data.mesh) : undefined;
    } catch (err) {
      throw new Error(`--mesh-config ${file}: ${(err as Error).message}`);
    }
    const parsed = meshConfigFrom(doc);
    if ("error" in parsed) throw new Error(`--mesh-config ${file}: ${parsed.error}`);
    config = parsed.config;
  }
  return outboundTrafficPolicy ? { ...config, outboundTrafficPolicy: { mode: outboundTrafficPolicy } } : config;
}
