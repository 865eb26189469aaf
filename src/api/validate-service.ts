/** v1 Service: the fields meshpilot reads, checked as the Kubernetes API server checks them. */
import { isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import type { ObjectMeta, Service, ServicePort } from "./kube-types.js";
import { optEnum, optInt, optList, optMap, optString, optStringMap, PROTOCOLS } from "./validate-common.js";
import { isIP, portError } from "./validate-net.js";
import { describe, dns1123LabelError, dns1123SubdomainError, ianaSvcNameError, qualifiedNameError } from "./validate-names.js";

const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] as const;

export function validateService(raw: Record<string, unknown>, metadata: ObjectMeta, issues: Issues): Service {
  const si = issues.at("spec");
  const spec = optMap(raw, "spec", issues) ?? {};
  const out: Record<string, unknown> = {};
  const type = optEnum(spec, "type", SERVICE_TYPES, si);
  if (type) out["type"] = type;

  const clusterIP = optString(spec, "clusterIP", si);
  if (clusterIP !== undefined) {
    if (clusterIP !== "" && clusterIP !== "None" && !isIP(clusterIP)) si.at("clusterIP").error(`"${clusterIP}" must be empty, "None" or a valid IP address`);
    if (clusterIP !== "") out["clusterIP"] = clusterIP;
  }
  const clusterIPs = optList(spec, "clusterIPs", si);
  if (clusterIPs) {
    const ips: string[] = [];
    clusterIPs.forEach((ip, i) => {
      if (typeof ip !== "string") si.at("clusterIPs", i).error(`expected a string, got ${describe(ip)}`);
      else if (ip !== "None" && !isIP(ip)) si.at("clusterIPs", i).error(`"${ip}" must be "None" or a valid IP address`);
      else ips.push(ip);
    });
    if (clusterIPs.length > 2) si.at("clusterIPs").error("at most two cluster IPs (one per IP family) may be given");
    if (clusterIP && ips.length > 0 && ips[0] !== clusterIP) si.at("clusterIPs", 0).error(`must match clusterIP "${clusterIP}"`);
    if (ips.length > 0) out["clusterIPs"] = ips;
  }
  const selector = optStringMap(spec, "selector", si);
  if (selector && Object.keys(selector).length > 0) out["selector"] = selector;

  const ports = optList(spec, "ports", si);
  if (ports) {
    const outPorts: ServicePort[] = [];
    const names = new Map<string, number>();
    const portProto = new Map<string, number>();
    ports.forEach((p, i) => {
      const pi = si.at("ports", i);
      if (!isPlainObject(p)) {
        pi.error(`expected a map, got ${describe(p)}`);
        return;
      }
      const sp: Record<string, unknown> = {};
      const name = optString(p, "name", pi);
      if (name !== undefined && name !== "") {
        const e = dns1123LabelError(name);
        if (e) pi.at("name").error(`invalid port name: ${e}`);
        const first = names.get(name);
        if (first !== undefined) pi.at("name").error(`duplicate port name "${name}" (also ports[${first}])`);
        else names.set(name, i);
        sp["name"] = name;
      } else if (ports.length > 1) {
        pi.at("name").error("port name is required when a Service has more than one port");
      }
      const port = optInt(p, "port", pi);
      if (port === undefined) {
        if (p["port"] === undefined || p["port"] === null) pi.at("port").error("port is required");
      } else {
        const e = portError(port);
        if (e) pi.at("port").error(e);
        sp["port"] = port;
      }
      const tp = p["targetPort"];
      if (tp !== undefined && tp !== null) {
        if (typeof tp === "number") {
          if (!Number.isInteger(tp)) pi.at("targetPort").error(`expected an integer or a port name, got ${describe(tp)}`);
          else if (tp !== 0) {
            const e = portError(tp);
            if (e) pi.at("targetPort").error(e);
            else sp["targetPort"] = tp;
          }
        } else if (typeof tp === "string") {
          const e = ianaSvcNameError(tp);
          if (e) pi.at("targetPort").error(`targetPort must be a number 1..65535 or a container port name: ${e}`);
          else sp["targetPort"] = tp;
        } else pi.at("targetPort").error(`expected an integer or a port name, got ${describe(tp)}`);
      }
      const protocol = optEnum(p, "protocol", PROTOCOLS, pi);
      if (protocol) sp["protocol"] = protocol;
      const appProtocol = optString(p, "appProtocol", pi);
      if (appProtocol !== undefined && appProtocol !== "") {
        const e = qualifiedNameError(appProtocol);
        if (e) pi.at("appProtocol").error(`invalid appProtocol ${e}`);
        sp["appProtocol"] = appProtocol;
      }
      if (port !== undefined) {
        const key = `${port}/${protocol ?? "TCP"}`;
        const first = portProto.get(key);
        if (first !== undefined) pi.error(`duplicate port ${key} (also ports[${first}])`);
        else portProto.set(key, i);
      }
      outPorts.push(sp as unknown as ServicePort);
    });
    if (outPorts.length > 0) out["ports"] = outPorts;
  }
  if ((ports ?? []).length === 0 && type !== "ExternalName" && clusterIP !== "None") si.at("ports").error("ports are required (at least one)");

  const externalName = optString(spec, "externalName", si);
  if (type === "ExternalName") {
    if (!externalName) si.at("externalName").error("externalName is required for type ExternalName");
    else {
      const e = dns1123SubdomainError(externalName.replace(/\.$/, ""));
      if (e) si.at("externalName").error(`invalid externalName: ${e}`);
    }
  }
  if (externalName) out["externalName"] = externalName;

  return { apiVersion: "v1", kind: "Service", metadata, spec: out as Service["spec"] };
}
