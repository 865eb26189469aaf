/**
 * The Envoy bootstrap that points a proxy at meshpilot over ADS: what istio-agent writes for a
 * sidecar, reduced to what upstream Envoy needs (no istio.* extensions, no agent: workload
 * certificates come over the ADS stream itself when it is secure).
 *
 * Pure: the caller supplies every value (no environment, clock or file access here). Bad options
 * come back as `{ errors }`, never as an exception.
 */
import type { BootstrapJson } from "../gen/envoy/config/bootstrap/v3/bootstrap_pb.js";
import type { ClusterJson } from "../gen/envoy/config/cluster/v3/cluster_pb.js";
import type { ListenerJson } from "../gen/envoy/config/listener/v3/listener_pb.js";
import type { ConfigSourceJson } from "../gen/envoy/config/core/v3/config_source_pb.js";
import type { GrpcServiceJson } from "../gen/envoy/config/core/v3/grpc_service_pb.js";
import type { HttpProtocolOptionsJson } from "../gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js";
import type { UpstreamTlsContextJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import type { AnyJson } from "@bufbuild/protobuf/wkt";
import { isDNS1123Label, isDNS1123Subdomain } from "../api/validate-names.js";
import { isIP, isIPv4, isIPv6 } from "../api/validate-net.js";
import { readinessResources } from "./bootstrap-static.js";

export type BootstrapProxyType = "sidecar" | "router";
export type BootstrapInterceptionMode = "NONE" | "REDIRECT" | "TPROXY";

export interface NodeIdParts {
  /** `sidecar` (default) or `router` (a gateway). */
  readonly type?: BootstrapProxyType;
  /** The pod IP. */
  readonly ip: string;
  readonly podName: string;
  readonly namespace: string;
  /** Cluster DNS domain, default `cluster.local`. */
  readonly domain?: string;
}

export interface BootstrapOptions {
  /**
   * Full Istio node id `type~ip~pod.ns~ns.svc.cluster.local`. Either this or `node` is required;
   * when both are given, `nodeId` wins.
   */
  readonly nodeId?: string;
  /** Parts to build the node id from (see buildNodeId). */
  readonly node?: NodeIdParts;
  /** Envoy `node.cluster`. Default `<app label>.<ns>` (labels `app.kubernetes.io/name`, then `app`), else `<pod>.<ns>`. */
  readonly cluster?: string;
  /** meshpilot's ADS endpoint `host:port` (IPv6 as `[::1]:15010`). */
  readonly xdsAddress: string;
  /** Envoy admin `host:port`. Default `127.0.0.1:15000`. */
  readonly adminAddress?: string;
  /** Metadata INTERCEPTION_MODE. Default `REDIRECT` (iptables capture); `NONE` binds real ports. */
  readonly interception?: BootstrapInterceptionMode;
  /** Metadata NAMESPACE. Default: the namespace part of the node id. Must agree with it. */
  readonly namespace?: string;
  /** Metadata LABELS (the pod's labels). */
  readonly labels?: Readonly<Record<string, string>>;
  /** true: state-of-the-world ADS (`GRPC`); false (default): incremental ADS (`DELTA_GRPC`). */
  readonly sotw?: boolean;
  /** Metadata CLUSTER_ID. Default `Kubernetes` (Istio's default cluster name). */
  readonly clusterId?: string;
  /** Connect timeout of the xds-grpc cluster, as a proto Duration string. Default `1s`. */
  readonly connectTimeout?: string;
  /**
   * Envoy `node.locality` as Istio writes it, `region/zone/subzone` (zone and subzone optional):
   * locality load balancing (DestinationRule localityLbSetting) is relative to it.
   */
  readonly locality?: string;
  /** Extra string metadata keys (e.g. ISTIO_VERSION, MESH_ID). Must not clash with the keys set here. */
  readonly extraMetadata?: Readonly<Record<string, string>>;
  /** Connect to meshpilot's secure port (15012) over TLS, authenticated; see SecureBootstrap. */
  readonly secure?: SecureBootstrap;
  /** Serve readiness on `0.0.0.0:<port>/healthz/ready`, as Istio's proxies do on 15021 (see bootstrap-static.ts). */
  readonly healthPort?: number;
}

/**
 * TLS to the secure port: Envoy checks meshpilot's certificate against the mesh root and its
 * name, and proves its own identity with a ServiceAccount token (sent as `authorization: Bearer`
 * on the ADS stream, as istio-agent sends it) or a client certificate from the mesh CA.
 */
export interface SecureBootstrap {
  /** File with the mesh root (PEM), e.g. the `istio-ca-root-cert` ConfigMap's root-cert.pem. */
  readonly caCertFile: string;
  /** Name meshpilot's certificate must carry, also sent as SNI. Default: the host of xdsAddress (must then be a name). */
  readonly serverName?: string;
  /** A ServiceAccount token (audience istio-ca). Envoy sends it on every (re)connect; it does not re-read it. */
  readonly token?: string;
  /**
   * A file holding the token, e.g. a projected ServiceAccount token volume. Envoy reads it on every
   * (re)connect (Google gRPC with file-based call credentials), so a token the kubelet rotates
   * keeps working; the ADS stream then runs on Envoy's Google gRPC client instead of a cluster.
   */
  readonly tokenFile?: string;
  /** A client certificate chain and key (PEM files) from the mesh CA. */
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
}

export interface BootstrapError {
  /** The option at fault, e.g. `nodeId`, `xdsAddress`. */
  readonly field: string;
  readonly message: string;
}

export type BootstrapResult =
  { readonly bootstrap: BootstrapJson; readonly errors?: undefined } | { readonly errors: readonly BootstrapError[]; readonly bootstrap?: undefined };

/** Name of the static cluster that reaches meshpilot. */
export const XDS_CLUSTER_NAME = "xds-grpc";
const HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const DEFAULT_ADMIN = "127.0.0.1:15000";
const DEFAULT_DOMAIN = "cluster.local";
const PROXY_TYPES: readonly string[] = ["sidecar", "router"];
/** Metadata keys buildBootstrap sets itself. */
const RESERVED_METADATA: readonly string[] = ["CLUSTER_ID", "INSTANCE_IPS", "INTERCEPTION_MODE", "LABELS", "NAME", "NAMESPACE"];
const INTERCEPTION_MODES: readonly string[] = ["NONE", "REDIRECT", "TPROXY"];

const DURATION = /^\d+(\.\d{1,9})?s$/;

/** Istio's node id: `type~ip~pod.ns~ns.svc.domain`. Does not validate; buildBootstrap does. */
export function buildNodeId(parts: NodeIdParts): string {
  const type = parts.type ?? "sidecar";
  const domain = parts.domain ?? DEFAULT_DOMAIN;
  return `${type}~${parts.ip}~${parts.podName}.${parts.namespace}~${parts.namespace}.svc.${domain}`;
}

// A DNS host name: labels of letters, digits and hyphens.
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$/;

export interface HostPort {
  readonly host: string;
  readonly port: number;
  readonly isIp: boolean;
}

/** `host:port` or `[v6]:port` → parts, or an error message. */
export function parseHostPort(s: string): HostPort | string {
  let host: string;
  let portText: string;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0 || s[end + 1] !== ":") return `"${s}" must be [IPv6]:port`;
    host = s.slice(1, end);
    portText = s.slice(end + 2);
    if (!isIPv6(host)) return `"${host}" in "${s}" is not an IPv6 address`;
  } else {
    const colon = s.lastIndexOf(":");
    if (colon <= 0) return `"${s}" must be host:port`;
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(":")) return `"${s}": write IPv6 addresses as [addr]:port`;
    if (!isIPv4(host) && (!HOSTNAME.test(host) || /^[\d.]+$/.test(host))) return `"${host}" in "${s}" is neither an IP address nor a host name`;
  }
  if (!/^\d{1,5}$/.test(portText)) return `port "${portText}" in "${s}" is not a number`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${port} in "${s}" is outside 1-65535`;
  return { host, port, isIp: isIP(host) };
}

interface ParsedId {
  readonly type: string;
  readonly ip: string;
  readonly podName: string;
  readonly namespace: string;
}

function checkNodeId(id: string, errors: BootstrapError[]): ParsedId | undefined {
  const err = (message: string): undefined => {
    errors.push({ field: "nodeId", message: `node id "${id}": ${message}` });
    return undefined;
  };
  const parts = id.split("~");
  if (parts.length !== 4) return err(`must have 4 parts separated by "~": type~ip~pod.namespace~namespace.svc.cluster.local`);
  const [type, ip, podId, domain] = parts as [string, string, string, string];
  if (!PROXY_TYPES.includes(type)) return err(`type "${type}" must be one of ${PROXY_TYPES.join(", ")}`);
  if (!isIP(ip)) return err(`"${ip}" is not an IP address`);
  const dot = podId.lastIndexOf(".");
  if (dot <= 0) return err(`"${podId}" must be pod.namespace`);
  const podName = podId.slice(0, dot);
  const namespace = podId.slice(dot + 1);
  if (!isDNS1123Subdomain(podName)) return err(`pod name "${podName}" is not a valid Kubernetes name`);
  if (!isDNS1123Label(namespace)) return err(`namespace "${namespace}" is not a valid Kubernetes namespace name`);
  const want = `${namespace}.svc.`;
  if (!domain.startsWith(want) || domain.length === want.length) return err(`DNS domain "${domain}" must be "${namespace}.svc.<cluster domain>"`);
  return { type, ip, podName, namespace };
}

function defaultCluster(id: ParsedId, labels: Readonly<Record<string, string>>): string {
  const app = labels["app.kubernetes.io/name"] || labels["app"];
  return `${app || id.podName}.${id.namespace}`;
}

/** An Any in proto JSON form: the message's fields beside its "@type". */
function packAny<T extends object>(typeName: string, message: T): AnyJson {
  return { "@type": `type.googleapis.com/${typeName}`, ...message };
}

function socketAddress(hp: HostPort) {
  return { socketAddress: { address: hp.host, portValue: hp.port } };
}

const UPSTREAM_TLS = "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

function secureTransport(secure: SecureBootstrap, serverName: string): ClusterJson["transportSocket"] {
  const ctx: UpstreamTlsContextJson = {
    sni: serverName,
    commonTlsContext: {
      // gRPC over TLS needs HTTP/2 negotiated by ALPN.
      alpnProtocols: ["h2"],
      ...(secure.clientCertFile && secure.clientKeyFile
        ? { tlsCertificates: [{ certificateChain: { filename: secure.clientCertFile }, privateKey: { filename: secure.clientKeyFile } }] }
        : {}),
      validationContext: {
        trustedCa: { filename: secure.caCertFile },
        matchTypedSubjectAltNames: [{ sanType: "DNS", matcher: { exact: serverName } }],
      },
    },
  };
  return { name: "envoy.transport_sockets.tls", typedConfig: packAny(UPSTREAM_TLS, ctx) };
}

const FILE_BASED_METADATA = "envoy.config.grpc_credential.v3.FileBasedMetadataConfig";
const FILE_BASED_METADATA_PLUGIN = "envoy.grpc_credentials.file_based_metadata";

/** Envoy's FileBasedMetadataConfig (not among the generated roots), as proto JSON. */
interface FileBasedMetadataJson {
  secretData: { filename: string };
  headerKey: string;
  headerPrefix: string;
}

/**
 * ADS over Envoy's Google gRPC client: TLS to meshpilot checked against the mesh root and
 * `serverName`, and the token file read for each call as `authorization: Bearer`, as istio-agent
 * sends it.
 */
function tokenFileGrpcService(hp: HostPort, secure: SecureBootstrap & { tokenFile: string }, serverName: string): GrpcServiceJson {
  const host = hp.host.includes(":") ? `[${hp.host}]` : hp.host;
  return {
    googleGrpc: {
      targetUri: `${host}:${hp.port}`,
      statPrefix: XDS_CLUSTER_NAME,
      channelCredentials: { sslCredentials: { rootCerts: { filename: secure.caCertFile } } },
      // The default factory leaves plugin call credentials out.
      credentialsFactoryName: FILE_BASED_METADATA_PLUGIN,
      callCredentials: [
        {
          fromPlugin: {
            name: FILE_BASED_METADATA_PLUGIN,
            typedConfig: packAny<FileBasedMetadataJson>(FILE_BASED_METADATA, {
              secretData: { filename: secure.tokenFile },
              headerKey: "authorization",
              headerPrefix: "Bearer ",
            }),
          },
        },
      ],
      // The name checked in meshpilot's certificate (and sent as SNI) when the target is an address.
      channelArgs: { args: { "grpc.ssl_target_name_override": { stringValue: serverName }, "grpc.default_authority": { stringValue: serverName } } },
    },
  };
}

function xdsCluster(hp: HostPort, connectTimeout: string, tls?: ClusterJson["transportSocket"]): ClusterJson {
  return {
    ...(tls ? { transportSocket: tls } : {}),
    name: XDS_CLUSTER_NAME,
    type: hp.isIp ? "STATIC" : "STRICT_DNS",
    // A name like "localhost" may resolve to ::1 first while the server listens on IPv4 only.
    ...(hp.isIp ? {} : { dnsLookupFamily: "V4_PREFERRED" as const }),
    connectTimeout,
    loadAssignment: {
      clusterName: XDS_CLUSTER_NAME,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: socketAddress(hp) } }] }],
    },
    // gRPC needs HTTP/2 to the control plane; without this Envoy speaks HTTP/1.1 and never connects.
    typedExtensionProtocolOptions: {
      [HTTP_PROTOCOL_OPTIONS]: packAny<HttpProtocolOptionsJson>(HTTP_PROTOCOL_OPTIONS, {
        explicitHttpConfig: {
          http2ProtocolOptions: { connectionKeepalive: { interval: "30s", timeout: "5s" } },
        },
      }),
    },
    // One long-lived stream per proxy: the default circuit breakers must not cut it off.
    circuitBreakers: {
      thresholds: [{ priority: "DEFAULT", maxConnections: 100000, maxPendingRequests: 100000, maxRequests: 100000 }],
    },
    upstreamConnectionOptions: { tcpKeepalive: { keepaliveTime: 300 } },
  };
}

/** Builds the bootstrap, or says which options are wrong. */
export function buildBootstrap(opts: BootstrapOptions): BootstrapResult {
  const errors: BootstrapError[] = [];

  const nodeId = opts.nodeId ?? (opts.node ? buildNodeId(opts.node) : undefined);
  let id: ParsedId | undefined;
  if (nodeId === undefined) errors.push({ field: "nodeId", message: "a node id (or its parts) is required" });
  else id = checkNodeId(nodeId, errors);

  const xds = parseHostPort(opts.xdsAddress);
  if (typeof xds === "string") errors.push({ field: "xdsAddress", message: xds });
  const admin = parseHostPort(opts.adminAddress ?? DEFAULT_ADMIN);
  if (typeof admin === "string") errors.push({ field: "adminAddress", message: admin });
  else if (!admin.isIp) errors.push({ field: "adminAddress", message: `admin address must be an IP address, not "${admin.host}"` });

  const interception = opts.interception ?? "REDIRECT";
  if (!INTERCEPTION_MODES.includes(interception)) {
    errors.push({ field: "interception", message: `"${interception}" must be one of ${INTERCEPTION_MODES.join(", ")}` });
  }
  if (opts.namespace !== undefined && id && opts.namespace !== id.namespace) {
    errors.push({ field: "namespace", message: `namespace "${opts.namespace}" differs from "${id.namespace}" in the node id` });
  }
  const labels = opts.labels ?? {};
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== "string") errors.push({ field: "labels", message: `label "${k}" must have a string value` });
  }
  if (opts.cluster !== undefined && opts.cluster.trim() === "") errors.push({ field: "cluster", message: "must not be empty" });
  const connectTimeout = opts.connectTimeout ?? "1s";
  if (!DURATION.test(connectTimeout)) errors.push({ field: "connectTimeout", message: `"${connectTimeout}" must be a duration like "1s" or "0.25s"` });

  if (opts.healthPort !== undefined && !(Number.isInteger(opts.healthPort) && opts.healthPort > 0 && opts.healthPort < 65536))
    errors.push({ field: "healthPort", message: `${opts.healthPort} must be a port number (1-65535)` });
  const locality = parseLocality(opts.locality, errors);
  const serverName = checkSecure(opts.secure, xds, errors);

  const metadata: Record<string, string | Record<string, string>> = {};
  if (id) {
    metadata["NAMESPACE"] = id.namespace;
    metadata["NAME"] = id.podName;
    metadata["INSTANCE_IPS"] = id.ip;
  }
  metadata["INTERCEPTION_MODE"] = interception;
  metadata["CLUSTER_ID"] = opts.clusterId ?? "Kubernetes";
  metadata["LABELS"] = sortedRecord(labels);
  for (const [k, v] of Object.entries(opts.extraMetadata ?? {})) {
    if (RESERVED_METADATA.includes(k)) errors.push({ field: "extraMetadata", message: `key "${k}" is set by meshpilot and cannot be overridden` });
    else if (typeof v !== "string") errors.push({ field: "extraMetadata", message: `key "${k}" must have a string value` });
    else metadata[k] = v;
  }

  if (errors.length > 0 || !id || nodeId === undefined || typeof xds === "string" || typeof admin === "string") {
    return { errors };
  }

  const adsSource: ConfigSourceJson = { ads: {}, resourceApiVersion: "V3", initialFetchTimeout: "0s" };
  const tokenFile = opts.secure?.tokenFile;
  const viaTokenFile = tokenFile !== undefined && opts.secure ? { ...opts.secure, tokenFile } : undefined;
  const readiness = opts.healthPort !== undefined ? readinessResources(opts.healthPort, admin.port) : undefined;
  const bootstrap: BootstrapJson = {
    node: {
      id: nodeId,
      cluster: opts.cluster ?? defaultCluster(id, labels),
      ...(locality ? { locality } : {}),
      metadata: sortedRecord(metadata),
    },
    staticResources: {
      clusters: [
        ...(viaTokenFile ? [] : [xdsCluster(xds, connectTimeout, opts.secure && serverName ? secureTransport(opts.secure, serverName) : undefined)]),
        ...(readiness ? [readiness.cluster as ClusterJson] : []),
      ],
      ...(readiness ? { listeners: [readiness.listener as ListenerJson] } : {}),
    },
    dynamicResources: {
      adsConfig: {
        apiType: opts.sotw ? "GRPC" : "DELTA_GRPC",
        transportApiVersion: "V3",
        setNodeOnFirstMessageOnly: true,
        grpcServices: [
          viaTokenFile
            ? tokenFileGrpcService(xds, viaTokenFile, serverName!)
            : {
                envoyGrpc: { clusterName: XDS_CLUSTER_NAME },
                ...(opts.secure?.token ? { initialMetadata: [{ key: "authorization", value: `Bearer ${opts.secure.token}` }] } : {}),
              },
        ],
      },
      cdsConfig: { ...adsSource },
      ldsConfig: { ...adsSource },
    },
    admin: { address: socketAddress(admin) },
  };
  return { bootstrap };
}

/** The name to check in meshpilot's certificate, or undefined (with an error) when the secure options do not fit. */
function checkSecure(secure: SecureBootstrap | undefined, xds: HostPort | string, errors: BootstrapError[]): string | undefined {
  if (!secure) return undefined;
  if (secure.caCertFile === "") errors.push({ field: "caCertFile", message: "the mesh root file is required for a secure connection" });
  if (Boolean(secure.clientCertFile) !== Boolean(secure.clientKeyFile))
    errors.push({ field: "clientCert", message: "a client certificate needs both its chain and its key" });
  if (!secure.token && !secure.tokenFile && !secure.clientCertFile)
    errors.push({ field: "token", message: "a secure connection needs a ServiceAccount token or a client certificate" });
  if (secure.tokenFile !== undefined && (secure.token !== undefined || secure.clientCertFile !== undefined))
    errors.push({ field: "tokenFile", message: "a token file is used alone, without a token or a client certificate" });
  if (secure.tokenFile === "") errors.push({ field: "tokenFile", message: "must name a file" });
  if (secure.token !== undefined && !/^[\x21-\x7e]+$/.test(secure.token))
    errors.push({ field: "token", message: "the token must be one line of printable characters" });
  const name = secure.serverName ?? (typeof xds !== "string" && !xds.isIp ? xds.host : undefined);
  if (name === undefined)
    errors.push({
      field: "serverName",
      message: "an IP address as xDS address needs the name in meshpilot's certificate (e.g. meshpilot.meshpilot-system.svc)",
    });
  else if (!HOSTNAME.test(name)) errors.push({ field: "serverName", message: `"${name}" is not a DNS name` });
  return name;
}

/** `region/zone/subzone` → Envoy's Locality; a part may be empty only when the ones after it are too. */
function parseLocality(text: string | undefined, errors: BootstrapError[]): { region: string; zone?: string; subZone?: string } | undefined {
  if (text === undefined) return undefined;
  const parts = text.split("/");
  const bad = (message: string): undefined => {
    errors.push({ field: "locality", message: `"${text}": ${message}` });
    return undefined;
  };
  if (parts.length > 3) return bad("must be region, region/zone or region/zone/subzone");
  if (parts.some((p) => p === "" || /\s/.test(p))) return bad("region, zone and subzone must be non-empty and without spaces");
  const [region, zone, subZone] = parts as [string, string?, string?];
  return { region, ...(zone ? { zone } : {}), ...(subZone ? { subZone } : {}) };
}

function sortedRecord<V>(r: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] as V;
  return out;
}
