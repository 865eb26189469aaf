/**
 * ServiceEntry and WorkloadEntry validation, following Istio 1.30's webhook: the schema check
 * (unknown fields, JSON types, enums), then the semantic rules (hosts, addresses and CIDRs per
 * resolution, unique port names and numbers, endpoint addresses per resolution, endpoint ports
 * naming a declared port, workloadSelector xor endpoints, exportTo).
 */
import { checkMessage, isPlainObject, type FieldType, type MessageSchema } from "../istio-schema.js";
import type { Issues } from "../issues.js";
import { validateExportTo, validateIstioLabels } from "../validate-common.js";
import { dns1123LabelError, fqdnError, wildcardDomainError } from "../validate-names.js";
import { isCIDR, isIP, portError } from "../validate-net.js";
import { SE_LOCATIONS, SE_RESOLUTIONS } from "./service-entry-types.js";

const str: FieldType = { t: "string" };
const uint32: FieldType = { t: "uint32" };

const WorkloadEntrySchema: MessageSchema = {
  name: "WorkloadEntry",
  fields: { address: str, ports: { t: "map", of: uint32 }, labels: { t: "map", of: str }, network: str, locality: str, weight: uint32, serviceAccount: str },
};
const ServicePortSchema: MessageSchema = { name: "ServicePort", fields: { number: uint32, protocol: str, name: str, targetPort: uint32 } };
const ServiceEntrySchema: MessageSchema = {
  name: "ServiceEntry",
  fields: {
    hosts: { t: "list", of: str },
    addresses: { t: "list", of: str },
    ports: { t: "list", of: { t: "message", of: () => ServicePortSchema } },
    location: { t: "enum", values: SE_LOCATIONS },
    resolution: { t: "enum", values: SE_RESOLUTIONS },
    endpoints: { t: "list", of: { t: "message", of: () => WorkloadEntrySchema } },
    workloadSelector: { t: "message", of: () => ({ name: "WorkloadSelector", fields: { labels: { t: "map", of: str } } }) },
    exportTo: { t: "list", of: str },
    subjectAltNames: { t: "list", of: str },
  },
};

/** Istio's protocol names (matched case-insensitively, as its protocol.Parse does). */
const ISTIO_PROTOCOLS = ["TCP", "UDP", "GRPC", "GRPC-Web", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TLS", "Mongo", "Redis", "MySQL"];
const KNOWN_PROTOCOL = new Map(ISTIO_PROTOCOLS.map((p) => [p.toLowerCase(), p]));
const UNIX_PREFIX = "unix://";

/** The canonical protocol name, or undefined when Istio does not know it. */
export function istioProtocol(p: string): string | undefined {
  return KNOWN_PROTOCOL.get(p.toLowerCase());
}

const isHttp = (p: string | undefined): boolean => ["HTTP", "HTTP2", "GRPC", "GRPC-Web", "HTTP_PROXY"].includes(p ?? "");
const isTls = (p: string | undefined): boolean => p === "HTTPS" || p === "TLS";
const isTcpLike = (p: string | undefined): boolean => !isHttp(p) && p !== "UDP";

type Rec = Record<string, unknown>;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strings = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === "string");

export function validateServiceEntrySpec(spec: unknown, namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) {
    si.error("spec is required (at least spec.hosts)");
    return;
  }
  checkMessage(spec, ServiceEntrySchema, si);
  if (!isPlainObject(spec)) return;
  const resolution = typeof spec["resolution"] === "string" ? spec["resolution"] : "NONE";
  const hosts = strings(spec["hosts"]);
  const endpoints = arr(spec["endpoints"]);
  const selector = spec["workloadSelector"];

  if (isPlainObject(selector) && spec["endpoints"] !== undefined && spec["endpoints"] !== null)
    si.error("only one of workloadSelector or endpoints may be set");
  validateSelector(selector, si.at("workloadSelector"));

  if (hosts.length === 0 && !arr(spec["hosts"]).some((h) => typeof h !== "string")) si.at("hosts").error("a ServiceEntry must have at least one host");
  arr(spec["hosts"]).forEach((h, i) => {
    if (typeof h !== "string") return;
    if (h === "*") si.at("hosts", i).error(`invalid host "*": a ServiceEntry cannot capture every host`);
    else {
      const e = wildcardDomainError(h);
      if (e) si.at("hosts", i).error(e);
    }
  });

  let cidr = false;
  arr(spec["addresses"]).forEach((a, i) => {
    if (typeof a !== "string") return;
    if (a.includes("/")) {
      cidr = true;
      if (!isCIDR(a)) si.at("addresses", i).error(`"${a}" is not a valid CIDR block`);
    } else if (!isIP(a)) si.at("addresses", i).error(`"${a}" is not a valid IP address or CIDR block`);
  });
  if (cidr && resolution !== "NONE" && resolution !== "STATIC")
    si.at("addresses").error(`CIDR addresses are allowed only with resolution NONE or STATIC, not ${resolution}`);

  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  const protocols: (string | undefined)[] = [];
  arr(spec["ports"]).forEach((p, i) => {
    if (!isPlainObject(p)) return;
    const at = si.at("ports", i);
    const name = p["name"];
    const number = p["number"];
    const protocol = typeof p["protocol"] === "string" ? p["protocol"] : undefined;
    if (typeof name !== "string" || name === "") at.at("name").error("port name is required");
    else {
      const e = dns1123LabelError(name);
      if (e) at.at("name").error(`invalid port name "${name}": ${e}`);
      if (portNames.has(name)) at.at("name").error(`port name "${name}" is already defined`);
      portNames.add(name);
    }
    if (number === undefined || number === null) at.at("number").error("port number is required");
    else if (typeof number === "number") {
      const e = portError(number);
      if (e) at.at("number").error(e);
      if (portNumbers.has(number)) at.at("number").error(`port ${number} is already defined`);
      portNumbers.add(number);
    }
    if (typeof p["targetPort"] === "number" && p["targetPort"] !== 0) {
      const e = portError(p["targetPort"]);
      if (e) at.at("targetPort").error(e);
    }
    const canonical = protocol === undefined || protocol === "" ? undefined : istioProtocol(protocol);
    if (protocol && !canonical) at.at("protocol").error(`unrecognized protocol "${protocol}"; one of ${ISTIO_PROTOCOLS.join(", ")}`);
    protocols.push(canonical);
    if (arr(spec["addresses"]).length === 0 && (canonical === undefined || canonical === "TCP"))
      at.warning("addresses are required for ports serving TCP (or unset) protocol when ISTIO_META_DNS_AUTO_ALLOCATE is not set on a proxy");
  });

  switch (resolution) {
    case "NONE":
      if (endpoints.length) si.at("endpoints").error("no endpoints may be given with resolution NONE");
      if (isPlainObject(selector)) si.at("workloadSelector").warning("workloadSelector should not be set with resolution NONE");
      break;
    case "STATIC":
      endpoints.forEach((ep, i) => validateEndpoint(ep, "STATIC", portNames, si.at("endpoints", i)));
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      if (endpoints.length === 0) {
        hosts.forEach((h, i) => {
          if (h !== "*" && fqdnError(h)) si.at("hosts", i).error(`hosts must be FQDNs (no wildcard) when no endpoints are given with resolution ${resolution}`);
        });
      }
      if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1)
        si.at("endpoints").error(`there must be 0 or 1 endpoint with resolution DNS_ROUND_ROBIN, found ${endpoints.length}`);
      endpoints.forEach((ep, i) => validateEndpoint(ep, "DNS", portNames, si.at("endpoints", i)));
      if (arr(spec["addresses"]).length > 0 && hosts.length > 1 && protocols.some(isTcpLike))
        si.warning("a ServiceEntry should not have more than one host together with addresses and a TCP port");
      break;
  }
  // Plain TCP carries no host name, so several hosts cannot be told apart (NONE ignores hosts).
  if (resolution !== "NONE" && hosts.length > 1 && protocols.some((p) => !isHttp(p) && !isTls(p)))
    si.at("ports").error(`multiple hosts need HTTP or TLS ports (a TCP port cannot tell the hosts apart) unless resolution is NONE`);

  arr(spec["subjectAltNames"]).forEach((s, i) => {
    if (s === "") si.at("subjectAltNames", i).error("subjectAltNames entries may not be empty");
  });
  validateExportTo(spec["exportTo"], namespace, si.at("exportTo"), { allowNone: true });
}

/** An endpoint of a ServiceEntry (an inline WorkloadEntry) under its resolution. */
function validateEndpoint(ep: unknown, mode: "STATIC" | "DNS", portNames: ReadonlySet<string>, at: Issues): void {
  if (!isPlainObject(ep)) return;
  const address = ep["address"];
  if (typeof address === "string") {
    if (address.startsWith(UNIX_PREFIX)) {
      if (mode === "DNS") at.at("address").error(`endpoint address "${address}" is not a valid FQDN or an IP address`);
      else unixAddress(address, ep, at);
    } else if (!isIP(address) && (mode === "STATIC" || fqdnError(address))) {
      at.at("address").error(
        mode === "STATIC" ? `endpoint address "${address}" is not a valid IP address` : `endpoint address "${address}" is not a valid FQDN or an IP address`,
      );
    }
  } else if (address === undefined || address === null || address === "") at.at("address").error("endpoint address is required");
  endpointCommon(ep, at, portNames);
}

function unixAddress(address: string, ep: Rec, at: Issues): void {
  const path = address.slice(UNIX_PREFIX.length);
  if (path === "" || (!path.startsWith("/") && !path.startsWith("@")))
    at.at("address").error(`unix address "${address}" must name an absolute path or an abstract socket (@name)`);
  if (isPlainObject(ep["ports"]) && Object.keys(ep["ports"]).length) at.at("ports").error(`unix endpoint ${address} must not include ports`);
}

function endpointCommon(ep: Rec, at: Issues, portNames?: ReadonlySet<string>): void {
  validateIstioLabels(ep["labels"], at.at("labels"));
  const ports = ep["ports"];
  if (isPlainObject(ports)) {
    for (const [name, port] of Object.entries(ports)) {
      const pa = at.at("ports", name);
      if (portNames && !portNames.has(name))
        pa.error(`endpoint port "${name}" is not defined by the ServiceEntry (its ports: ${[...portNames].join(", ") || "none"})`);
      const ne = dns1123LabelError(name);
      if (ne) pa.error(`invalid port name "${name}": ${ne}`);
      if (typeof port === "number") {
        const e = portError(port);
        if (e) pa.error(e);
      }
    }
  }
  const network = ep["network"];
  if (typeof network === "string" && network !== "" && dns1123LabelError(network)) at.at("network").error(`invalid network "${network}": must be a DNS label`);
  const locality = ep["locality"];
  if (typeof locality === "string" && locality.split("/").length > 3) at.at("locality").error(`locality "${locality}" has more than region/zone/subzone`);
}

function validateSelector(ws: unknown, at: Issues): void {
  if (!isPlainObject(ws)) return;
  const labels = ws["labels"];
  if (isPlainObject(labels)) {
    for (const [k, v] of Object.entries(labels)) {
      if (k === "") at.at("labels", k).error("empty key is not supported in selector");
      if (k.includes("*") || (typeof v === "string" && v.includes("*"))) at.at("labels", k).error(`wildcard is not supported in selector: "${k}=${String(v)}"`);
    }
    validateIstioLabels(labels, at.at("labels"));
  }
  if (!isPlainObject(labels) || Object.keys(labels).length === 0)
    at.warning("workload selector specified without labels (it selects every workload of the namespace)");
}

export function validateWorkloadEntrySpec(spec: unknown, _namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) {
    si.error("spec is required (at least spec.address)");
    return;
  }
  checkMessage(spec, WorkloadEntrySchema, si);
  if (!isPlainObject(spec)) return;
  const address = spec["address"];
  if (address === undefined || address === null || address === "") si.at("address").error("address is required");
  else if (typeof address === "string") {
    if (address.startsWith(UNIX_PREFIX)) unixAddress(address, spec, si);
    else if (!isIP(address) && fqdnError(address)) si.at("address").error(`address "${address}" is not a valid FQDN or an IP address`);
  }
  endpointCommon(spec, si);
}
