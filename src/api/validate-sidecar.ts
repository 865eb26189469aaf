/**
 * Sidecar validation, following Istio 1.30's webhook after the schema check: the workload
 * selector, egress listeners (hosts `namespace/dnsName`, one catch-all listener last, unique
 * ports and sockets), ingress listeners (port, bind, defaultEndpoint, tls), the outbound traffic
 * policy and connection pools.
 */
import { checkMessage, isPlainObject, SidecarSpecSchema } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import { validateConnectionPool } from "./validate-destinationrule.js";
import { validateIstioLabels } from "./validate-common.js";
import { isIP } from "./validate-net.js";
import { describe, dns1123LabelError, fqdnError, wildcardDomainError } from "./validate-names.js";

type Rec = Record<string, unknown>;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

export const UNIX_PREFIX = "unix://";
/** The protocols Istio accepts on a Sidecar port (case-insensitive). */
const PROTOCOLS = ["HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "MYSQL", "REDIS", "TCP", "TLS", "UDP"];
const TLS_PROTOCOLS = ["HTTPS", "TLS"];

export function validateSidecarSpec(spec: unknown, _namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (!isPlainObject(spec)) {
    if (spec === undefined || spec === null)
      si.error("empty configuration provided: a Sidecar needs egress, ingress, outboundTrafficPolicy or inboundConnectionPool");
    else si.error(`spec must be a map, got ${describe(spec)}`);
    return;
  }
  checkMessage(spec, SidecarSpecSchema, si);
  if (
    !["egress", "ingress", "outboundTrafficPolicy", "inboundConnectionPool"].some(
      (f) => isSet(spec[f]) && !(Array.isArray(spec[f]) && (spec[f] as unknown[]).length === 0),
    )
  )
    si.error("empty configuration provided: a Sidecar needs egress, ingress, outboundTrafficPolicy or inboundConnectionPool");
  validateWorkloadSelector(spec["workloadSelector"], si.at("workloadSelector"));
  validateEgress(arr(spec["egress"]), si.at("egress"));
  validateIngress(arr(spec["ingress"]), si.at("ingress"));
  validateOutboundTrafficPolicy(spec["outboundTrafficPolicy"], si.at("outboundTrafficPolicy"));
  validateConnectionPool(spec["inboundConnectionPool"], si.at("inboundConnectionPool"));
}

function validateWorkloadSelector(ws: unknown, issues: Issues): void {
  if (!isPlainObject(ws)) return;
  const labels = ws["labels"];
  if (!isPlainObject(labels) || Object.keys(labels).length === 0) {
    issues.warning("workload selector specified without labels: the Sidecar applies to every workload of its namespace");
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    const at = issues.at("labels", k);
    if (k === "") at.error("empty key is not supported in selector");
    if (k.includes("*") || (typeof v === "string" && v.includes("*"))) at.error(`wildcard is not supported in selector: "${k}=${String(v)}"`);
  }
  validateIstioLabels(labels, issues.at("labels"));
}

/** An egress host `namespace/dnsName`: namespace `*`, `.`, `~` or a namespace name; dnsName `*` or a (wildcard) host. */
export function egressHostError(host: string): string | undefined {
  const slash = host.indexOf("/");
  if (slash < 0) return `host "${host}" must be of the form namespace/dnsName (e.g. "./*", "istio-system/*", "*/example.com")`;
  const ns = host.slice(0, slash);
  const name = host.slice(slash + 1);
  if (ns === "" || name === "") return `host "${host}": the namespace and the dnsName must not be empty`;
  if (ns !== "*" && ns !== "." && ns !== "~") {
    const e = dns1123LabelError(ns);
    if (e) return `host "${host}": invalid namespace "${ns}" (must be "*", ".", "~" or a namespace name): ${e}`;
  }
  if (name === "*") return undefined;
  const e = wildcardDomainError(name);
  return e ? `host "${host}": ${e}` : undefined;
}

function validateEgress(egress: unknown[], issues: Issues): void {
  let catchAll = false;
  const ports = new Map<number, number>();
  const sockets = new Map<string, number>();
  egress.forEach((l, i) => {
    if (!isPlainObject(l)) return;
    const at = issues.at(i);
    const port = l["port"];
    const bind = typeof l["bind"] === "string" ? l["bind"] : "";
    if (isPlainObject(port)) {
      validateEgressPort(port, bind, l["captureMode"], at);
      const n = port["number"];
      if (bind.startsWith(UNIX_PREFIX)) {
        const first = sockets.get(bind);
        if (first !== undefined) at.at("bind").error(`unix domain socket "${bind}" is also used by egress[${first}]; each listener needs its own`);
        else sockets.set(bind, i);
      } else if (typeof n === "number") {
        const first = ports.get(n);
        if (first !== undefined) at.at("port", "number").error(`port ${n} is also used by egress[${first}]; ports of IP-bound listeners must be unique`);
        else ports.set(n, i);
      }
    } else if (catchAll) {
      at.error("only one egress listener may have no port (the catch-all)");
    } else {
      catchAll = true;
      if (i !== egress.length - 1) at.error("the egress listener without a port (the catch-all) must be the last in the list");
    }
    const hosts = arr(l["hosts"]);
    if (hosts.length === 0) at.at("hosts").error("an egress listener must list at least one host");
    validateEgressHosts(hosts, at.at("hosts"));
  });
}

function validateEgressHosts(hosts: unknown[], issues: Issues): void {
  const byNamespace = new Map<string, Set<string>>();
  hosts.forEach((h, j) => {
    if (typeof h !== "string") return;
    const at = issues.at(j);
    const e = egressHostError(h);
    if (e) {
      at.error(e);
      return;
    }
    const slash = h.indexOf("/");
    const ns = h.slice(0, slash);
    const name = h.slice(slash + 1);
    let names = byNamespace.get(ns);
    if (!names) byNamespace.set(ns, (names = new Set()));
    if (names.has(name) || names.has("*") || (name === "*" && names.size > 0))
      at.warning(`duplicated egress host "${h}": an earlier host of namespace "${ns}" already imports it`);
    names.add(name);
  });
}

function validatePortCommon(port: Rec, issues: Issues): void {
  const name = port["name"];
  if (typeof name === "string" && name !== "") {
    const e = dns1123LabelError(name);
    if (e) issues.at("name").error(`invalid port name: ${e}`);
  }
  const protocol = port["protocol"];
  if (typeof protocol !== "string" || !PROTOCOLS.includes(protocol.toUpperCase()))
    issues.at("protocol").error(`${JSON.stringify(protocol ?? "")} is not a valid protocol (one of ${PROTOCOLS.join(", ")})`);
}

function validatePortNumber(port: Rec, issues: Issues): void {
  const n = port["number"];
  if (typeof n !== "number" || n < 1 || n > 65535) issues.at("number").error(`port number ${String(n ?? 0)} must be in the range 1..65535`);
}

function validateEgressPort(port: Rec, bind: string, captureMode: unknown, issues: Issues): void {
  const pi = issues.at("port");
  validatePortCommon(port, pi);
  if (bind.startsWith(UNIX_PREFIX)) {
    const path = bind.slice(UNIX_PREFIX.length);
    if (path === "" || (!path.startsWith("/") && !path.startsWith("@")))
      issues.at("bind").error(`unix domain socket "${bind}" must be an absolute path (unix:///path) or abstract (unix://@name)`);
    const n = port["number"];
    if (typeof n === "number" && n !== 0) pi.at("number").error("the port of a listener bound to a unix domain socket must be 0");
    if (captureMode !== undefined && captureMode !== "DEFAULT" && captureMode !== "NONE")
      issues.at("captureMode").error("captureMode must be DEFAULT or NONE for a unix domain socket listener");
    return;
  }
  validatePortNumber(port, pi);
  if (bind !== "" && !isIP(bind)) issues.at("bind").error(`bind "${bind}" must be an IP address or unix://<path>`);
}

function validateIngress(ingress: unknown[], issues: Issues): void {
  const ports = new Map<number, number>();
  ingress.forEach((l, i) => {
    if (!isPlainObject(l)) return;
    const at = issues.at(i);
    const port = l["port"];
    if (!isPlainObject(port)) {
      at.at("port").error("port is required for ingress listeners");
      return;
    }
    validatePortCommon(port, at.at("port"));
    validatePortNumber(port, at.at("port"));
    const bind = l["bind"];
    if (typeof bind === "string" && bind !== "" && !isIP(bind)) at.at("bind").error(`bind "${bind}" must be an IP address`);
    const n = port["number"];
    if (typeof n === "number") {
      const first = ports.get(n);
      if (first !== undefined) at.at("port", "number").error(`port ${n} is also used by ingress[${first}]; ingress ports must be unique`);
      else ports.set(n, i);
    }
    const de = l["defaultEndpoint"];
    if (typeof de === "string" && de !== "") {
      const e = defaultEndpointError(de);
      if (e) at.at("defaultEndpoint").error(e);
    }
    validateIngressTls(l["tls"], typeof port["protocol"] === "string" ? port["protocol"] : "", at.at("tls"));
    validateConnectionPool(l["connectionPool"], at.at("connectionPool"));
  });
}

const ENDPOINT_HOSTS = ["127.0.0.1", "0.0.0.0", "::1", "::", ""];

/** `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>`, `:<port>` or `unix://<path>`. */
export function defaultEndpointError(de: string): string | undefined {
  if (de.startsWith(UNIX_PREFIX)) {
    const path = de.slice(UNIX_PREFIX.length);
    return path.startsWith("/") || path.startsWith("@")
      ? undefined
      : `defaultEndpoint "${de}": a unix domain socket must be an absolute path or abstract (@name)`;
  }
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(de);
  const form = "must be of the form 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port>, unix://<path>, or unset";
  if (!m) return `defaultEndpoint "${de}" ${form}`;
  const host = m[1] ?? m[2] ?? "";
  if (!ENDPOINT_HOSTS.includes(host)) return `defaultEndpoint "${de}" ${form}`;
  const p = m[3] ?? "";
  if (!/^[0-9]+$/.test(p)) return `defaultEndpoint "${de}": port "${p}" is not a number`;
  const n = Number(p);
  return n >= 1 && n <= 65535 ? undefined : `defaultEndpoint "${de}": port ${n} must be in the range 1..65535`;
}

function validateIngressTls(tls: unknown, protocol: string, issues: Issues): void {
  if (!isPlainObject(tls)) return;
  if (arr(tls["subjectAltNames"]).length > 0) issues.at("subjectAltNames").error("subjectAltNames is not supported in Sidecar ingress tls");
  if (tls["httpsRedirect"] === true) issues.at("httpsRedirect").error("httpsRedirect is not supported in Sidecar ingress tls");
  if (typeof tls["credentialName"] === "string" && tls["credentialName"] !== "")
    issues.at("credentialName").error("credentialName is not supported in Sidecar ingress tls");
  const mode = tls["mode"];
  if (mode === "ISTIO_MUTUAL" || mode === "AUTO_PASSTHROUGH") issues.at("mode").error(`mode ${mode} cannot be used in Sidecar ingress tls`);
  if (!TLS_PROTOCOLS.includes(protocol.toUpperCase())) issues.error(`TLS settings need an HTTPS or TLS port, not ${JSON.stringify(protocol)}`);
  if (
    (mode === "SIMPLE" || mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL") &&
    !(typeof tls["serverCertificate"] === "string" && typeof tls["privateKey"] === "string")
  )
    issues.error(`mode ${mode} needs serverCertificate and privateKey`);
  if ((mode === "MUTUAL" || mode === "OPTIONAL_MUTUAL") && typeof tls["caCertificates"] !== "string")
    issues.at("caCertificates").error(`mode ${mode} needs caCertificates`);
}

function validateOutboundTrafficPolicy(otp: unknown, issues: Issues): void {
  if (!isPlainObject(otp)) return;
  const proxy = otp["egressProxy"];
  if (!isPlainObject(proxy)) return;
  // The mode's protobuf default is REGISTRY_ONLY: an egressProxy needs ALLOW_ANY written out.
  if (otp["mode"] !== "ALLOW_ANY") issues.at("egressProxy").error("egressProxy may be set only with mode ALLOW_ANY");
  const host = proxy["host"];
  if (typeof host !== "string" || host === "") issues.at("egressProxy", "host").error("egressProxy needs a host");
  else {
    const e = fqdnError(host);
    if (e) issues.at("egressProxy", "host").error(e);
  }
  const sub = proxy["subset"];
  if (typeof sub === "string" && sub !== "") {
    const e = dns1123LabelError(sub);
    if (e) issues.at("egressProxy", "subset").error(`invalid subset name: ${e}`);
  }
  const port = proxy["port"];
  const n = isPlainObject(port) ? port["number"] : undefined;
  if (typeof n !== "number" || n < 1 || n > 65535) issues.at("egressProxy", "port", "number").error("egressProxy needs a port number in the range 1..65535");
}
