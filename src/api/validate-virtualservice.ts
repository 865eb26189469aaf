/**
 * VirtualService validation, following what Istio 1.28's validating webhook checks (hosts, matches,
 * actions, destinations, weights, policies), after the schema check (unknown fields, JSON types).
 *
 * Weights: since Istio 1.15 weights are relative and need not sum to 100; each must be ≥ 0 and, when a
 * rule has several destinations, their total must be > 0.
 */
import { checkMessage, isPlainObject, VirtualServiceSpecSchema } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import {
  isAuthorityHeader,
  JWT_CLAIM_PREFIX,
  regexError,
  validateExportTo,
  validateGatewayNames,
  validateHeaderOperations,
  validateIstioLabels,
  validateMatchHeaderName,
  validatePercentage,
  validateStringMatch,
} from "./validate-common.js";
import { isCIDR, isIP, portError } from "./validate-net.js";
import { dns1123LabelError, dns1123SubdomainError, hostsOverlap, hostSubsetOf, wildcardDomainError } from "./validate-names.js";
import { GRPC_STATUS_NAMES } from "./grpc-status.js";

type Rec = Record<string, unknown>;

const KB = 1024;
const MB = 1024 * KB;

const RETRY_ON = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "envoy-ratelimited",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);
const CORS_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"]);
export const GRPC_STATUS_CODES: ReadonlySet<string> = new Set(GRPC_STATUS_NAMES);
const CORS_HEADER = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strs = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === "string");
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

/** Validate `spec` of a VirtualService in `namespace`; `issues` is rooted at the object. */
export function validateVirtualServiceSpec(spec: unknown, namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) {
    si.error("spec is required");
    return;
  }
  checkMessage(spec, VirtualServiceSpecSchema, si);
  if (!isPlainObject(spec)) return;

  const hosts = strs(spec["hosts"]);
  const gateways = strs(spec["gateways"]);
  const isDelegate = hosts.length === 0;
  if (isDelegate) {
    if (gateways.length > 0) si.at("gateways").error("delegate virtual service (no hosts) must have no gateways specified");
    if (arr(spec["tls"]).length > 0) si.at("tls").error("delegate virtual service (no hosts) must have no tls route specified");
    if (arr(spec["tcp"]).length > 0) si.at("tcp").error("delegate virtual service (no hosts) must have no tcp route specified");
  }
  const appliesToGateway = gateways.length > 0 && !gateways.includes("mesh");
  const appliesToMesh = !appliesToGateway;
  validateGatewayNames(spec["gateways"], si.at("gateways"));

  let allHostsValid = true;
  arr(spec["hosts"]).forEach((h, i) => {
    if (typeof h !== "string") return;
    const err = wildcardDomainError(h);
    if (err && !isIP(h)) {
      si.at("hosts", i).error(err);
      allHostsValid = false;
    } else if (appliesToMesh && h === "*") {
      si.at("hosts", i).error("wildcard host * is not allowed for virtual services bound to the mesh gateway");
      allHostsValid = false;
    }
  });
  if (allHostsValid) {
    for (let i = 0; i < hosts.length; i++)
      for (let j = i + 1; j < hosts.length; j++)
        if (hostsOverlap(hosts[i] as string, hosts[j] as string)) si.at("hosts", j).error(`duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`);
  }

  const http = arr(spec["http"]);
  const tcp = arr(spec["tcp"]);
  const tls = arr(spec["tls"]);
  if (http.length === 0 && tcp.length === 0 && tls.length === 0) si.error("http, tcp or tls must be provided in virtual service");

  http.forEach((r, i) => {
    if (isPlainObject(r)) validateHTTPRoute(r, isDelegate, appliesToMesh, si.at("http", i));
  });
  tls.forEach((r, i) => {
    if (isPlainObject(r)) validateTLSRoute(r, hosts, appliesToGateway, si.at("tls", i));
  });
  tcp.forEach((r, i) => {
    if (isPlainObject(r)) validateTCPRoute(r, si.at("tcp", i));
  });
  validateExportTo(spec["exportTo"], namespace, si.at("exportTo"));
}

function validateHTTPRoute(h: Rec, inDelegateVS: boolean, appliesToMesh: boolean, issues: Issues): void {
  const hasRoute = arr(h["route"]).length > 0;
  const redirect = isSet(h["redirect"]);
  const direct = isSet(h["directResponse"]);
  const delegate = isSet(h["delegate"]);
  const fault = isSet(h["fault"]);
  const rewrite = isSet(h["rewrite"]);
  const name = typeof h["name"] === "string" && h["name"] !== "" ? ` ${h["name"]}` : "";

  // exactly one action
  if (delegate) {
    if (inDelegateVS) issues.at("delegate").error("delegate HTTP route cannot contain delegate");
    if (redirect) issues.at("redirect").error(`root HTTP route${name} must not specify redirect (it has a delegate)`);
    if (hasRoute) issues.at("route").error(`root HTTP route${name} must not specify route (it has a delegate)`);
    if (direct) issues.at("directResponse").error(`root HTTP route${name} must not specify directResponse (it has a delegate)`);
    const d = h["delegate"];
    if (isPlainObject(d)) {
      const dn = d["name"];
      if (typeof dn !== "string" || dn === "") issues.at("delegate", "name").error("delegate name is required");
      else {
        const e = dns1123SubdomainError(dn);
        if (e) issues.at("delegate", "name").error(`invalid delegate name: ${e}`);
      }
      const dns = d["namespace"];
      if (typeof dns === "string" && dns !== "") {
        const e = dns1123LabelError(dns);
        if (e) issues.at("delegate", "namespace").error(`invalid delegate namespace: ${e}`);
      }
    }
  } else if (redirect) {
    if (hasRoute) issues.at("route").error("HTTP route cannot contain both route and redirect");
    if (fault) issues.at("fault").error("HTTP route cannot contain both fault and redirect");
    if (rewrite) issues.at("rewrite").error("HTTP route rule cannot contain both rewrite and redirect");
    if (direct) issues.at("directResponse").error("HTTP route rule cannot contain both directResponse and redirect");
  } else if (direct) {
    if (hasRoute) issues.at("route").error("HTTP route cannot contain both route and directResponse");
    if (fault) issues.at("fault").error("HTTP route cannot contain both fault and directResponse");
    if (rewrite) issues.at("rewrite").error("HTTP route rule cannot contain both rewrite and directResponse");
  } else if (!hasRoute) {
    issues.error("HTTP route, redirect, directResponse or delegate is required");
  }
  if (isSet(h["mirror"]) && arr(h["mirrors"]).length > 0) issues.at("mirrors").error("HTTP route cannot contain both mirror and mirrors");

  arr(h["match"]).forEach((m, i) => {
    if (isPlainObject(m)) validateHTTPMatch(m, appliesToMesh, issues.at("match", i));
  });

  validateHeaderOperations(h["headers"], issues.at("headers"));
  validateCors(h["corsPolicy"], issues.at("corsPolicy"));
  validateFault(h["fault"], issues.at("fault"));

  const mp = h["mirrorPercent"];
  if (typeof mp === "number" && mp > 100) issues.at("mirrorPercent").error(`mirrorPercent must have a max value of 100 (it has ${mp})`);
  const mpc = h["mirrorPercentage"];
  if (isPlainObject(mpc) && typeof mpc["value"] === "number" && (mpc["value"] < 0 || mpc["value"] > 100))
    issues.at("mirrorPercentage", "value").error(`mirrorPercentage must be within 0..100 (it has ${mpc["value"]})`);
  if (isPlainObject(h["mirror"])) validateDestination(h["mirror"], issues.at("mirror"));
  arr(h["mirrors"]).forEach((m, i) => {
    if (!isPlainObject(m)) return;
    const at = issues.at("mirrors", i);
    if (!isPlainObject(m["destination"])) at.at("destination").error("destination is required for mirrors");
    else validateDestination(m["destination"], at.at("destination"));
    const p = m["percentage"];
    if (isPlainObject(p) && typeof p["value"] === "number" && (p["value"] < 0 || p["value"] > 100))
      at.at("percentage", "value").error(`mirror percentage must be within 0..100 (it has ${p["value"]})`);
  });

  validateRedirect(h["redirect"], issues.at("redirect"));
  validateDirectResponse(h["directResponse"], issues.at("directResponse"));
  validateRetries(h["retries"], issues.at("retries"));
  validateRewrite(h["rewrite"], issues.at("rewrite"));
  validateAuthorityRewrite(h, issues);
  validateRouteDestinations(arr(h["route"]), issues.at("route"), true);
}

function validateHTTPMatch(m: Rec, appliesToMesh: boolean, issues: Issues): void {
  for (const field of ["headers", "withoutHeaders"] as const) {
    const hs = m[field];
    if (!isPlainObject(hs)) continue;
    for (const [name, sm] of Object.entries(hs)) {
      const at = issues.at(field, name);
      validateMatchHeaderName(name, at);
      if (appliesToMesh && name.startsWith(JWT_CLAIM_PREFIX))
        at.error(`JWT claim based routing (key: ${name}) is only supported for gateways; this virtual service applies to the mesh`);
      validateStringMatch(sm, field, at);
    }
  }
  for (const field of ["uri", "scheme", "method", "authority"] as const) validateStringMatch(m[field], field, issues.at(field));
  const qp = m["queryParams"];
  if (isPlainObject(qp)) for (const [name, sm] of Object.entries(qp)) validateStringMatch(sm, "queryParams", issues.at("queryParams", name));
  validateWhereMatch(m, issues);
  const sns = m["sourceNamespace"];
  if (typeof sns === "string" && sns !== "") {
    const e = dns1123LabelError(sns);
    if (e) issues.at("sourceNamespace").error(`sourceNamespace match ${sns} is invalid: ${e}`);
  }
}

function validateL4Match(m: Rec, issues: Issues): void {
  arr(m["destinationSubnets"]).forEach((s, i) => {
    if (typeof s === "string" && !isIP(s) && !isCIDR(s)) issues.at("destinationSubnets", i).error(`"${s}" is not a valid IP address or CIDR block`);
  });
  validateWhereMatch(m, issues);
}

/** The match fields HTTP and L4 routes share: which port, workloads and gateways a block is for. */
function validateWhereMatch(m: Rec, issues: Issues): void {
  const port = m["port"];
  if (typeof port === "number" && port !== 0) {
    const e = portError(port);
    if (e) issues.at("port").error(e);
  }
  validateIstioLabels(m["sourceLabels"], issues.at("sourceLabels"));
  validateGatewayNames(m["gateways"], issues.at("gateways"));
}

function validateTLSRoute(r: Rec, vsHosts: readonly string[], appliesToGateway: boolean, issues: Issues): void {
  const matches = arr(r["match"]);
  if (matches.length === 0) issues.at("match").error("TLS route must have at least one match condition");
  matches.forEach((m, i) => {
    if (!isPlainObject(m)) return;
    const at = issues.at("match", i);
    const sni = arr(m["sniHosts"]);
    if (sni.length === 0) at.at("sniHosts").error("TLS match must have at least one SNI host");
    sni.forEach((s, j) => {
      if (typeof s !== "string") return;
      const e = wildcardDomainError(s);
      if (e) {
        if (isIP(s)) at.at("sniHosts", j).warning(`using an IP address ("${s}") goes against SNI spec and most clients do not support this`);
        else at.at("sniHosts", j).error(e);
        return;
      }
      if (!appliesToGateway || vsHosts.length > 0) {
        if (!vsHosts.some((h) => hostSubsetOf(s, h)))
          at.at("sniHosts", j).error(`SNI host "${s}" is not a compatible subset of any of the virtual service hosts: [${vsHosts.join(", ")}]`);
      }
    });
    validateL4Match(m, at);
  });
  const route = arr(r["route"]);
  if (route.length === 0) issues.at("route").error("TLS route is required");
  validateRouteDestinations(route, issues.at("route"), false);
}

function validateTCPRoute(r: Rec, issues: Issues): void {
  arr(r["match"]).forEach((m, i) => {
    if (isPlainObject(m)) validateL4Match(m, issues.at("match", i));
  });
  const route = arr(r["route"]);
  if (route.length === 0) issues.at("route").error("TCP route is required");
  validateRouteDestinations(route, issues.at("route"), false);
}

function validateRouteDestinations(route: unknown[], issues: Issues, http: boolean): void {
  let total = 0;
  route.forEach((rd, i) => {
    if (!isPlainObject(rd)) return;
    const at = issues.at(i);
    const d = rd["destination"];
    if (!isPlainObject(d)) at.at("destination").error("destination is required");
    else validateDestination(d, at.at("destination"));
    if (http) validateHeaderOperations(rd["headers"], at.at("headers"));
    const w = rd["weight"];
    if (typeof w === "number") {
      if (w < 0) at.at("weight").error(`weight ${w} < 0`);
      else total += w;
    }
  });
  if (route.length > 1 && total === 0) issues.error("total destination weight = 0: with several destinations, at least one needs a positive weight");
}

function validateDestination(d: Rec, issues: Issues): void {
  const host = d["host"];
  if (host === undefined || host === null || host === "") issues.at("host").error("destination host is required");
  else if (typeof host === "string") {
    if (host === "*") issues.at("host").error("invalid destination host *");
    else {
      const e = wildcardDomainError(host);
      if (e) issues.at("host").error(e);
    }
  }
  const subset = d["subset"];
  if (typeof subset === "string" && subset !== "") {
    const e = dns1123LabelError(subset);
    if (e) issues.at("subset").error(`subset name is invalid: ${e}`);
  }
  const port = d["port"];
  if (isPlainObject(port)) {
    const n = port["number"] ?? 0;
    if (typeof n === "number") {
      const e = portError(n);
      if (e) issues.at("port", "number").error(e);
    }
  }
}

function validateCors(c: unknown, issues: Issues): void {
  if (!isPlainObject(c)) return;
  arr(c["allowOrigins"]).forEach((o, i) => validateStringMatch(o, "allowOrigins", issues.at("allowOrigins", i)));
  arr(c["allowMethods"]).forEach((m, i) => {
    if (typeof m === "string" && !CORS_METHODS.has(m)) issues.at("allowMethods", i).error(`"${m}" is not a supported HTTP method`);
  });
  for (const f of ["allowHeaders", "exposeHeaders"] as const)
    arr(c[f]).forEach((h, i) => {
      if (typeof h !== "string") return;
      if (h === "") issues.at(f, i).error("header name cannot be empty");
      else if (h !== "*" && !CORS_HEADER.test(h)) issues.at(f, i).error(`header name "${h}" is not a valid header name`);
    });
}

function validateFault(f: unknown, issues: Issues): void {
  if (!isPlainObject(f)) return;
  const abort = f["abort"];
  const delay = f["delay"];
  if (!isSet(abort) && !isSet(delay)) issues.error("HTTP fault injection must have an abort and/or a delay");
  if (isPlainObject(abort)) {
    const at = issues.at("abort");
    validatePercentage(abort["percentage"], at.at("percentage"));
    const status = abort["httpStatus"];
    if (typeof status === "number") {
      if (status < 200 || status > 600) at.at("httpStatus").error(`HTTP status ${status} is not in range 200-599`);
    } else if (typeof abort["grpcStatus"] === "string") {
      if (!GRPC_STATUS_CODES.has(abort["grpcStatus"]))
        at.at("grpcStatus").error(`gRPC status "${abort["grpcStatus"]}" is not supported; use a code name such as NOT_FOUND or UNAVAILABLE`);
    } else if (isSet(abort["http2Error"])) {
      at.at("http2Error").error("HTTP/2 abort fault injection is not supported");
    } else {
      at.warning("abort configured, but error type not set (httpStatus or grpcStatus)");
    }
  }
  if (isPlainObject(delay)) {
    const at = issues.at("delay");
    validatePercentage(delay["percentage"], at.at("percentage"));
    const pct = delay["percent"];
    if (typeof pct === "number" && (pct < 0 || pct > 100)) at.at("percent").error(`percentage ${pct} is not in range 0..100`);
    if (typeof pct === "number") at.at("percent").warning("percent is deprecated; use percentage");
    if (isSet(delay["exponentialDelay"])) at.at("exponentialDelay").error("exponentialDelay is not supported");
    else if (!isSet(delay["fixedDelay"])) at.warning("delay configured without fixedDelay; it has no effect");
  }
}

function validateRedirect(r: unknown, issues: Issues): void {
  if (!isPlainObject(r)) return;
  const uri = r["uri"];
  const authority = r["authority"];
  const scheme = r["scheme"];
  if (!uri && !authority && !isSet(r["port"]) && !isSet(r["derivePort"]) && !scheme)
    issues.error("redirect must specify uri, authority, scheme, port or derivePort");
  const code = r["redirectCode"];
  if (typeof code === "number" && code !== 0 && (code < 300 || code > 399))
    issues.at("redirectCode").error(`${code} is not a valid redirect code, must be 3xx`);
  if (typeof scheme === "string" && scheme !== "" && scheme !== "http" && scheme !== "https")
    issues.at("scheme").error(`invalid redirect scheme "${scheme}", must be "http" or "https"`);
  const port = r["port"];
  if (typeof port === "number" && port > 0) {
    const e = portError(port);
    if (e) issues.at("port").error(e);
  }
}

function validateDirectResponse(d: unknown, issues: Issues): void {
  if (!isPlainObject(d)) return;
  const status = d["status"] ?? 0;
  if (typeof status === "number" && (status < 200 || status > 600)) issues.at("status").error(`HTTP status ${status} is not in range 200-599`);
  const body = d["body"];
  if (isPlainObject(body)) {
    let size = 0;
    if (typeof body["string"] === "string") size = new TextEncoder().encode(body["string"]).length;
    if (typeof body["bytes"] === "string") {
      const b = body["bytes"];
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b) || b.length % 4 !== 0) issues.at("body", "bytes").error("bytes must be base64-encoded");
      size = Math.floor((b.length * 3) / 4);
    }
    if (size > MB) issues.at("body").error("large directResponse bodies may impact control plane performance, must be less than 1MB");
    else if (size > 100 * KB) issues.at("body").warning("large directResponse bodies may impact control plane performance");
  }
}

function validateRetries(r: unknown, issues: Issues): void {
  if (!isPlainObject(r)) return;
  const attempts = typeof r["attempts"] === "number" ? r["attempts"] : 0;
  if (attempts < 0) issues.at("attempts").error("attempts cannot be negative");
  if (attempts === 0 && (isSet(r["perTryTimeout"]) || (typeof r["retryOn"] === "string" && r["retryOn"] !== "") || isSet(r["retryRemoteLocalities"])))
    issues.error("http retry policy configured when attempts are set to 0 (disabled); set attempts");
  const retryOn = r["retryOn"];
  if (typeof retryOn === "string" && retryOn !== "") {
    for (const policy of retryOn.split(",")) {
      const isStatus = /^[1-5][0-9][0-9]$/.test(policy);
      if (!isStatus && !RETRY_ON.has(policy)) issues.at("retryOn").error(`"${policy}" is not a valid retryOn policy`);
    }
  }
}

function validateRewrite(r: unknown, issues: Issues): void {
  if (!isPlainObject(r)) return;
  const uri = typeof r["uri"] === "string" ? r["uri"] : "";
  const rr = r["uriRegexRewrite"];
  const authority = typeof r["authority"] === "string" ? r["authority"] : "";
  if (uri !== "" && isSet(rr)) issues.error("rewrite may only contain one of uri or uriRegexRewrite");
  if (uri === "" && !isSet(rr) && authority === "") issues.error("rewrite must specify at least one of uri, uriRegexRewrite, or authority");
  if (isPlainObject(rr)) {
    const at = issues.at("uriRegexRewrite");
    const match = rr["match"];
    const rewrite = rr["rewrite"];
    if (typeof match !== "string" || match === "" || typeof rewrite !== "string" || rewrite === "")
      at.error("uriRegexRewrite requires both match and rewrite to be specified");
    if (typeof match === "string" && match !== "") {
      const e = regexError(match);
      if (e) at.at("match").error(e);
    }
  }
}

/** The authority may be rewritten in one place only: rewrite.authority or a request host/:authority header. */
function validateAuthorityRewrite(h: Rec, issues: Issues): void {
  const rw = h["rewrite"];
  let current = isPlainObject(rw) && typeof rw["authority"] === "string" ? rw["authority"] : "";
  const headers = h["headers"];
  const req = isPlainObject(headers) ? headers["request"] : undefined;
  if (!isPlainObject(req)) return;
  for (const op of ["set", "add"] as const) {
    const m = req[op];
    if (!isPlainObject(m)) continue;
    for (const [k, v] of Object.entries(m)) {
      if (!isAuthorityHeader(k) || typeof v !== "string") continue;
      if (current !== "")
        issues.at("headers", "request", op, k).error(`authority header cannot be set multiple times: have "${current}", attempting to set "${v}"`);
      current = v;
    }
  }
}
