// `proxy-config` tables, in the columns `istioctl proxy-config` users know, read from canonical
// Envoy JSON (held.ts), so one function serves meshpilot's intent and a live Envoy alike.
import { X509Certificate } from "node:crypto";
import type { ConfigType, Held, HeldResource, JsonObject } from "./held.js";

export interface Table {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

type J = JsonObject | undefined;
const obj = (v: unknown): J => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" || typeof v === "number" ? String(v) : "");

/** `name.namespace` of an Istio config path `/apis/<group>/<v>/namespaces/<ns>/<kind>/<name>`. */
function configRef(path: unknown): string {
  const m = /\/namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(str(path));
  return m ? `${m[2]}.${m[1]}` : "";
}

const istioMeta = (json: J): J => obj(obj(obj(json?.["metadata"])?.["filterMetadata"])?.["istio"]);

// ---- clusters: SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE ----

function clusterRow(r: HeldResource): string[] {
  const parts = r.name.split("|");
  const [direction, port, subset, fqdn] = parts.length === 4 ? parts : ["-", "-", "-", r.name];
  const type = str(r.json["type"]) || str(obj(r.json["clusterType"])?.["name"]) || "EDS";
  const dr = configRef(istioMeta(r.json)?.["config"]);
  return [fqdn || "-", port || "-", subset || "-", direction || "-", type, dr || "-"];
}

// ---- listeners: ADDRESS PORT MATCH DESTINATION (one row per filter chain) ----

function chainMatch(m: J): string {
  if (!m) return "ALL";
  const out: string[] = [];
  const ranges = arr(m["prefixRanges"]).map((p) => `${str(obj(p)?.["addressPrefix"])}/${str(obj(p)?.["prefixLen"]) || "0"}`);
  if (m["destinationPort"] !== undefined) out.push(`Addr: ${ranges.length ? ranges.join(",") : "*"}:${str(m["destinationPort"])}`);
  else if (ranges.length) out.push(`Addr: ${ranges.join(",")}`);
  if (arr(m["serverNames"]).length) out.push(`SNI: ${arr(m["serverNames"]).map(str).join(",")}`);
  if (m["transportProtocol"]) out.push(`Trans: ${str(m["transportProtocol"])}`);
  if (arr(m["applicationProtocols"]).length) out.push(`App: ${arr(m["applicationProtocols"]).map(str).join(",")}`);
  return out.length ? out.join("; ") : "ALL";
}

function chainDestination(chain: J): string {
  for (const f of arr(chain?.["filters"])) {
    const tc = obj(obj(f)?.["typedConfig"]);
    const t = str(tc?.["@type"]);
    if (t.endsWith("HttpConnectionManager")) {
      const rds = obj(tc?.["rds"]);
      if (rds) return `Route: ${str(rds["routeConfigName"])}`;
      const inline = obj(tc?.["routeConfig"]);
      return `Inline Route: ${str(inline?.["name"]) || "-"}`;
    }
    if (t.endsWith("TcpProxy")) {
      const wc = obj(tc?.["weightedClusters"]);
      if (wc)
        return `Clusters: ${arr(wc["clusters"])
          .map((c) => `${str(obj(c)?.["name"])} (${str(obj(c)?.["weight"])})`)
          .join(", ")}`;
      return `Cluster: ${str(tc?.["cluster"])}`;
    }
  }
  return "Non-HTTP/Non-TCP";
}

function listenerRows(r: HeldResource): string[][] {
  const sa = obj(obj(r.json["address"])?.["socketAddress"]);
  const address = str(sa?.["address"]) || "-";
  const port = str(sa?.["portValue"]) || "-";
  const state = r.state === "active" ? "" : ` [${r.state}]`;
  const chains = arr(r.json["filterChains"]).map(obj);
  const rows = chains.map((c) => [address, port, chainMatch(obj(c?.["filterChainMatch"])), chainDestination(c) + state]);
  const def = obj(r.json["defaultFilterChain"]);
  if (def) rows.push([address, port, "ALL (default chain)", chainDestination(def) + state]);
  if (rows.length === 0) rows.push([address, port, "-", "-" + state]);
  return rows;
}

// ---- routes: NAME VHOST NAME DOMAINS MATCH VIRTUAL SERVICE (one row per route) ----

const OPERATOR: Readonly<Record<string, string>> = { exact: "=", prefix: "^=", suffix: "$=", contains: "*=", safeRegex: "~=" };

/** `name=value`, `name^=prefix`, `name~=regex`, `name present`, as a reader scans it. */
function headerText(h: J): string {
  const sm = obj(h?.["stringMatch"]);
  const op = sm ? Object.keys(sm).find((k) => k in OPERATOR) : undefined;
  const raw = op ? sm?.[op] : undefined;
  const value = op ? `${OPERATOR[op]}${op === "safeRegex" ? str(obj(raw)?.["regex"]) : str(raw)}` : h?.["presentMatch"] ? " present" : "";
  return `${str(h?.["name"])}${value}${h?.["invertMatch"] ? " (inverted)" : ""}`;
}

function routeMatch(m: J): string {
  if (!m) return "-";
  let path = "";
  if (m["prefix"] !== undefined) path = `${str(m["prefix"])}*`;
  else if (m["path"] !== undefined) path = str(m["path"]);
  else if (m["pathSeparatedPrefix"] !== undefined) path = `${str(m["pathSeparatedPrefix"])}/*`;
  else if (obj(m["safeRegex"])) path = `~${str(obj(m["safeRegex"])?.["regex"])}`;
  const headers = arr(m["headers"]).map((h) => headerText(obj(h)));
  return [path, ...headers].filter((x) => x !== "").join(" ") || "-";
}

function domains(vh: J): string {
  const d = arr(vh?.["domains"]).map(str);
  return d.length <= 2 ? d.join(", ") : `${d[0]}, +${d.length - 1} more`;
}

function routeRows(r: HeldResource): string[][] {
  const rows: string[][] = [];
  for (const v of arr(r.json["virtualHosts"])) {
    const vh = obj(v);
    const routes = arr(vh?.["routes"]).map(obj);
    if (routes.length === 0) rows.push([r.name, str(vh?.["name"]), domains(vh), "-", "-"]);
    for (const rt of routes) rows.push([r.name, str(vh?.["name"]), domains(vh), routeMatch(obj(rt?.["match"])), configRef(istioMeta(rt)?.["config"]) || "-"]);
  }
  return rows;
}

// ---- endpoints: ENDPOINT STATUS OUTLIER CHECK CLUSTER ----

/** Outlier ejection as the proxy reports it (Envoy's /clusters): `cluster` → `address:port` → ejected. */
export type OutlierState = ReadonlyMap<string, ReadonlyMap<string, boolean>>;

function endpointRows(r: HeldResource, outliers: OutlierState | undefined): string[][] {
  const rows: string[][] = [];
  for (const group of arr(r.json["endpoints"])) {
    for (const lb of arr(obj(group)?.["lbEndpoints"])) {
      const sa = obj(obj(obj(obj(lb)?.["endpoint"])?.["address"])?.["socketAddress"]);
      const addr = `${str(sa?.["address"])}:${str(sa?.["portValue"])}`;
      const health = str(obj(lb)?.["healthStatus"]) || "HEALTHY";
      const ejected = outliers?.get(r.name)?.get(addr);
      rows.push([addr, health, ejected === undefined ? "-" : ejected ? "FAILED" : "OK", r.name]);
    }
  }
  return rows;
}

// ---- secrets: RESOURCE NAME TYPE STATUS VALID CERT SERIAL NUMBER NOT AFTER NOT BEFORE ----

function pemOf(source: J): string {
  if (!source) return "";
  if (source["inlineString"] !== undefined) return str(source["inlineString"]);
  if (source["inlineBytes"] !== undefined) return Buffer.from(str(source["inlineBytes"]), "base64").toString("utf8");
  return "";
}

/** The first certificate of a PEM chain: never anything of a key. */
function certFacts(pem: string, now: Date): string[] {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!first) return ["-", "-", "-", "-"];
  try {
    const c = new X509Certificate(first);
    const nb = new Date(c.validFrom);
    const na = new Date(c.validTo);
    return [String(now >= nb && now <= na), c.serialNumber.toLowerCase(), na.toISOString(), nb.toISOString()];
  } catch {
    return ["false (unreadable)", "-", "-", "-"];
  }
}

function secretRows(r: HeldResource, now: Date): string[][] {
  const status = r.state === "active" ? "ACTIVE" : r.state.toUpperCase();
  const rows: string[][] = [];
  const tls = obj(r.json["tlsCertificate"]);
  if (tls) rows.push([r.name, "Cert Chain", status, ...certFacts(pemOf(obj(tls["certificateChain"])), now)]);
  const vc = obj(r.json["validationContext"]);
  if (vc) rows.push([r.name, "CA", status, ...certFacts(pemOf(obj(vc["trustedCa"])), now)]);
  if (!tls && !vc) rows.push([r.name, "-", status, "-", "-", "-", "-"]);
  return rows;
}

export const HEADERS: Readonly<Record<ConfigType, readonly string[]>> = {
  clusters: ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"],
  listeners: ["ADDRESS", "PORT", "MATCH", "DESTINATION"],
  routes: ["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"],
  endpoints: ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"],
  secrets: ["RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"],
};

export function configTable(type: ConfigType, held: Held, opts: { now: Date; outliers?: OutlierState }): Table {
  const rs = held[type];
  const rows =
    type === "clusters"
      ? rs.map(clusterRow)
      : type === "listeners"
        ? rs.flatMap(listenerRows)
        : type === "routes"
          ? rs.flatMap(routeRows)
          : type === "endpoints"
            ? rs.flatMap((r) => endpointRows(r, opts.outliers))
            : rs.flatMap((r) => secretRows(r, opts.now));
  // Clusters read best grouped by service (istioctl's order), not by Istio's name.
  if (type === "clusters") rows.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  return { headers: HEADERS[type], rows };
}
