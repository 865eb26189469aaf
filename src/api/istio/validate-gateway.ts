/**
 * Istio Gateway validation, following Istio 1.30's webhook: the schema check (unknown fields,
 * JSON types, enums), then the semantic rules: at least one server; per server at least one
 * `[namespace/]host`, a port with a number, a name and a known protocol, a bind that is an IP or
 * a unix socket, TLS settings on HTTPS and TLS servers with the certificate material each mode
 * needs; unique server names and port names; TLS versions in order. Cipher suites Envoy does
 * not know are a warning (they are left out, as Istio leaves them out).
 */
import { checkMessage, isPlainObject, type FieldType, type MessageSchema } from "../istio-schema.js";
import type { Issues } from "../issues.js";
import { validateIstioLabels } from "../validate-common.js";
import { dns1123LabelError, wildcardDomainError } from "../validate-names.js";
import { isIP, portError } from "../validate-net.js";
import { GATEWAY_TLS_MODES, TLS_PROTOCOL_VERSIONS, type TlsProtocolVersion } from "./gateway-types.js";

const str: FieldType = { t: "string" };
const bool: FieldType = { t: "bool" };
const uint32: FieldType = { t: "uint32" };
const strings: FieldType = { t: "list", of: str };

const PortSchema: MessageSchema = {
  name: "Port",
  fields: { number: uint32, protocol: str, name: str, targetPort: uint32 },
  notImplemented: { targetPort: "deprecated in Istio" },
};
const TLSCertificateSchema: MessageSchema = {
  name: "ServerTLSSettings.TLSCertificate",
  fields: { serverCertificate: str, privateKey: str, caCertificates: str },
};
const ServerTLSSettingsSchema: MessageSchema = {
  name: "ServerTLSSettings",
  fields: {
    httpsRedirect: bool,
    mode: { t: "enum", values: GATEWAY_TLS_MODES },
    serverCertificate: str,
    privateKey: str,
    caCertificates: str,
    caCrl: str,
    credentialName: str,
    credentialNames: strings,
    tlsCertificates: { t: "list", of: { t: "message", of: () => TLSCertificateSchema } },
    subjectAltNames: strings,
    verifyCertificateSpki: strings,
    verifyCertificateHash: strings,
    minProtocolVersion: { t: "enum", values: TLS_PROTOCOL_VERSIONS },
    maxProtocolVersion: { t: "enum", values: TLS_PROTOCOL_VERSIONS },
    cipherSuites: strings,
  },
  notImplemented: {
    caCrl: "no certificate revocation list is configured",
    credentialNames: "use credentialName",
    tlsCertificates: "use credentialName or serverCertificate and privateKey",
    verifyCertificateSpki: "client certificates are not pinned",
    verifyCertificateHash: "client certificates are not pinned",
  },
};
const ServerSchema: MessageSchema = {
  name: "Server",
  fields: {
    port: { t: "message", of: () => PortSchema },
    bind: str,
    hosts: strings,
    tls: { t: "message", of: () => ServerTLSSettingsSchema },
    defaultEndpoint: str,
    name: str,
  },
  notImplemented: { defaultEndpoint: "it applies to sidecar ingress only" },
};
const GatewaySchema: MessageSchema = {
  name: "Gateway",
  fields: { selector: { t: "map", of: str }, servers: { t: "list", of: { t: "message", of: () => ServerSchema } } },
};

/** Gateway server protocols Istio accepts (its protocol.Parse, case-insensitive). */
const GATEWAY_PROTOCOLS = ["HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "REDIS", "MYSQL", "TCP", "TLS"];

/** The canonical (upper-case) protocol of a gateway server port, or undefined when Istio does not know it. */
export function gatewayProtocol(p: string): string | undefined {
  const up = p.toUpperCase();
  return GATEWAY_PROTOCOLS.includes(up) ? up : undefined;
}

/**
 * The TLS 1.0–1.2 cipher suites Envoy (BoringSSL) accepts by name, as Istio's list of valid
 * cipher suites has them. TLS 1.3 suites are not configurable in Envoy.
 */
export const GATEWAY_CIPHER_SUITES: readonly string[] = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-PSK-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-SHA",
  "ECDHE-RSA-AES128-SHA",
  "ECDHE-PSK-AES128-CBC-SHA",
  "ECDHE-ECDSA-AES256-SHA",
  "ECDHE-RSA-AES256-SHA",
  "ECDHE-PSK-AES256-CBC-SHA",
  "AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-SHA",
  "PSK-AES128-CBC-SHA",
  "AES256-SHA",
  "PSK-AES256-CBC-SHA",
  "DES-CBC3-SHA",
];

/** Whether Envoy accepts `suite` (a name, or an equal-preference group `[A|B]` of names). */
export function isValidCipherSuite(suite: string): boolean {
  const names = suite.startsWith("[") && suite.endsWith("]") ? suite.slice(1, -1).split("|") : [suite];
  return names.length > 0 && names.every((n) => GATEWAY_CIPHER_SUITES.includes(n));
}

/** TLS versions in order; TLS_AUTO is not comparable (Envoy's default applies). */
export function tlsVersionRank(v: TlsProtocolVersion | undefined): number | undefined {
  return v === undefined || v === "TLS_AUTO" ? undefined : TLS_PROTOCOL_VERSIONS.indexOf(v);
}

type Rec = Record<string, unknown>;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string => (typeof v === "string" ? v : "");

export function validateGatewaySpec(spec: unknown, _namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) {
    si.error("gateway must have at least one server");
    return;
  }
  checkMessage(spec, GatewaySchema, si);
  if (!isPlainObject(spec)) return;
  validateIstioLabels(spec["selector"], si.at("selector"));
  const servers = arr(spec["servers"]);
  if (servers.length === 0) si.at("servers").error("gateway must have at least one server");
  const serverNames = new Set<string>();
  const portNames = new Set<string>();
  servers.forEach((s, i) => {
    if (!isPlainObject(s)) return;
    const at = si.at("servers", i);
    validateServer(s, at);
    const name = text(s["name"]);
    if (name) {
      if (serverNames.has(name)) at.at("name").error(`server names must be unique: duplicate name "${name}"`);
      serverNames.add(name);
    }
    const port = s["port"];
    const portName = isPlainObject(port) ? text(port["name"]) : "";
    if (portName) {
      if (portNames.has(portName)) at.at("port", "name").error(`port names in servers must be unique: duplicate name "${portName}"`);
      portNames.add(portName);
    }
  });
}

function validateServer(s: Rec, at: Issues): void {
  const hosts = arr(s["hosts"]);
  if (hosts.length === 0) at.at("hosts").error("server config must contain at least one host");
  hosts.forEach((h, i) => {
    if (typeof h !== "string") return;
    const e = namespacedHostError(h);
    if (e) at.at("hosts", i).error(e);
  });
  const port = s["port"];
  let protocol: string | undefined;
  if (!isPlainObject(port)) at.at("port").error("port is required");
  else {
    const pa = at.at("port");
    if (port["number"] === undefined || port["number"] === null) pa.at("number").error("port number is required");
    else if (typeof port["number"] === "number") {
      const e = portError(port["number"]);
      if (e) pa.at("number").error(e);
    }
    if (!text(port["name"])) pa.at("name").error("port name must be set");
    if (typeof port["protocol"] === "string") {
      protocol = gatewayProtocol(port["protocol"]);
      if (!protocol) pa.at("protocol").error(`invalid protocol "${port["protocol"]}", supported protocols are ${GATEWAY_PROTOCOLS.join(", ")}`);
    } else if (port["protocol"] === undefined) pa.at("protocol").error(`port protocol is required (one of ${GATEWAY_PROTOCOLS.join(", ")})`);
  }
  const bind = s["bind"];
  if (typeof bind === "string" && bind !== "" && !isIP(bind) && !bind.startsWith("unix://"))
    at.at("bind").error(`bind "${bind}" must be an IP address or a unix domain socket (unix://…)`);
  const tls = s["tls"];
  const isTls = protocol === "HTTPS" || protocol === "TLS";
  if (isTls && !isPlainObject(tls)) at.at("tls").error(`server must have TLS settings for ${protocol} protocol`);
  if (isPlainObject(tls)) validateServerTls(tls, protocol, at.at("tls"));
}

/** `[namespace/]host`: namespace `*`, `.` or a DNS label; host `*` or a (wildcard) domain. */
export function namespacedHostError(h: string): string | undefined {
  const slash = h.indexOf("/");
  const ns = slash < 0 ? undefined : h.slice(0, slash);
  const host = slash < 0 ? h : h.slice(slash + 1);
  if (ns !== undefined) {
    if (ns === "") return `invalid host "${h}": the namespace before "/" is empty`;
    if (ns !== "*" && ns !== ".") {
      const e = dns1123LabelError(ns);
      if (e) return `invalid namespace "${ns}" in host "${h}": ${e}`;
    }
  }
  if (host === "*") return undefined;
  const e = wildcardDomainError(host);
  return e ? `invalid host "${h}": ${e}` : undefined;
}

function validateServerTls(tls: Rec, protocol: string | undefined, at: Issues): void {
  const mode = typeof tls["mode"] === "string" ? tls["mode"] : "PASSTHROUGH";
  const isTls = protocol === "HTTPS" || protocol === "TLS";
  const redirect = tls["httpsRedirect"] === true;
  if (!isTls) {
    if (redirect && protocol !== undefined && protocol !== "HTTP") at.at("httpsRedirect").warning("tls.httpsRedirect should only be used with HTTP servers");
    const rest = Object.keys(tls).filter((k) => k !== "httpsRedirect");
    if (rest.length && protocol !== undefined) at.warning(`TLS settings (${rest.join(", ")}) are ignored on a ${protocol} server; only httpsRedirect applies`);
    return;
  }
  const cred = text(tls["credentialName"]);
  const has = (k: string): boolean => text(tls[k]) !== "";
  if (mode === "ISTIO_MUTUAL") {
    const set = ["credentialName", "serverCertificate", "privateKey", "caCertificates"].filter(has);
    if (set.length) at.error(`ISTIO_MUTUAL TLS cannot have associated ${set.join(", ")}`);
  } else if (mode === "SIMPLE" || mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL") {
    if (!cred) {
      if (!has("serverCertificate")) at.at("serverCertificate").error(`${mode} TLS requires a server certificate (serverCertificate or credentialName)`);
      if (!has("privateKey")) at.at("privateKey").error(`${mode} TLS requires a private key (privateKey or credentialName)`);
      if (mode !== "SIMPLE" && !has("caCertificates"))
        at.at("caCertificates").error(`${mode} TLS requires a client CA bundle (caCertificates or credentialName)`);
    }
    if (mode === "SIMPLE" && has("caCertificates")) at.at("caCertificates").warning("caCertificates is ignored in SIMPLE mode (clients are not verified)");
  } else if (mode === "AUTO_PASSTHROUGH" && protocol !== "TLS") at.at("mode").error(`AUTO_PASSTHROUGH requires protocol TLS, not ${protocol}`);
  arr(tls["cipherSuites"]).forEach((c, i) => {
    if (typeof c === "string" && !isValidCipherSuite(c)) at.at("cipherSuites", i).warning(`cipher suite "${c}" is not supported by Envoy and is ignored`);
  });
  const min = tlsVersionRank(tls["minProtocolVersion"] as TlsProtocolVersion | undefined);
  const max = tlsVersionRank(tls["maxProtocolVersion"] as TlsProtocolVersion | undefined);
  if (min !== undefined && max !== undefined && min > max)
    at.error(`minimum TLS version ${String(tls["minProtocolVersion"])} is higher than the maximum ${String(tls["maxProtocolVersion"])}`);
}
