import { buildBootstrap, type BootstrapInterceptionMode, type BootstrapProxyType } from "../translate/bootstrap.js";

export interface BootstrapCliOptions {
  /** The whole node id; else it is built from type, ip, pod and namespace. */
  nodeId?: string;
  /** `sidecar` or `router` (a gateway); must agree with the node id when both are given. */
  type?: string;
  ip?: string;
  pod?: string;
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
  const type = o.type ?? (o.nodeId ? o.nodeId.split("~")[0] : "sidecar");
  if (type !== "sidecar" && type !== "router") return { error: `--type "${type}" must be sidecar or router` };
  if (o.nodeId && o.type && !o.nodeId.startsWith(`${o.type}~`)) return { error: `--type ${o.type} differs from the type of --node-id "${o.nodeId}"` };
  if (!o.nodeId && !(o.ip && o.pod && o.namespace)) return { error: "give --node-id, or --ip, --pod and --namespace (with --type)" };
  // A gateway listens on real ports; only sidecars are captured by iptables.
  const mode = (o.interception ?? (type === "router" ? "NONE" : "REDIRECT")).toUpperCase();
  if (!["NONE", "REDIRECT", "TPROXY"].includes(mode)) return { error: `--interception "${o.interception}" must be NONE or REDIRECT` };
  const result = buildBootstrap({
    ...(o.nodeId ? { nodeId: o.nodeId } : { node: { type: type as BootstrapProxyType, ip: o.ip!, podName: o.pod!, namespace: o.namespace! } }),
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
