// `meshpilot proxy-config clusters|listeners|routes|endpoints|secrets|all NODE-ID`: one proxy's
// config as tables, from meshpilot's intent (a running server, or offline from a directory) or
// from a live Envoy's admin /config_dump; `--diff` shows where the two differ, per resource.
import { stringify as toYaml } from "yaml";
import { configDump } from "../debug/config-dump.js";
import { compareHeld, comparedCount, differencesText, type Change } from "../debug/proxy-config/compare.js";
import { CONFIG_TYPES, fromConfigDump, type ConfigType, type Held } from "../debug/proxy-config/held.js";
import { configTable, type OutlierState } from "../debug/proxy-config/tables.js";
import type { MeshConfig } from "../model/mesh-config.js";
import { translateDir } from "./translate.js";
import { fetchJson, serverUrl } from "./debug-client.js";
import { table } from "./table.js";
import { PROXY_CONFIG_TYPES } from "./choices.js";

const LABELS = { left: "meshpilot", right: "proxy" };
const WORDS: Readonly<Record<Change, string>> = {
  "left-only": "missing from the proxy",
  "right-only": "only in the proxy",
  differs: "differs",
  "right-warming": "warming in the proxy (not active yet)",
};

export interface ProxyConfigOptions {
  readonly type: string;
  readonly nodeId?: string;
  /** meshpilot's debug address. */
  readonly server?: string;
  /** Offline: meshpilot's intent from this directory. */
  readonly configDir?: string;
  readonly metadata?: Record<string, unknown>;
  readonly meshConfig?: MeshConfig;
  /** A live Envoy's admin address. */
  readonly envoyAdmin?: string;
  readonly diff?: boolean;
  readonly output: string;
  readonly now?: Date;
}

interface Side {
  readonly held: Held;
  readonly problems: readonly string[];
}

async function intent(o: ProxyConfigOptions): Promise<Side> {
  if (!o.nodeId) throw new Error("a NODE-ID is needed to read meshpilot's intent for a proxy");
  if (o.server !== undefined) {
    return fromConfigDump(await fetchJson(o.server, `/debug/config_dump?proxyID=${encodeURIComponent(o.nodeId)}&include_eds`));
  }
  if (o.configDir !== undefined) {
    const r = await translateDir(o.configDir, {
      proxy: o.nodeId,
      ...(o.metadata ? { metadata: o.metadata } : {}),
      ...(o.meshConfig ? { meshConfig: o.meshConfig } : {}),
    });
    if ("error" in r) throw new Error(r.error.replace(/^--proxy/, "NODE-ID"));
    return fromConfigDump(configDump(r.resources, {}, true));
  }
  throw new Error("give --server (a running meshpilot) or --config-dir (offline) for meshpilot's side");
}

async function envoy(admin: string): Promise<Side & { outliers: OutlierState }> {
  const side = fromConfigDump(await fetchJson(admin, "/config_dump?include_eds"));
  return { ...side, outliers: outlierState(await fetchJson(admin, "/clusters?format=json")) };
}

/** Per cluster and endpoint, whether Envoy's outlier detection ejected it (admin /clusters). */
function outlierState(clusters: unknown): OutlierState {
  const out = new Map<string, Map<string, boolean>>();
  type HostStatus = { address?: { socket_address?: { address?: string; port_value?: number } }; health_status?: { failed_outlier_check?: boolean } };
  for (const c of (clusters as { cluster_statuses?: { name?: string; host_statuses?: HostStatus[] }[] }).cluster_statuses ?? []) {
    const hosts = new Map<string, boolean>();
    for (const h of c.host_statuses ?? []) {
      const sa = h.address?.socket_address;
      if (sa) hosts.set(`${sa.address ?? ""}:${sa.port_value ?? ""}`, h.health_status?.failed_outlier_check === true);
    }
    out.set(c.name ?? "", hosts);
  }
  return out;
}

function typesOf(type: string): ConfigType[] {
  if (type === "all") return [...CONFIG_TYPES];
  if ((CONFIG_TYPES as readonly string[]).includes(type)) return [type as ConfigType];
  throw new Error(`the type must be one of ${PROXY_CONFIG_TYPES.join(", ")}, not "${type}"`);
}

function warnings(problems: readonly string[], from: string): string {
  return problems.map((p) => `warning: a resource from ${from} could not be read as its Envoy type, shown as sent: ${p}\n`).join("");
}

export async function proxyConfigCommand(o: ProxyConfigOptions): Promise<{ output: string; stderr: string; differences?: number }> {
  const types = typesOf(o.type);
  if (o.server !== undefined && o.configDir !== undefined) throw new Error("give either --server or --config-dir, not both");
  if (o.diff) {
    if (o.envoyAdmin === undefined) throw new Error("--diff compares meshpilot's intent with a live Envoy: give --envoy-admin HOST:PORT");
    const [mine, theirs] = await Promise.all([intent(o), envoy(o.envoyAdmin)]);
    const diffs = compareHeld(mine.held, theirs.held, types, LABELS);
    const stderr = warnings(mine.problems, "meshpilot") + warnings(theirs.problems, serverUrl(o.envoyAdmin));
    const compared = comparedCount(mine.held, theirs.held, types);
    if (o.output === "json") return { output: JSON.stringify(diffs, null, 2) + "\n", stderr, differences: diffs.length };
    if (o.output === "yaml") return { output: toYaml(diffs), stderr, differences: diffs.length };
    const text =
      diffs.length === 0
        ? `No differences: the proxy holds what meshpilot intends (${compared} resources compared).\n`
        : `${diffs.length} of ${compared} resources differ between meshpilot (---) and the proxy (+++):\n\n${differencesText(diffs, WORDS, LABELS)}`;
    return { output: text, stderr, differences: diffs.length };
  }
  const side: Side & { outliers?: OutlierState } = o.envoyAdmin !== undefined ? await envoy(o.envoyAdmin) : await intent(o);
  const stderr = warnings(side.problems, o.envoyAdmin !== undefined ? serverUrl(o.envoyAdmin) : "meshpilot");
  if (o.output === "json" || o.output === "yaml") {
    const body = Object.fromEntries(types.map((t) => [t, side.held[t]]));
    return { output: o.output === "json" ? JSON.stringify(body, null, 2) + "\n" : toYaml(body), stderr };
  }
  const now = o.now ?? new Date();
  const outliers = side.outliers;
  const parts = types.map((t) => {
    const tab = configTable(t, side.held, { now, ...(outliers ? { outliers } : {}) });
    return (types.length > 1 ? `${t.toUpperCase()}:\n` : "") + table(tab.headers, tab.rows);
  });
  return { output: parts.join("\n"), stderr };
}
