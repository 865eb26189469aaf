/**
 * `meshpilot explain`: the resources come from an offline translation of a config directory, or
 * from a running meshpilot's `/debug/config_dump` for a connected proxy (what it sends that proxy);
 * src/explain/ does the rest.
 */
import { formatExplanation } from "../explain/format.js";
import { explain, type ExplainResources, type Explanation } from "../explain/explain.js";
import { parseRequest } from "../explain/request.js";
import type { MeshConfig } from "../model/mesh-config.js";
import { parseProxy, type ProxyNode } from "../model/proxy.js";
import { translateOffline } from "../pipeline/offline.js";
import { loadConfigDir } from "../runtime/config-dir.js";
import { splitLocality } from "../model/locality.js";
import { fromConfigDump, type ConfigType } from "../debug/proxy-config/held.js";
import { fetchJson } from "./debug-client.js";
import { findProxy, proxyName } from "./proxy-status.js";

export interface ExplainCliOptions {
  readonly proxy: string;
  readonly request: string;
  readonly configDir?: string;
  readonly server?: string;
  readonly output: string;
  readonly destinationIp?: string;
  readonly sourceIp?: string;
  readonly port?: number;
  readonly http2?: boolean;
  readonly metadata?: Record<string, unknown>;
  readonly locality?: string;
  readonly meshConfig?: MeshConfig;
}

type Loaded = { resources: ExplainResources; node: ProxyNode } | { error: string };

async function offline(o: ExplainCliOptions & { configDir: string }): Promise<Loaded> {
  const { objects, diagnostics } = await loadConfigDir(o.configDir);
  const locality = o.locality ? splitLocality(o.locality) : undefined;
  const node = { id: o.proxy, metadata: o.metadata ?? {}, ...(locality ? { locality } : {}) };
  const parsed = parseProxy(node);
  if ("error" in parsed) return { error: `--proxy: ${parsed.error}` };
  const result = translateOffline(objects, diagnostics, node, o.meshConfig);
  if ("error" in result) return { error: `--proxy: ${result.error}` };
  return { resources: result.resources, node: parsed.proxy };
}

/** A running meshpilot's resources for a connected proxy (`pod.namespace` or the full node id). */
async function live(o: ExplainCliOptions & { server: string }): Promise<Loaded> {
  const statuses = (await fetchJson(o.server, "/debug/syncz")) as { id: string }[];
  const status = findProxy(statuses, o.proxy);
  if (!status)
    return { error: `--proxy: no proxy ${o.proxy} is connected to ${o.server} (connected: ${statuses.map((s) => proxyName(s.id)).join(", ") || "none"})` };
  const parsed = parseProxy({ id: status.id });
  if ("error" in parsed) return { error: parsed.error };
  const { held } = fromConfigDump(await fetchJson(o.server, `/debug/config_dump?proxyID=${encodeURIComponent(status.id)}&include_eds`));
  // Canonical proto-JSON is the shape explain reads; only what would be serving traffic counts.
  const active = (type: ConfigType) => held[type].filter((r) => r.state === "active").map((r) => r.json) as never[];
  return {
    node: parsed.proxy,
    resources: { clusters: active("clusters"), listeners: active("listeners"), routes: active("routes"), endpoints: active("endpoints") },
  };
}

export async function explainCommand(o: ExplainCliOptions): Promise<{ output: string; explanation: Explanation } | { error: string }> {
  if ((o.configDir === undefined) === (o.server === undefined))
    return { error: "give exactly one of --config-dir (offline) and --server (a running meshpilot)" };
  if (o.output !== "text" && o.output !== "json") return { error: "-o must be text or json" };
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port > 0 && o.port < 65536)) return { error: "--port must be a port number" };
  const req = parseRequest(o.request);
  if ("error" in req) return { error: `--request: ${req.error}` };
  const loaded = o.configDir !== undefined ? await offline({ ...o, configDir: o.configDir }) : await live({ ...o, server: o.server! });
  if ("error" in loaded) return loaded;
  const e = explain(loaded.resources, loaded.node, req, {
    ...(o.destinationIp ? { destinationIp: o.destinationIp } : {}),
    ...(o.sourceIp ? { sourceIp: o.sourceIp } : {}),
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.http2 ? { http2: true } : {}),
  });
  return { output: o.output === "json" ? JSON.stringify(e, null, 2) + "\n" : formatExplanation(e), explanation: e };
}
