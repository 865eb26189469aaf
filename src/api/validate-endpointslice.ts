/** discovery.k8s.io/v1 EndpointSlice: the fields meshpilot reads, checked as the Kubernetes API server checks them. */
import { isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import { SERVICE_NAME_LABEL, type Endpoint, type EndpointPort, type EndpointSlice, type ObjectMeta } from "./kube-types.js";
import { optBool, optEnum, optInt, optList, optMap, optString, PROTOCOLS } from "./validate-common.js";
import { isIPv4, isIPv6, portError } from "./validate-net.js";
import { describe, dns1123LabelError, dns1123SubdomainError, qualifiedNameError } from "./validate-names.js";

const ADDRESS_TYPES = ["IPv4", "IPv6", "FQDN"] as const;
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 20000;

export function validateEndpointSlice(raw: Record<string, unknown>, metadata: ObjectMeta, issues: Issues): EndpointSlice {
  const svc = metadata.labels?.[SERVICE_NAME_LABEL];
  if (svc === undefined || svc === "")
    issues.at("metadata", "labels").error(`label "${SERVICE_NAME_LABEL}" is required: it names the Service this slice belongs to`);

  const addressType = optEnum(raw, "addressType", ADDRESS_TYPES, issues);
  if (raw["addressType"] === undefined || raw["addressType"] === null) issues.at("addressType").error("addressType is required (IPv4, IPv6 or FQDN)");

  const out: Record<string, unknown> = { apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata, addressType: addressType ?? "IPv4" };

  const endpoints = optList(raw, "endpoints", issues);
  if (endpoints) {
    if (endpoints.length > MAX_ENDPOINTS) issues.at("endpoints").error(`must have at most ${MAX_ENDPOINTS} endpoints`);
    const outEps: Endpoint[] = [];
    endpoints.forEach((ep, i) => {
      const ei = issues.at("endpoints", i);
      if (!isPlainObject(ep)) {
        ei.error(`expected a map, got ${describe(ep)}`);
        return;
      }
      const o: Record<string, unknown> = {};
      const addrs = optList(ep, "addresses", ei);
      const outAddrs: string[] = [];
      if (!addrs || addrs.length === 0) ei.at("addresses").error("at least one address is required");
      else {
        if (addrs.length > MAX_ADDRESSES) ei.at("addresses").error(`must have at most ${MAX_ADDRESSES} addresses`);
        addrs.forEach((a, j) => {
          const ai = ei.at("addresses", j);
          if (typeof a !== "string") ai.error(`expected a string, got ${describe(a)}`);
          else {
            const e = addressError(a, addressType);
            if (e) ai.error(e);
            else outAddrs.push(a);
          }
        });
      }
      o["addresses"] = outAddrs;
      const cond = optMap(ep, "conditions", ei);
      if (cond) {
        const c: Record<string, boolean> = {};
        for (const k of ["ready", "serving", "terminating"] as const) {
          const v = optBool(cond, k, ei.at("conditions"));
          if (v !== undefined) c[k] = v;
        }
        o["conditions"] = c;
      }
      const hostname = optString(ep, "hostname", ei);
      if (hostname !== undefined && hostname !== "") {
        const e = dns1123LabelError(hostname);
        if (e) ei.at("hostname").error(`invalid hostname: ${e}`);
        o["hostname"] = hostname;
      }
      const nodeName = optString(ep, "nodeName", ei);
      if (nodeName) {
        const e = dns1123SubdomainError(nodeName);
        if (e) ei.at("nodeName").error(`invalid nodeName: ${e}`);
        o["nodeName"] = nodeName;
      }
      const zone = optString(ep, "zone", ei);
      if (zone) o["zone"] = zone;
      const ref = optMap(ep, "targetRef", ei);
      if (ref) {
        const r: Record<string, string> = {};
        for (const k of ["kind", "name", "namespace", "uid"] as const) {
          const v = optString(ref, k, ei.at("targetRef"));
          if (v) r[k] = v;
        }
        if (r["kind"] === "Pod" && !r["name"]) ei.at("targetRef", "name").error("a Pod targetRef needs a name");
        o["targetRef"] = r;
      }
      outEps.push(o as unknown as Endpoint);
    });
    out["endpoints"] = outEps;
  }

  const ports = optList(raw, "ports", issues);
  if (ports) {
    if (ports.length > MAX_PORTS) issues.at("ports").error(`must have at most ${MAX_PORTS} ports`);
    const names = new Map<string, number>();
    const outPorts: EndpointPort[] = [];
    ports.forEach((p, i) => {
      const pi = issues.at("ports", i);
      if (!isPlainObject(p)) {
        pi.error(`expected a map, got ${describe(p)}`);
        return;
      }
      const o: Record<string, unknown> = {};
      const name = optString(p, "name", pi) ?? "";
      if (name !== "") {
        const e = dns1123LabelError(name);
        if (e) pi.at("name").error(`invalid port name: ${e}`);
      }
      const first = names.get(name);
      if (first !== undefined) pi.at("name").error(`duplicate port name "${name}" (also ports[${first}])`);
      else names.set(name, i);
      if (name !== "") o["name"] = name;
      const port = optInt(p, "port", pi);
      if (port !== undefined) {
        const e = portError(port);
        if (e) pi.at("port").error(e);
        o["port"] = port;
      }
      const protocol = optEnum(p, "protocol", PROTOCOLS, pi);
      if (protocol) o["protocol"] = protocol;
      const appProtocol = optString(p, "appProtocol", pi);
      if (appProtocol) {
        const e = qualifiedNameError(appProtocol);
        if (e) pi.at("appProtocol").error(`invalid appProtocol ${e}`);
        o["appProtocol"] = appProtocol;
      }
      outPorts.push(o as EndpointPort);
    });
    out["ports"] = outPorts;
  }
  return out as unknown as EndpointSlice;
}

function addressError(a: string, type: (typeof ADDRESS_TYPES)[number] | undefined): string | undefined {
  switch (type) {
    case "IPv4":
      return isIPv4(a) ? undefined : `"${a}" is not a valid IPv4 address (addressType is IPv4)`;
    case "IPv6":
      return isIPv6(a) ? undefined : `"${a}" is not a valid IPv6 address (addressType is IPv6)`;
    case "FQDN": {
      const e = dns1123SubdomainError(a);
      return e ? `invalid FQDN address: ${e}` : undefined;
    }
    default:
      return undefined; // addressType itself is reported
  }
}
