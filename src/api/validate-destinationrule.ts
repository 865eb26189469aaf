/** DestinationRule validation, following Istio 1.28's webhook, after the schema check. */
import { checkMessage, DestinationRuleSpecSchema, isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import { validateExportTo, validateIstioLabels } from "./validate-common.js";
import { portError } from "./validate-net.js";
import { dns1123LabelError, wildcardDomainError } from "./validate-names.js";

type Rec = Record<string, unknown>;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

export function validateDestinationRuleSpec(spec: unknown, namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) {
    si.error("spec is required (at least spec.host)");
    return;
  }
  checkMessage(spec, DestinationRuleSpecSchema, si);
  if (!isPlainObject(spec)) return;

  const host = spec["host"];
  if (host === undefined || host === null || host === "") si.at("host").error("host is required");
  else if (typeof host === "string") {
    const e = wildcardDomainError(host);
    if (e) si.at("host").error(e);
  }
  validateTrafficPolicy(spec["trafficPolicy"], si.at("trafficPolicy"));

  const names = new Map<string, number>();
  arr(spec["subsets"]).forEach((s, i) => {
    if (!isPlainObject(s)) return;
    const at = si.at("subsets", i);
    const name = s["name"];
    if (name === undefined || name === null || name === "") at.at("name").error("subset name is required");
    else if (typeof name === "string") {
      const e = dns1123LabelError(name);
      if (e) at.at("name").error(`subset name is invalid: ${e}`);
      const first = names.get(name);
      if (first !== undefined) at.at("name").error(`duplicate subset name "${name}" (also subsets[${first}])`);
      else names.set(name, i);
    }
    validateIstioLabels(s["labels"], at.at("labels"));
    validateTrafficPolicy(s["trafficPolicy"], at.at("trafficPolicy"));
  });

  const ws = spec["workloadSelector"];
  validateExportTo(spec["exportTo"], namespace, si.at("exportTo"));
  if (isPlainObject(ws)) {
    const ml = ws["matchLabels"];
    if (isPlainObject(ml)) {
      for (const [k, v] of Object.entries(ml)) {
        if (k === "") si.at("workloadSelector", "matchLabels", k).error("empty key is not supported in selector");
        if (k.includes("*") || (typeof v === "string" && v.includes("*")))
          si.at("workloadSelector", "matchLabels", k).error(`wildcard is not supported in selector: "${k}=${String(v)}"`);
      }
      validateIstioLabels(ml, si.at("workloadSelector", "matchLabels"));
    }
    if (!isPlainObject(ml) || Object.keys(ml).length === 0) si.at("workloadSelector").warning("workload selector specified without labels");
    const exportTo = arr(spec["exportTo"]).filter((e) => typeof e === "string");
    if (exportTo.length > 0 && (exportTo.length > 1 || (exportTo[0] !== "." && exportTo[0] !== namespace)))
      si.at("exportTo").error("destination rule with workload selector cannot have exportTo beyond current namespace");
  }
}

function validateTrafficPolicy(tp: unknown, issues: Issues): void {
  if (!isPlainObject(tp)) return;
  const fields = ["outlierDetection", "connectionPool", "loadBalancer", "tls", "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget"];
  if (!fields.some((f) => isSet(tp[f]))) {
    issues.error("traffic policy must have at least one field");
    return;
  }
  if (isSet(tp["tunnel"]) && isSet(tp["proxyProtocol"])) issues.error("tunnel and proxyProtocol must not be set together");
  validatePolicyCore(tp, issues);
  arr(tp["portLevelSettings"]).forEach((p, i) => {
    if (!isPlainObject(p)) return;
    const at = issues.at("portLevelSettings", i);
    const port = p["port"];
    if (!isPlainObject(port)) at.at("port").error("portLevelSettings need port.number");
    else {
      const n = port["number"] ?? 0;
      if (typeof n === "number") {
        const e = portError(n);
        if (e) at.at("port", "number").error(e);
      }
    }
    if (!["outlierDetection", "connectionPool", "loadBalancer", "tls"].some((f) => isSet(p[f]))) at.error("port traffic policy must have at least one field");
    else validatePolicyCore(p, at);
  });
  const tunnel = tp["tunnel"];
  if (isPlainObject(tunnel)) {
    const proto = tunnel["protocol"];
    if (typeof proto === "string" && proto !== "" && proto !== "CONNECT" && proto !== "POST")
      issues.at("tunnel", "protocol").error('tunnel protocol must be "CONNECT" or "POST"');
    const tport = tunnel["targetPort"] ?? 0;
    if (typeof tport === "number") {
      const e = portError(tport);
      if (e) issues.at("tunnel", "targetPort").error(`tunnel target port is invalid: ${e}`);
    }
  }
}

function validatePolicyCore(p: Rec, issues: Issues): void {
  validateOutlierDetection(p["outlierDetection"], issues.at("outlierDetection"));
  validateConnectionPool(p["connectionPool"], issues.at("connectionPool"));
  validateLoadBalancer(p["loadBalancer"], isSet(p["outlierDetection"]), issues.at("loadBalancer"));
  validateClientTLS(p["tls"], issues.at("tls"));
}

function validateOutlierDetection(o: unknown, issues: Issues): void {
  if (!isPlainObject(o)) return;
  const lof = o["consecutiveLocalOriginFailures"];
  if (o["splitExternalLocalOriginErrors"] !== true && typeof lof === "number" && lof > 0)
    issues.at("consecutiveLocalOriginFailures").error("consecutiveLocalOriginFailures is set, but splitExternalLocalOriginErrors is not true");
  for (const f of ["maxEjectionPercent", "minHealthPercent"] as const) {
    const v = o[f];
    if (typeof v === "number" && (v < 0 || v > 100)) issues.at(f).error(`percentage ${v} is not in range 0..100`);
  }
}

export function validateConnectionPool(c: unknown, issues: Issues): void {
  if (!isPlainObject(c)) return;
  const http = c["http"];
  const tcp = c["tcp"];
  if (!isSet(http) && !isSet(tcp)) {
    issues.error("connection pool must have at least one field (tcp or http)");
    return;
  }
  if (isPlainObject(http)) {
    for (const f of ["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "maxConcurrentStreams"] as const) {
      const v = http[f];
      if (typeof v === "number" && v < 0) issues.at("http", f).error(`${f} must be non-negative`);
    }
    if (http["h2UpgradePolicy"] === "UPGRADE" && http["useClientProtocol"] === true)
      issues.at("http", "useClientProtocol").error("useClientProtocol must not be true when h2UpgradePolicy is UPGRADE");
  }
  if (isPlainObject(tcp)) {
    const v = tcp["maxConnections"];
    if (typeof v === "number" && v < 0) issues.at("tcp", "maxConnections").error("maxConnections must be non-negative");
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0) return false;
  for (let f = 3; f * f <= n; f += 2) if (n % f === 0) return false;
  return true;
}

function validateLoadBalancer(lb: unknown, hasOutlierDetection: boolean, issues: Issues): void {
  if (!isPlainObject(lb)) return;
  const ch = lb["consistentHash"];
  if (isPlainObject(ch)) {
    const at = issues.at("consistentHash");
    const cookie = ch["httpCookie"];
    if (isPlainObject(cookie) && (typeof cookie["name"] !== "string" || cookie["name"] === ""))
      at.at("httpCookie", "name").error("name required for httpCookie");
    const mrs = ch["minimumRingSize"];
    if (typeof mrs === "number" && mrs !== 0) {
      at.at("minimumRingSize").warning("consistentHash.minimumRingSize is deprecated; use ringHash.minimumRingSize");
      if (isSet(ch["ringHash"]) || isSet(ch["maglev"])) at.at("minimumRingSize").error("only one of minimumRingSize or maglev/ringHash can be specified");
    }
    const ml = ch["maglev"];
    if (isPlainObject(ml)) {
      const ts = ml["tableSize"] ?? 0;
      if (typeof ts === "number") {
        if (ts === 0) at.at("maglev", "tableSize").error("tableSize must be set for maglev");
        else if (ts >= 5000011) at.at("maglev", "tableSize").error("tableSize must be less than 5000011 for maglev");
        else if (!isPrime(ts)) at.at("maglev", "tableSize").error("tableSize must be a prime number for maglev");
      }
    }
    if (!["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"].some((f) => isSet(ch[f])))
      at.warning("consistentHash has no hash key (httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName)");
  }
  const loc = lb["localityLbSetting"];
  if (isPlainObject(loc)) {
    const at = issues.at("localityLbSetting");
    const distribute = arr(loc["distribute"]);
    const failover = arr(loc["failover"]);
    const priority = arr(loc["failoverPriority"]).filter((p): p is string => typeof p === "string");
    if (distribute.length > 0 && failover.length > 0) at.error("can not simultaneously set 'distribute' and 'failover'");
    if (failover.length > 0) {
      priority.forEach((p, i) => {
        if (TOPOLOGY_LABELS.includes(p))
          at.at("failoverPriority", i).error(`can not simultaneously set 'failover' and topology label '${p}' in 'failoverPriority'`);
      });
    }
    if ((failover.length > 0 || priority.length > 0) && !hasOutlierDetection)
      at.warning("outlier detection policy must be provided for failover: without outlierDetection Envoy never fails over to other localities");
    const froms: { loc: string; at: Issues }[] = [];
    distribute.forEach((d, i) => {
      if (!isPlainObject(d)) return;
      const di = at.at("distribute", i);
      if (typeof d["from"] !== "string" || d["from"] === "") di.at("from").error("locality must not be empty");
      else froms.push({ loc: d["from"], at: di.at("from") });
      const to = d["to"];
      if (isPlainObject(to)) {
        for (const [l, w] of Object.entries(to))
          if (typeof w === "number" && (w < 1 || w > 100)) di.at("to", l).error(`locality weight must be in range [1, 100], got ${w}`);
        const sum = Object.values(to).reduce<number>((s, v) => s + (typeof v === "number" ? v : 0), 0);
        if (sum !== 100) di.at("to").error(`total weight of 'to' localities must be 100, got ${sum}`);
        validateLocalities(Object.keys(to).map((l) => ({ loc: l, at: di.at("to", l) })));
      } else di.at("to").error("'to' localities are required");
    });
    validateLocalities(froms);
    failover.forEach((f, i) => {
      if (!isPlainObject(f)) return;
      if (typeof f["from"] === "string" && f["from"] === f["to"]) at.at("failover", i).error("locality failover 'from' and 'to' must differ");
      for (const k of ["from", "to"] as const) {
        const v = f[k];
        if (typeof v !== "string") continue;
        if (v.includes("/")) at.at("failover", i, k).error("locality failover only applies to regions; do not specify zones");
        if (v.includes("*")) at.at("failover", i, k).error("locality failover region should not contain the '*' wildcard");
      }
    });
  }
  const warm = lb["warmup"];
  if (isPlainObject(warm)) {
    if (!isSet(warm["duration"])) issues.at("warmup", "duration").error("duration is required");
    const mp = warm["minimumPercent"];
    if (typeof mp === "number" && (mp < 0 || mp > 100)) issues.at("warmup", "minimumPercent").error("minimumPercent must be within 0..100");
    const ag = warm["aggression"];
    if (typeof ag === "number" && ag < 1) issues.at("warmup", "aggression").error("aggression should be greater than or equal to 1");
  }
}

const TOPOLOGY_LABELS: readonly string[] = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"];

/**
 * Istio's validateLocalities: each `region[/zone[/subzone]]` has no empty part, at most one `*`
 * and only at the end, and no two overlap (`us` and `us/a` do; `*` or `us/*` overlaps later ones).
 */
function validateLocalities(localities: readonly { loc: string; at: Issues }[]): void {
  const seen: string[][] = [];
  for (const { loc, at } of localities) {
    const stars = loc.split("*").length - 1;
    if (stars > 1 || (stars === 1 && !loc.endsWith("*"))) {
      at.error(`locality "${loc}": the wildcard '*' may appear once, at the end`);
      continue;
    }
    const parts = loc.split("/");
    if (parts.length > 3 || parts.some((p) => p === "")) {
      at.error(`locality "${loc}" must be region, region/zone or region/zone/subzone, without empty parts`);
      continue;
    }
    const covers = (a: string[], b: string[]): boolean => a.every((p, i) => p === "*" || p === b[i]);
    // As in Istio, a wildcard entry overlaps what follows it, not what came before.
    const other = seen.find((s) => covers(s, parts) || (stars === 0 && covers(parts, s)));
    if (other) at.error(`locality "${loc}" overlaps with "${other.join("/")}"`);
    seen.push(parts);
  }
}

function validateClientTLS(t: unknown, issues: Issues): void {
  if (!isPlainObject(t)) return;
  const mode = t["mode"];
  const has = (f: string): boolean => typeof t[f] === "string" && t[f] !== "";
  if (mode === "SIMPLE" || mode === "MUTUAL") {
    if (has("credentialName")) {
      if (has("clientCertificate") || has("privateKey") || has("caCertificates"))
        issues.error("cannot specify client certificates or CA certificate if credentialName is set");
    } else if (mode === "MUTUAL") {
      if (!has("clientCertificate")) issues.at("clientCertificate").error("client certificate required for mutual tls");
      if (!has("privateKey")) issues.at("privateKey").error("private key required for mutual tls");
    }
  }
  if (mode === "ISTIO_MUTUAL" || mode === "DISABLE") {
    for (const f of ["clientCertificate", "privateKey", "caCertificates", "credentialName"])
      if (has(f)) issues.at(f).warning(`${f} is ignored with mode ${mode}`);
  }
}
