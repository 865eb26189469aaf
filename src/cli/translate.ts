import { stringify as toYaml } from "yaml";
import type { MeshConfig } from "../model/mesh-config.js";
import { translateOffline, type OfflineResult } from "../pipeline/offline.js";
import { loadConfigDir } from "../runtime/config-dir.js";
import { splitLocality } from "../model/locality.js";
import { redactSecret } from "../translate/tls.js";
import { configDump } from "../debug/config-dump.js";
import type { Change } from "../debug/proxy-config/compare.js";
import type { Held } from "../debug/proxy-config/held.js";
import { CONFIG_TYPES, type ConfigType } from "../debug/proxy-config/config-types.js";
import { RESOURCE_TYPES, type ResourceType } from "./choices.js";

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

/** What the proxy of `o` would receive from the config in `dir`. */
export async function translateDir(
  dir: string,
  o: Pick<TranslateCliOptions, "proxy" | "metadata" | "locality" | "meshConfig">,
): Promise<OfflineResult | { error: string }> {
  const { objects, diagnostics } = await loadConfigDir(dir);
  const locality = o.locality ? splitLocality(o.locality) : undefined;
  const result = translateOffline(objects, diagnostics, { id: o.proxy, metadata: o.metadata ?? {}, ...(locality ? { locality } : {}) }, o.meshConfig);
  return "error" in result ? { error: `--proxy: ${result.error}` } : result;
}

/** `meshpilot translate`: what one proxy would receive, offline, in Envoy's JSON form. */
export async function translateCommand(o: TranslateCliOptions): Promise<{ output: string; result: OfflineResult } | { error: string }> {
  if (o.type !== undefined && !(RESOURCE_TYPES as readonly string[]).includes(o.type)) return { error: `--type must be one of ${RESOURCE_TYPES.join(", ")}` };
  if (o.output !== "json" && o.output !== "yaml") return { error: `-o must be json or yaml` };
  const result = await translateDir(o.configDir, o);
  if ("error" in result) return result;
  // Private keys are for Envoy only: printed output shows them redacted, as Envoy's admin does.
  const r = { ...result.resources, secrets: result.resources.secrets.map(redactSecret) };
  const body: unknown = o.type
    ? r[o.type as ResourceType]
    : { clusters: r.clusters, endpoints: r.endpoints, listeners: r.listeners, routes: r.routes, ...(r.secrets.length ? { secrets: r.secrets } : {}) };
  return { output: o.output === "yaml" ? toYaml(body) : JSON.stringify(body, null, 2) + "\n", result };
}

const DIFF_LABELS = { left: "before", right: "after" };
const DIFF_WORDS: Readonly<Record<Change, string>> = {
  "left-only": "removed",
  "right-only": "added",
  differs: "changed",
  "right-warming": "changed",
};

/**
 * `meshpilot translate --config-dir DIR --diff OTHER-DIR`: what the proxy would see change if the
 * config in DIR became OTHER-DIR's, per resource, before it is applied.
 */
export async function translateDiffCommand(o: TranslateCliOptions & { otherDir: string }): Promise<{ output: string; changes: number } | { error: string }> {
  // Loaded here: the comparison goes through the generated Envoy schemas, which plain translate does not need.
  const [{ fromConfigDump }, { compareHeld, differencesText }] = await Promise.all([
    import("../debug/proxy-config/held.js"),
    import("../debug/proxy-config/compare.js"),
  ]);
  const held = async (dir: string): Promise<Held | { error: string }> => {
    const r = await translateDir(dir, o);
    return "error" in r ? r : fromConfigDump(configDump(r.resources, {}, true)).held;
  };
  const before = await held(o.configDir);
  if ("error" in before) return before;
  const after = await held(o.otherDir);
  if ("error" in after) return after;
  const types = o.type !== undefined ? [o.type as ConfigType] : [...CONFIG_TYPES];
  const diffs = compareHeld(before, after, types, DIFF_LABELS);
  if (o.output === "json") return { output: JSON.stringify(diffs, null, 2) + "\n", changes: diffs.length };
  if (o.output === "yaml") return { output: toYaml(diffs), changes: diffs.length };
  const output =
    diffs.length === 0
      ? `No change for ${o.proxy}: ${o.otherDir} gives it the same config as ${o.configDir}.\n`
      : `${diffs.length} resource(s) of ${o.proxy} change from ${o.configDir} (---) to ${o.otherDir} (+++):\n\n${differencesText(diffs, DIFF_WORDS, DIFF_LABELS)}`;
  return { output, changes: diffs.length };
}
