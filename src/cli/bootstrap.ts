import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { obtainCertificate } from "../ca/ca-client.js";
import { buildBootstrap, parseHostPort, type BootstrapInterceptionMode, type BootstrapProxyType, type SecureBootstrap } from "../translate/bootstrap.js";

export interface BootstrapCliOptions {
  /** The whole node id; else it is built from type, ip, pod and namespace. */
  nodeId?: string;
  /** `sidecar` or `router` (a gateway); must agree with the node id when both are given. */
  type?: string;
  /** Pod IP, name and namespace; each defaults to its downward-API variable in `env` (see POD_ENV). */
  ip?: string;
  pod?: string;
  xdsAddress: string;
  adminAddress: string;
  interception?: string;
  namespace?: string;
  label: string[];
  /** A downward-API file of the pod's labels (`key="value"` lines); `--label` wins over it. */
  labelsFile?: string;
  /** The pod's ServiceAccount (node metadata SERVICE_ACCOUNT, which the secure port checks); default $SERVICE_ACCOUNT. */
  serviceAccount?: string;
  sotw?: boolean;
  cluster?: string;
  locality?: string;
  /** Secure port: TLS, token or client certificate. */
  secure?: boolean;
  caCert?: string;
  tokenFile?: string;
  serverName?: string;
  /** Obtain a client certificate with the token into this directory, and use it instead of the token. */
  clientCert?: string;
  /** Readiness on 0.0.0.0:<port>/healthz/ready. */
  healthPort?: number;
  /** The process environment, for the downward-API defaults; none when absent. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The container environment variables a pod's proxy is told about itself by, as Istio's agent
 * reads them (the IP also as POD_IP), each filled by the kubelet from the downward API.
 */
export const POD_ENV = {
  ip: ["INSTANCE_IP", "POD_IP"],
  pod: ["POD_NAME"],
  namespace: ["POD_NAMESPACE"],
  serviceAccount: ["SERVICE_ACCOUNT"],
} as const;

type PodField = keyof typeof POD_ENV;
const FLAG: Record<PodField, string> = { ip: "--ip", pod: "--pod", namespace: "--namespace", serviceAccount: "--service-account" };

/** A flag's value, else the first of its downward-API variables that is set; with where it came from. */
function podValue(o: BootstrapCliOptions, field: PodField): { value: string; from: string } | undefined {
  const flag = o[field];
  if (flag !== undefined) return { value: flag, from: FLAG[field] };
  for (const name of POD_ENV[field]) {
    const v = o.env?.[name];
    if (v !== undefined && v !== "") return { value: v, from: `$${name}` };
  }
  return undefined;
}

/**
 * A `$(VAR)` left in a value: the kubelet expands `$(VAR)` in args only for variables defined in
 * the container's env, and leaves the text as it is otherwise.
 */
function unexpanded(v: { value: string; from: string }): string | undefined {
  const m = /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/.exec(v.value);
  if (!m) return undefined;
  return `${v.from} "${v.value}": the kubelet did not expand $(${m[1]}): define ${m[1]} in the container's env (from the downward API), or leave ${v.from} out and set ${POD_ENV.ip.join(", ")}, ${POD_ENV.pod[0]} and ${POD_ENV.namespace[0]} there`;
}

/**
 * The labels of a downward-API volume file (`fieldPath: metadata.labels`): one `key="value"` a
 * line, the value quoted as Go quotes strings (label values are a subset JSON reads the same).
 */
export function parseLabelsFile(text: string, file: string): { labels: Record<string, string> } | { error: string } {
  const labels: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const eq = line.indexOf("=");
    const bad = { error: `--labels-file ${file} line ${i + 1}: expected key="value", as the downward API writes metadata.labels` };
    if (eq <= 0 || !line.slice(eq + 1).startsWith('"')) return bad;
    let value: unknown;
    try {
      value = JSON.parse(line.slice(eq + 1));
    } catch {
      return bad;
    }
    if (typeof value !== "string") return bad;
    labels[line.slice(0, eq)] = value;
  }
  return { labels };
}

function readText(path: string, what: string): string | { error: string } {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    return { error: `${what} ${path}: ${(e as Error).message}` };
  }
}

/**
 * The secure options from the flags. With --client-cert, asks meshpilot's CA for a certificate
 * (the token proves the identity) and writes cert-chain.pem, key.pem and root-cert.pem there.
 */
async function secureOptions(o: BootstrapCliOptions): Promise<SecureBootstrap | { error: string } | undefined> {
  if (!o.secure) {
    if (o.caCert || o.tokenFile || o.clientCert || o.serverName) return { error: "--ca-cert, --token-file, --client-cert and --server-name need --secure" };
    return undefined;
  }
  if (!o.caCert) return { error: "--secure needs --ca-cert (the mesh root, e.g. root-cert.pem of the istio-ca-root-cert ConfigMap)" };
  if (!o.tokenFile) return { error: "--secure needs --token-file (a ServiceAccount token with audience istio-ca)" };
  const root = readText(o.caCert, "--ca-cert");
  if (typeof root !== "string") return root;
  const token = readText(o.tokenFile, "--token-file");
  if (typeof token !== "string") return token;
  const caCertFile = resolve(o.caCert);
  // The bootstrap names the token file rather than holding the token: Envoy reads it on every
  // (re)connect, so a projected token the kubelet renews keeps working past its first lifetime.
  if (o.clientCert === undefined) return { caCertFile, tokenFile: resolve(o.tokenFile), ...(o.serverName ? { serverName: o.serverName } : {}) };
  const hp = parseHostPort(o.xdsAddress);
  if (typeof hp === "string") return { error: `--xds-address: ${hp}` };
  const serverName = o.serverName ?? (hp.isIp ? undefined : hp.host);
  if (!serverName) return { error: "--server-name is required with an IP address as --xds-address" };
  const got = await obtainCertificate({ address: o.xdsAddress, rootPem: root, serverName, token: token.trim() });
  const dir = resolve(o.clientCert);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "cert-chain.pem"), got.certChainPem);
  writeFileSync(join(dir, "key.pem"), got.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, "root-cert.pem"), got.rootPem);
  return { caCertFile, serverName, clientCertFile: join(dir, "cert-chain.pem"), clientKeyFile: join(dir, "key.pem") };
}

/** `meshpilot bootstrap`: prints an Envoy bootstrap (JSON) that a stock Envoy starts with. */
export async function bootstrapCommand(o: BootstrapCliOptions): Promise<{ output: string } | { error: string }> {
  let labels: Record<string, string> = {};
  if (o.labelsFile !== undefined) {
    const text = readText(o.labelsFile, "--labels-file");
    if (typeof text !== "string") return text;
    const parsed = parseLabelsFile(text, o.labelsFile);
    if ("error" in parsed) return parsed;
    labels = parsed.labels;
  }
  for (const kv of o.label) {
    const eq = kv.indexOf("=");
    if (eq <= 0) return { error: `--label "${kv}" must be key=value` };
    labels[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  // A node id without "~" is not typed: its own check below says what is wrong with it.
  const type = o.type ?? (o.nodeId?.includes("~") ? o.nodeId.split("~")[0] : "sidecar");
  if (type !== "sidecar" && type !== "router") return { error: `--type "${type}" must be sidecar or router` };
  if (o.nodeId && o.type && !o.nodeId.startsWith(`${o.type}~`)) return { error: `--type ${o.type} differs from the type of --node-id "${o.nodeId}"` };
  const ip = o.nodeId ? undefined : podValue(o, "ip");
  const pod = o.nodeId ? undefined : podValue(o, "pod");
  // With --node-id the namespace is the node id's, unless --namespace says it (and must agree).
  const namespace = o.nodeId ? (o.namespace !== undefined ? { value: o.namespace, from: "--namespace" } : undefined) : podValue(o, "namespace");
  const serviceAccount = podValue(o, "serviceAccount");
  if (!o.nodeId && !(ip && pod && namespace)) {
    const missing = (["ip", "pod", "namespace"] as const).filter((f) => !podValue(o, f)).map((f) => `${FLAG[f]} (or $${POD_ENV[f].join(" or $")})`);
    return { error: `give --node-id, or the pod's IP, name and namespace: missing ${missing.join(", ")}` };
  }
  for (const v of [ip, pod, namespace, serviceAccount]) {
    const why = v && unexpanded(v);
    if (why) return { error: why };
  }
  // A gateway listens on real ports; only sidecars are captured by iptables.
  const mode = (o.interception ?? (type === "router" ? "NONE" : "REDIRECT")).toUpperCase();
  if (!["NONE", "REDIRECT", "TPROXY"].includes(mode)) return { error: `--interception "${o.interception}" must be NONE or REDIRECT` };
  const secure = await secureOptions(o);
  if (secure && "error" in secure) return secure;
  const result = buildBootstrap({
    ...(o.nodeId ? { nodeId: o.nodeId } : { node: { type: type as BootstrapProxyType, ip: ip!.value, podName: pod!.value, namespace: namespace!.value } }),
    xdsAddress: o.xdsAddress,
    adminAddress: o.adminAddress,
    interception: mode as BootstrapInterceptionMode,
    ...(namespace ? { namespace: namespace.value } : {}),
    ...(serviceAccount ? { extraMetadata: { SERVICE_ACCOUNT: serviceAccount.value } } : {}),
    labels,
    sotw: Boolean(o.sotw),
    ...(o.cluster ? { cluster: o.cluster } : {}),
    ...(o.locality !== undefined ? { locality: o.locality } : {}),
    ...(o.healthPort !== undefined ? { healthPort: o.healthPort } : {}),
    ...(secure ? { secure } : {}),
  });
  if (result.errors) return { error: result.errors.map((e) => `${flagOf(e.field, { ip, pod, namespace })}: ${e.message}`).join("\n") };
  return { output: JSON.stringify(result.bootstrap, null, 2) + "\n" };
}

/** The flag (or variable) a bootstrap error is about. */
function flagOf(field: string, from: Partial<Record<PodField, { from: string } | undefined>>): string {
  // A node id built from the parts is wrong because of one of them; the message names the value.
  if (field === "nodeId" && from.ip) return [from.ip, from.pod, from.namespace].map((v) => v?.from).join(", ");
  if (field === "namespace" && from.namespace) return from.namespace.from;
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Writes the bootstrap for Envoy to read (`-c FILE`): readable by its owner only, since a secure
 * bootstrap says where the proxy's credentials are.
 */
export function writeBootstrap(file: string, output: string): void {
  writeFileSync(file, output, { mode: 0o600 });
  chmodSync(file, 0o600);
}
