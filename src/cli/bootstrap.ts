import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { obtainCertificate } from "../ca/ca-client.js";
import { buildBootstrap, parseHostPort, type BootstrapInterceptionMode, type BootstrapProxyType, type SecureBootstrap } from "../translate/bootstrap.js";

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
  /** Secure port: TLS, token or client certificate. */
  secure?: boolean;
  caCert?: string;
  tokenFile?: string;
  serverName?: string;
  /** Obtain a client certificate with the token into this directory, and use it instead of the token. */
  clientCert?: string;
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
  if (o.clientCert === undefined) return { caCertFile, token: token.trim(), ...(o.serverName ? { serverName: o.serverName } : {}) };
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
  const labels: Record<string, string> = {};
  for (const kv of o.label) {
    const eq = kv.indexOf("=");
    if (eq <= 0) return { error: `--label "${kv}" must be key=value` };
    labels[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  // A node id without "~" is not typed: its own check below says what is wrong with it.
  const type = o.type ?? (o.nodeId?.includes("~") ? o.nodeId.split("~")[0] : "sidecar");
  if (type !== "sidecar" && type !== "router") return { error: `--type "${type}" must be sidecar or router` };
  if (o.nodeId && o.type && !o.nodeId.startsWith(`${o.type}~`)) return { error: `--type ${o.type} differs from the type of --node-id "${o.nodeId}"` };
  if (!o.nodeId && !(o.ip && o.pod && o.namespace)) return { error: "give --node-id, or --ip, --pod and --namespace (with --type)" };
  // A gateway listens on real ports; only sidecars are captured by iptables.
  const mode = (o.interception ?? (type === "router" ? "NONE" : "REDIRECT")).toUpperCase();
  if (!["NONE", "REDIRECT", "TPROXY"].includes(mode)) return { error: `--interception "${o.interception}" must be NONE or REDIRECT` };
  const secure = await secureOptions(o);
  if (secure && "error" in secure) return secure;
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
    ...(secure ? { secure } : {}),
  });
  if (result.errors) return { error: result.errors.map((e) => `--${e.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${e.message}`).join("\n") };
  return { output: JSON.stringify(result.bootstrap, null, 2) + "\n" };
}
