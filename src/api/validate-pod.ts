/** v1 Pod, Namespace and Node: the fields meshpilot reads (labels, IPs, node, service account, container ports). */
import { isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import type { Container, ContainerPort, Namespace, Node, ObjectMeta, Pod } from "./kube-types.js";
import { optEnum, optInt, optList, optMap, optString, PROTOCOLS } from "./validate-common.js";
import { isIP, portError } from "./validate-net.js";
import { describe, dns1123LabelError, dns1123SubdomainError, ianaSvcNameError } from "./validate-names.js";

export function validatePod(raw: Record<string, unknown>, metadata: ObjectMeta, issues: Issues): Pod {
  const out: Record<string, unknown> = { apiVersion: "v1", kind: "Pod", metadata };
  const spec = optMap(raw, "spec", issues);
  if (spec) {
    const si = issues.at("spec");
    const s: Record<string, unknown> = {};
    const nodeName = optString(spec, "nodeName", si);
    if (nodeName) {
      const e = dns1123SubdomainError(nodeName);
      if (e) si.at("nodeName").error(`invalid nodeName: ${e}`);
      s["nodeName"] = nodeName;
    }
    const sa = optString(spec, "serviceAccountName", si);
    if (sa) {
      const e = dns1123SubdomainError(sa);
      if (e) si.at("serviceAccountName").error(`invalid serviceAccountName: ${e}`);
      s["serviceAccountName"] = sa;
    }
    const containers = optList(spec, "containers", si);
    if (containers) {
      const outC: Container[] = [];
      containers.forEach((c, i) => {
        const ci = si.at("containers", i);
        if (!isPlainObject(c)) {
          ci.error(`expected a map, got ${describe(c)}`);
          return;
        }
        const name = optString(c, "name", ci);
        if (!name) ci.at("name").error("container name is required");
        else {
          const e = dns1123LabelError(name);
          if (e) ci.at("name").error(`invalid container name: ${e}`);
        }
        const oc: Record<string, unknown> = { name: name ?? "" };
        const ports = optList(c, "ports", ci);
        if (ports) {
          const op: ContainerPort[] = [];
          ports.forEach((p, j) => {
            const pi = ci.at("ports", j);
            if (!isPlainObject(p)) {
              pi.error(`expected a map, got ${describe(p)}`);
              return;
            }
            const o: Record<string, unknown> = {};
            const cp = optInt(p, "containerPort", pi);
            if (cp === undefined) {
              if (p["containerPort"] === undefined || p["containerPort"] === null) pi.at("containerPort").error("containerPort is required");
            } else {
              const e = portError(cp);
              if (e) pi.at("containerPort").error(e);
              o["containerPort"] = cp;
            }
            const pname = optString(p, "name", pi);
            if (pname) {
              const e = ianaSvcNameError(pname);
              if (e) pi.at("name").error(e);
              o["name"] = pname;
            }
            const protocol = optEnum(p, "protocol", PROTOCOLS, pi);
            if (protocol) o["protocol"] = protocol;
            op.push(o as unknown as ContainerPort);
          });
          if (op.length > 0) oc["ports"] = op;
        }
        outC.push(oc as unknown as Container);
      });
      if (outC.length > 0) s["containers"] = outC;
    }
    out["spec"] = s;
  }
  const status = optMap(raw, "status", issues);
  if (status) {
    const st = issues.at("status");
    const s: Record<string, unknown> = {};
    const podIP = optString(status, "podIP", st);
    if (podIP) {
      if (!isIP(podIP)) st.at("podIP").error(`"${podIP}" is not a valid IP address`);
      s["podIP"] = podIP;
    }
    const podIPs = optList(status, "podIPs", st);
    if (podIPs) {
      const ips: { ip: string }[] = [];
      podIPs.forEach((p, i) => {
        const pi = st.at("podIPs", i);
        if (!isPlainObject(p)) {
          pi.error(`expected a map with "ip", got ${describe(p)}`);
          return;
        }
        const ip = optString(p, "ip", pi);
        if (!ip) pi.at("ip").error("ip is required");
        else if (!isIP(ip)) pi.at("ip").error(`"${ip}" is not a valid IP address`);
        else ips.push({ ip });
      });
      if (podIP && ips.length > 0 && ips[0]?.ip !== podIP) st.at("podIPs", 0).error(`must match podIP "${podIP}"`);
      if (ips.length > 0) s["podIPs"] = ips;
    }
    const phase = optString(status, "phase", st);
    if (phase) s["phase"] = phase;
    out["status"] = s;
  }
  return out as unknown as Pod;
}

export function validateNamespace(_raw: Record<string, unknown>, metadata: ObjectMeta, _issues: Issues): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata };
}

/** Only the metadata (labels) of a Node is read; spec and status are ignored. */
export function validateNode(_raw: Record<string, unknown>, metadata: ObjectMeta, _issues: Issues): Node {
  return { apiVersion: "v1", kind: "Node", metadata };
}
