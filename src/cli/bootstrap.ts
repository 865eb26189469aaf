import { buildBootstrap, type BootstrapInterceptionMode } from "../translate/bootstrap.js";

export interface BootstrapCliOptions {
  nodeId: string;
  xdsAddress: string;
  adminAddress: string;
  interception?: string;
  namespace?: string;
  label: string[];
  sotw?: boolean;
  cluster?: string;
  locality?: string;
}

/** `meshpilot bootstrap`: prints an Envoy bootstrap (JSON) that a stock Envoy starts with. */
export function bootstrapCommand(o: BootstrapCliOptions): { output: string } | { error: string } {
  const labels: Record<string, string> = {};
  for (const kv of o.label) {
    const eq = kv.indexOf("=");
    if (eq <= 0) return { error: `--label "${kv}" must be key=value` };
    labels[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const mode = (o.interception ?? "REDIRECT").toUpperCase();
  if (!["NONE", "REDIRECT", "TPROXY"].includes(mode)) return { error: `--interception "${o.interception}" must be NONE or REDIRECT` };
  const result = buildBootstrap({
    nodeId: o.nodeId,
    xdsAddress: o.xdsAddress,
    adminAddress: o.adminAddress,
    interception: mode as BootstrapInterceptionMode,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    labels,
    sotw: Boolean(o.sotw),
    ...(o.cluster ? { cluster: o.cluster } : {}),
    ...(o.locality !== undefined ? { locality: o.locality } : {}),
  });
  if (result.errors) return { error: result.errors.map((e) => `--${e.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${e.message}`).join("\n") };
  return { output: JSON.stringify(result.bootstrap, null, 2) + "\n" };
}
