/**
 * Validation of the Gateway API kinds, as the CRDs' schemas and CEL rules of Gateway API v1.5
 * check them (field names, types, enums, the path and header rules), so that a file gives the
 * same errors as `kubectl apply` would. Known fields that meshpilot does not act on are
 * warnings (MP0008) and the object is served without them. What depends on other objects (a
 * parent that does not exist, a missing Secret) is not checked here but in the conversion, which
 * reports it in the route's or Gateway's status.
 */
import { Codes } from "../codes.js";
import { stripNulls } from "../equal.js";
import { checkMessage, isPlainObject, type FieldType, type MessageSchema } from "../istio-schema.js";
import type { Issues } from "../issues.js";
import type { ObjectMeta } from "../kube-types.js";
import type { InputObject } from "../objects.js";
import { regexError } from "../validate-common.js";
import { wildcardDomainError } from "../validate-names.js";
import type { GatewayApiObject } from "./types.js";

/** RequestRedirect status codes (the v1.5 CRD's enum; Envoy has a response code for each). */
const REDIRECT_CODES: readonly number[] = [301, 302, 303, 307, 308];

const str: FieldType = { t: "string" };
const int: FieldType = { t: "int32" };
const enm = (...values: string[]): FieldType => ({ t: "enum", values });
const msg = (of: () => MessageSchema): FieldType => ({ t: "message", of });
const list = (of: FieldType): FieldType => ({ t: "list", of });
const strMap: FieldType = { t: "map", of: str };
const API = "Gateway API";
const schema = (name: string, fields: Record<string, FieldType>, notImplemented?: Record<string, string>): MessageSchema => ({
  name,
  api: API,
  fields,
  ...(notImplemented ? { notImplemented } : {}),
});
/** A map meshpilot does not look into (each such field is listed as not implemented). */
const anyMap: FieldType = { t: "object" };

const LabelSelectorSchema = schema("LabelSelector", { matchLabels: strMap, matchExpressions: list(anyMap) });
const ObjectRefSchema = schema("ObjectReference", { group: str, kind: str, name: str, namespace: str });
const GatewayClassSpecSchema = schema(
  "GatewayClassSpec",
  { controllerName: str, description: str, parametersRef: msg(() => ObjectRefSchema) },
  {
    parametersRef: "no parameters are read for a class",
  },
);
const ListenerSchema = schema("Listener", {
  name: str,
  hostname: str,
  port: int,
  protocol: str,
  tls: msg(() =>
    schema(
      "ListenerTLSConfig",
      { mode: enm("Terminate", "Passthrough"), certificateRefs: list(msg(() => ObjectRefSchema)), options: strMap },
      {
        options: "implementation-specific TLS options are not read",
      },
    ),
  ),
  allowedRoutes: msg(() =>
    schema("AllowedRoutes", {
      namespaces: msg(() => schema("RouteNamespaces", { from: enm("All", "Same", "Selector"), selector: msg(() => LabelSelectorSchema) })),
      kinds: list(msg(() => schema("RouteGroupKind", { group: str, kind: str }))),
    }),
  ),
});
const GatewaySpecSchema = schema(
  "GatewaySpec",
  {
    gatewayClassName: str,
    listeners: list(msg(() => ListenerSchema)),
    addresses: list(msg(() => schema("GatewayAddress", { type: str, value: str }))),
    infrastructure: anyMap,
    allowedListeners: anyMap,
    tls: anyMap,
    defaultScope: str,
  },
  {
    addresses: "the address is the one of the Service meshpilot deploys",
    infrastructure: "labels, annotations and parameters of the deployed gateway are not applied",
    allowedListeners: "ListenerSets are not read",
    tls: "frontend client-certificate validation is not applied",
    defaultScope: "default Gateways are not implemented",
  },
);
const ParentRefSchema = schema("ParentReference", { group: str, kind: str, namespace: str, name: str, sectionName: str, port: int });
const BackendRefFields = { group: str, kind: str, name: str, namespace: str, port: int, weight: int };
const HeaderSchema = schema("HTTPHeader", { name: str, value: str });
const HeaderModifierSchema = schema("HTTPHeaderFilter", { set: list(msg(() => HeaderSchema)), add: list(msg(() => HeaderSchema)), remove: list(str) });
const PathModifierSchema = schema("HTTPPathModifier", {
  type: enm("ReplaceFullPath", "ReplacePrefixMatch"),
  replaceFullPath: str,
  replacePrefixMatch: str,
});
const FILTER_TYPES = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite", "RequestMirror", "ExtensionRef", "CORS"];
const FilterSchema = schema(
  "HTTPRouteFilter",
  {
    type: enm(...FILTER_TYPES),
    requestHeaderModifier: msg(() => HeaderModifierSchema),
    responseHeaderModifier: msg(() => HeaderModifierSchema),
    requestRedirect: msg(() =>
      schema("HTTPRequestRedirectFilter", { scheme: enm("http", "https"), hostname: str, path: msg(() => PathModifierSchema), port: int, statusCode: int }),
    ),
    urlRewrite: msg(() => schema("HTTPURLRewriteFilter", { hostname: str, path: msg(() => PathModifierSchema) })),
    requestMirror: msg(() =>
      schema("HTTPRequestMirrorFilter", {
        backendRef: msg(() => schema("BackendObjectReference", { group: str, kind: str, name: str, namespace: str, port: int })),
        percent: int,
        fraction: msg(() => schema("Fraction", { numerator: int, denominator: int })),
      }),
    ),
    extensionRef: anyMap,
    cors: anyMap,
  },
  { extensionRef: "extension filters are not implemented", cors: "the CORS filter is not implemented" },
);
const HTTPBackendRefSchema = schema("HTTPBackendRef", { ...BackendRefFields, filters: list(msg(() => FilterSchema)) });
const ValueMatchSchema = (name: string): MessageSchema => schema(name, { type: enm("Exact", "RegularExpression"), name: str, value: str });
const HTTPRouteSpecSchema = schema(
  "HTTPRouteSpec",
  {
    parentRefs: list(msg(() => ParentRefSchema)),
    hostnames: list(str),
    useDefaultGateways: str,
    rules: list(
      msg(() =>
        schema(
          "HTTPRouteRule",
          {
            name: str,
            matches: list(
              msg(() =>
                schema("HTTPRouteMatch", {
                  path: msg(() => schema("HTTPPathMatch", { type: enm("Exact", "PathPrefix", "RegularExpression"), value: str })),
                  headers: list(msg(() => ValueMatchSchema("HTTPHeaderMatch"))),
                  queryParams: list(msg(() => ValueMatchSchema("HTTPQueryParamMatch"))),
                  method: enm("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"),
                }),
              ),
            ),
            filters: list(msg(() => FilterSchema)),
            backendRefs: list(msg(() => HTTPBackendRefSchema)),
            timeouts: msg(() => schema("HTTPRouteTimeouts", { request: str, backendRequest: str })),
            retry: anyMap,
            sessionPersistence: anyMap,
          },
          { retry: "route retries are not implemented", sessionPersistence: "session persistence is not implemented" },
        ),
      ),
    ),
  },
  { useDefaultGateways: "default Gateways are not implemented" },
);
const GRPCRouteSpecSchema = schema("GRPCRouteSpec", {
  parentRefs: list(msg(() => ParentRefSchema)),
  hostnames: list(str),
  rules: list(
    msg(() =>
      schema(
        "GRPCRouteRule",
        {
          name: str,
          matches: list(
            msg(() =>
              schema("GRPCRouteMatch", {
                method: msg(() => schema("GRPCMethodMatch", { type: enm("Exact", "RegularExpression"), service: str, method: str })),
                headers: list(msg(() => ValueMatchSchema("GRPCHeaderMatch"))),
              }),
            ),
          ),
          filters: list(msg(() => FilterSchema)),
          backendRefs: list(msg(() => HTTPBackendRefSchema)),
          sessionPersistence: anyMap,
        },
        { sessionPersistence: "session persistence is not implemented" },
      ),
    ),
  ),
});
const L4RouteSpecSchema = (name: string, hostnames: boolean): MessageSchema =>
  schema(
    name,
    {
      parentRefs: list(msg(() => ParentRefSchema)),
      ...(hostnames ? { hostnames: list(str) } : {}),
      rules: list(msg(() => schema(`${name.replace("Spec", "")}Rule`, { name: str, backendRefs: list(msg(() => schema("BackendRef", BackendRefFields))) }))),
      useDefaultGateways: str,
    },
    { useDefaultGateways: "default Gateways are not implemented" },
  );
const ReferenceGrantSpecSchema = schema("ReferenceGrantSpec", {
  from: list(msg(() => schema("ReferenceGrantFrom", { group: str, kind: str, namespace: str }))),
  to: list(msg(() => schema("ReferenceGrantTo", { group: str, kind: str, name: str }))),
});

type Rec = Record<string, unknown>;
const asList = (v: unknown): Rec[] => (Array.isArray(v) ? v.filter(isPlainObject) : []);

function required(o: Rec, fields: readonly string[], issues: Issues): void {
  for (const f of fields) if (o[f] === undefined || o[f] === null || o[f] === "") issues.at(f).error(`${f} is required`);
}

function port(v: unknown, issues: Issues): void {
  if (typeof v === "number" && (v < 1 || v > 65535)) issues.error(`port must be between 1 and 65535, got ${v}`);
}

function hostname(v: unknown, issues: Issues): void {
  if (typeof v !== "string") return;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v) || v.includes(":")) {
    issues.error(`hostname "${v}" must be a DNS name, not an IP address`);
    return;
  }
  const e = wildcardDomainError(v);
  if (e) issues.error(e);
}

function parentRefs(spec: Rec, issues: Issues): void {
  asList(spec["parentRefs"]).forEach((p, i) => {
    required(p, ["name"], issues.at("parentRefs", i));
    port(p["port"], issues.at("parentRefs", i, "port"));
  });
}

function backendRef(b: Rec, issues: Issues): void {
  required(b, ["name"], issues);
  port(b["port"], issues.at("port"));
  const w = b["weight"];
  if (typeof w === "number" && (w < 0 || w > 1_000_000)) issues.at("weight").error(`weight must be between 0 and 1000000, got ${w}`);
  const core = (b["group"] ?? "") === "" && (b["kind"] ?? "Service") === "Service";
  if (core && b["port"] === undefined) issues.at("port").error("port is required when the backend is a Service");
}

function headerName(name: unknown, issues: Issues): void {
  if (typeof name === "string" && !/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) issues.error(`"${name}" is not a valid HTTP header name`);
}

function valueMatches(list: unknown, issues: Issues): void {
  asList(list).forEach((m, i) => {
    const at = issues.at(i);
    required(m, ["name", "value"], at);
    headerName(m["name"], at.at("name"));
    if (m["type"] === "RegularExpression" && typeof m["value"] === "string") {
      const e = regexError(m["value"]);
      if (e) at.at("value").error(e);
    }
  });
}

function pathModifier(p: unknown, issues: Issues): void {
  if (!isPlainObject(p)) return;
  const t = p["type"];
  if (t === "ReplaceFullPath" && typeof p["replaceFullPath"] !== "string")
    issues.at("replaceFullPath").error("replaceFullPath must be set when type is ReplaceFullPath");
  if (t === "ReplacePrefixMatch" && typeof p["replacePrefixMatch"] !== "string")
    issues.at("replacePrefixMatch").error("replacePrefixMatch must be set when type is ReplacePrefixMatch");
  for (const f of ["replaceFullPath", "replacePrefixMatch"]) {
    const v = p[f];
    if (typeof v === "string" && !v.startsWith("/")) issues.at(f).error(`${f} must be an absolute path (start with "/"), got "${v}"`);
  }
}

/** The field each filter type carries; exactly that one must be set (the CRD's CEL rule). */
const FILTER_FIELD: Readonly<Record<string, string>> = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestRedirect: "requestRedirect",
  URLRewrite: "urlRewrite",
  RequestMirror: "requestMirror",
  ExtensionRef: "extensionRef",
  CORS: "cors",
};

function filters(list: unknown, issues: Issues): void {
  const rows = asList(list);
  rows.forEach((f, i) => {
    const at = issues.at(i);
    const t = f["type"];
    if (typeof t !== "string") {
      at.at("type").error("type is required");
      return;
    }
    const want = FILTER_FIELD[t];
    for (const field of Object.values(FILTER_FIELD))
      if (f[field] !== undefined && f[field] !== null && field !== want)
        at.at(field).error(`${field} may only be set when type is ${t === "" ? "…" : Object.keys(FILTER_FIELD).find((k) => FILTER_FIELD[k] === field)}`);
    if (want && (f[want] === undefined || f[want] === null)) at.at(want).error(`${want} must be set when type is ${t}`);
    for (const kind of ["requestHeaderModifier", "responseHeaderModifier"]) {
      const m = f[kind];
      if (isPlainObject(m)) for (const op of ["set", "add"]) asList(m[op]).forEach((h, j) => headerName(h["name"], at.at(kind, op, j, "name")));
    }
    const redirect = f["requestRedirect"];
    if (isPlainObject(redirect)) {
      pathModifier(redirect["path"], at.at("requestRedirect", "path"));
      const code = redirect["statusCode"];
      if (typeof code === "number" && !REDIRECT_CODES.includes(code))
        at.at("requestRedirect", "statusCode").error(`statusCode must be one of ${REDIRECT_CODES.join(", ")}, got ${code}`);
      port(redirect["port"], at.at("requestRedirect", "port"));
    }
    const rewrite = f["urlRewrite"];
    if (isPlainObject(rewrite)) pathModifier(rewrite["path"], at.at("urlRewrite", "path"));
    const mirror = f["requestMirror"];
    if (isPlainObject(mirror)) {
      if (isPlainObject(mirror["backendRef"])) backendRef(mirror["backendRef"], at.at("requestMirror", "backendRef"));
      else at.at("requestMirror", "backendRef").error("backendRef is required");
      const pct = mirror["percent"];
      if (typeof pct === "number" && (pct < 0 || pct > 100)) at.at("requestMirror", "percent").error(`percent must be between 0 and 100, got ${pct}`);
      if (pct !== undefined && mirror["fraction"] !== undefined) at.at("requestMirror").error("only one of percent and fraction may be set");
    }
  });
  for (const t of ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"])
    if (rows.filter((f) => f["type"] === t).length > 1) issues.error(`the ${t} filter may appear only once in a list`);
  if (rows.some((f) => f["type"] === "RequestRedirect") && rows.some((f) => f["type"] === "URLRewrite"))
    issues.error("RequestRedirect and URLRewrite cannot both be set on one rule");
}

/** GEP-2257 durations: 1 to 4 parts of digits and h, m, s or ms ("1h", "10s", "500ms"). */
function gatewayDuration(v: unknown, issues: Issues): void {
  if (typeof v === "string" && !/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(v))
    issues.error(`"${v}" is not a Gateway API duration (such as "10s", "1m30s" or "500ms")`);
}

function httpRules(spec: Rec, issues: Issues, grpc: boolean): void {
  asList(spec["rules"]).forEach((r, i) => {
    const at = issues.at("rules", i);
    asList(r["matches"]).forEach((m, j) => {
      const mat = at.at("matches", j);
      const path = m["path"];
      if (isPlainObject(path) && typeof path["value"] === "string") {
        const t = path["type"] ?? "PathPrefix";
        const v = path["value"];
        if (t === "RegularExpression") {
          const e = regexError(v);
          if (e) mat.at("path", "value").error(e);
        } else if (!v.startsWith("/")) mat.at("path", "value").error(`a ${t} path must start with "/", got "${v}"`);
        else if (/\/\/|\/\.\.?(\/|$)|#|%2f|%2F/.test(v))
          mat.at("path", "value").error(`path "${v}" must not contain "//", "/./", "/../", "#" or an encoded "/"`);
      }
      valueMatches(m["headers"], mat.at("headers"));
      valueMatches(m["queryParams"], mat.at("queryParams"));
      const method = m["method"];
      if (grpc && isPlainObject(method) && method["type"] === "Exact" && !method["service"] && !method["method"])
        mat.at("method").error("one or both of service and method must be set");
    });
    filters(r["filters"], at.at("filters"));
    asList(r["backendRefs"]).forEach((b, j) => {
      backendRef(b, at.at("backendRefs", j));
      filters(b["filters"], at.at("backendRefs", j, "filters"));
    });
    const timeouts = r["timeouts"];
    if (isPlainObject(timeouts)) {
      gatewayDuration(timeouts["request"], at.at("timeouts", "request"));
      gatewayDuration(timeouts["backendRequest"], at.at("timeouts", "backendRequest"));
    }
  });
}

const SPEC: Readonly<Record<GatewayApiObject["kind"], { schema: MessageSchema; check: (spec: Rec, issues: Issues) => void }>> = {
  GatewayClass: { schema: GatewayClassSpecSchema, check: (s, is) => required(s, ["controllerName"], is) },
  KubernetesGateway: {
    schema: GatewaySpecSchema,
    check: (s, is) => {
      required(s, ["gatewayClassName", "listeners"], is);
      const names = new Set<string>();
      asList(s["listeners"]).forEach((l, i) => {
        const at = is.at("listeners", i);
        required(l, ["name", "port", "protocol"], at);
        port(l["port"], at.at("port"));
        hostname(l["hostname"], at.at("hostname"));
        if (typeof l["name"] === "string") {
          if (names.has(l["name"])) at.at("name").error(`listener name "${l["name"]}" is used twice; listener names must be unique`);
          names.add(l["name"]);
        }
        const p = l["protocol"];
        if ((p === "HTTPS" || p === "TLS") && !isPlainObject(l["tls"])) at.at("tls").error(`tls must be set for protocol ${p}`);
        if ((p === "HTTP" || p === "TCP" || p === "UDP") && l["tls"] !== undefined && l["tls"] !== null)
          at.at("tls").error(`tls must not be set for protocol ${p}`);
      });
    },
  },
  HTTPRoute: {
    schema: HTTPRouteSpecSchema,
    check: (s, is) => {
      parentRefs(s, is);
      (Array.isArray(s["hostnames"]) ? s["hostnames"] : []).forEach((h, i) => hostname(h, is.at("hostnames", i)));
      httpRules(s, is, false);
    },
  },
  GRPCRoute: {
    schema: GRPCRouteSpecSchema,
    check: (s, is) => {
      parentRefs(s, is);
      (Array.isArray(s["hostnames"]) ? s["hostnames"] : []).forEach((h, i) => hostname(h, is.at("hostnames", i)));
      httpRules(s, is, true);
    },
  },
  TCPRoute: { schema: L4RouteSpecSchema("TCPRouteSpec", false), check: (s, is) => l4(s, is) },
  TLSRoute: {
    schema: L4RouteSpecSchema("TLSRouteSpec", true),
    check: (s, is) => {
      (Array.isArray(s["hostnames"]) ? s["hostnames"] : []).forEach((h, i) => hostname(h, is.at("hostnames", i)));
      l4(s, is);
    },
  },
  ReferenceGrant: {
    schema: ReferenceGrantSpecSchema,
    check: (s, is) => {
      required(s, ["from", "to"], is);
      asList(s["from"]).forEach((f, i) => required(f, ["kind", "namespace"], is.at("from", i)));
      asList(s["to"]).forEach((t, i) => required(t, ["kind"], is.at("to", i)));
    },
  },
};

function l4(s: Rec, issues: Issues): void {
  parentRefs(s, issues);
  asList(s["rules"]).forEach((r, i) => asList(r["backendRefs"]).forEach((b, j) => backendRef(b, issues.at("rules", i, "backendRefs", j))));
}

const TOP_LEVEL = ["apiVersion", "kind", "metadata", "spec", "status"];

/** Validates one Gateway API object; `kind` is the registry's kind (KubernetesGateway for a Gateway). */
export function validateGatewayApiObject(kind: GatewayApiObject["kind"], raw: Rec, metadata: ObjectMeta, issues: Issues): InputObject {
  for (const k of Object.keys(raw)) if (!TOP_LEVEL.includes(k)) issues.at(k).error(`unknown field "${k}"`);
  const spec = raw["spec"];
  const { schema: s, check } = SPEC[kind];
  if (!isPlainObject(spec)) issues.at("spec").error(spec === undefined || spec === null ? "spec is required" : "spec must be a map");
  else {
    checkMessage(spec, s, issues.at("spec"));
    check(spec, issues.at("spec"));
  }
  const clean = isPlainObject(spec) ? (stripNulls(spec) as Rec) : {};
  return { apiVersion: raw["apiVersion"], kind, metadata, spec: clean } as unknown as InputObject;
}

export const GATEWAY_API_SCHEMA_CODE = Codes.KubeSchema;
