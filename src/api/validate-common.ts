/** Checks shared by several kinds: object metadata, Istio string matches, header names and values, percentages. */
import { isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import type { ObjectMeta } from "./kube-types.js";
import { copyRecord } from "./shaped-copy.js";
import { validateRe2 } from "./re2.js";
import { describe, dns1035LabelError, dns1123LabelError, dns1123SubdomainError, fqdnError, qualifiedNameError, validateLabelMap } from "./validate-names.js";

export type NameRule = "dns1123-subdomain" | "dns1123-label" | "dns1035-label";

/**
 * Validate and normalize `metadata`. `namespace` is the (possibly defaulted) namespace to record;
 * pass undefined for cluster-scoped kinds. Other metadata fields (managedFields, ownerReferences, …) are dropped.
 */
export function normalizeMetadata(raw: unknown, issues: Issues, nameRule: NameRule, namespace: string | undefined): ObjectMeta {
  const m = isPlainObject(raw) ? raw : {};
  if (raw !== undefined && raw !== null && !isPlainObject(raw)) issues.error(`expected a map, got ${describe(raw)}`);
  const name = m["name"];
  let outName = "";
  if (name === undefined || name === null || name === "") {
    issues.at("name").error("metadata.name is required (generateName is not supported for files)");
  } else if (typeof name !== "string") {
    issues.at("name").error(`expected a string, got ${describe(name)}`);
  } else {
    outName = name;
    const e = nameRule === "dns1123-label" ? dns1123LabelError(name) : nameRule === "dns1035-label" ? dns1035LabelError(name) : dns1123SubdomainError(name);
    if (e) issues.at("name").error(`invalid name: ${e}`);
  }
  if (namespace !== undefined) {
    const e = dns1123LabelError(namespace);
    if (e) issues.at("namespace").error(`invalid namespace: ${e}`);
  }
  validateLabelMap(m["labels"], issues.at("labels"));
  const annotations = m["annotations"];
  if (annotations !== undefined && annotations !== null) {
    if (!isPlainObject(annotations)) issues.at("annotations").error(`expected a map of strings, got ${describe(annotations)}`);
    else
      for (const [k, v] of Object.entries(annotations)) {
        const ke = qualifiedNameError(k);
        if (ke) issues.at("annotations", k).error(`invalid annotation key ${ke}`);
        if (typeof v !== "string") issues.at("annotations", k).error(`annotation value must be a string, got ${describe(v)}`);
      }
  }
  const out: Record<string, unknown> = { name: outName };
  if (namespace !== undefined) out["namespace"] = namespace;
  for (const f of ["labels", "annotations"] as const) {
    const v = m[f];
    if (isPlainObject(v) && Object.keys(v).length > 0) out[f] = copyRecord(v);
  }
  for (const f of ["creationTimestamp", "resourceVersion", "uid"] as const) {
    const v = m[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") issues.at(f).error(`expected a string, got ${describe(v)}`);
    else out[f] = v;
  }
  const gen = m["generation"];
  if (gen !== undefined && gen !== null) {
    if (typeof gen !== "number" || !Number.isInteger(gen)) issues.at("generation").error(`expected an integer, got ${describe(gen)}`);
    else out["generation"] = gen;
  }
  return out as unknown as ObjectMeta;
}

// ---- Istio string matches --------------------------------------------------------------------

/** Istio's regex length limit (Envoy's RE2 program size is approximated by length). */
export const MAX_REGEX_LENGTH = 1024;

export function regexError(re: string): string | undefined {
  if (re === "") return "regex string match should not be empty";
  if (re.length > MAX_REGEX_LENGTH) return `regex is too large, max length allowed is ${MAX_REGEX_LENGTH}`;
  const e = validateRe2(re);
  return e ? `${e} (Envoy uses RE2 syntax: https://github.com/google/re2/wiki/Syntax)` : undefined;
}

export type StringMatchWhere = "uri" | "scheme" | "method" | "authority" | "headers" | "withoutHeaders" | "queryParams" | "allowOrigins";

/**
 * Semantic checks of a StringMatch (its shape was checked by the schema). An empty match is a
 * presence match for headers and query parameters; elsewhere it matches everything and is flagged.
 */
export function validateStringMatch(sm: unknown, where: StringMatchWhere, issues: Issues): void {
  if (!isPlainObject(sm)) return;
  const set = (["exact", "prefix", "regex"] as const).filter((k) => typeof sm[k] === "string");
  if (set.length === 0) {
    if (where === "allowOrigins") issues.error("an allowOrigins entry must set one of exact, prefix, regex");
    else if (where === "uri" || where === "scheme" || where === "method" || where === "authority")
      issues.warning(`empty ${where} match matches everything; set one of exact, prefix, regex`);
    return;
  }
  const prefix = sm["prefix"];
  if (typeof prefix === "string" && prefix === "" && where !== "uri") issues.at("prefix").error(`"${where}": prefix string match should not be empty`);
  const exact = sm["exact"];
  if (typeof exact === "string" && exact === "" && where === "allowOrigins") issues.at("exact").error("an allowOrigins exact match should not be empty");
  const regex = sm["regex"];
  if (typeof regex === "string") {
    // withoutHeaders: regex "*" is Istio's spelling of a presence match, not a regex
    if (where === "withoutHeaders" && regex === "*") return;
    const e = regexError(regex);
    if (e) issues.at("regex").error(e);
  }
}

// ---- headers -----------------------------------------------------------------------------------

const TOKEN = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([":method", ":scheme", ":authority", ":path", ":status"]);
export const JWT_CLAIM_PREFIX = "@request.auth.claims.";

/** A header name in a route match (headers / withoutHeaders). */
export function validateMatchHeaderName(name: string, issues: Issues): void {
  if (name === "") {
    issues.error("header name cannot be empty");
    return;
  }
  if (name.startsWith(JWT_CLAIM_PREFIX) || PSEUDO_HEADERS.has(name)) return;
  if (!TOKEN.test(name)) {
    issues.error(`header name "${name}" is not a valid header name`);
    return;
  }
  if (name !== name.toLowerCase()) issues.warning(`header names are matched in lowercase; write "${name.toLowerCase()}"`);
}

function isInternalHeader(name: string): boolean {
  return name.startsWith(":") || name.toLowerCase() === "host";
}
export function isAuthorityHeader(name: string): boolean {
  const l = name.toLowerCase();
  return l === ":authority" || l === "host";
}

/** Control characters other than horizontal tab. */
function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}
/** `%COMMAND%`, `%COMMAND(args)%`, `%COMMAND(args):N%` at a position (sticky). */
const FORMAT_COMMAND = /[A-Z][A-Z0-9_]*(?:\([^)]*\))?(?::[0-9]+)?%/y;

/** Envoy header value: no control characters; `%` starts a `%COMMAND%` and a literal one is written `%%`. */
export function headerValueError(value: string): string | undefined {
  if (hasControlChars(value)) return `header value ${JSON.stringify(value)} contains control characters`;
  let i = 0;
  while (i < value.length) {
    if (value[i] !== "%") {
      i++;
      continue;
    }
    if (value[i + 1] === "%") {
      i += 2;
      continue;
    }
    FORMAT_COMMAND.lastIndex = i + 1;
    const m = FORMAT_COMMAND.exec(value);
    if (!m)
      return `header value ${JSON.stringify(value)}: "%" at offset ${i} does not start an Envoy format command such as %REQ(x-id)%; write a literal % as %%`;
    i = FORMAT_COMMAND.lastIndex;
  }
  return undefined;
}

/** `headers: {request: {set, add, remove}, response: {…}}` as Istio's webhook checks it. */
export function validateHeaderOperations(headers: unknown, issues: Issues): void {
  if (!isPlainObject(headers)) return;
  for (const side of ["request", "response"] as const) {
    const ops = headers[side];
    if (!isPlainObject(ops)) continue;
    const at = issues.at(side);
    for (const op of ["set", "add"] as const) {
      const m = ops[op];
      if (!isPlainObject(m)) continue;
      for (const [name, value] of Object.entries(m)) {
        const hi = at.at(op, name);
        if (name === "") hi.error("header name cannot be empty");
        else if (side === "request" && isInternalHeader(name) && !isAuthorityHeader(name)) hi.error(`invalid header "${name}": header cannot have ":" prefix`);
        else if (side === "response" && name.toLowerCase() === "host") hi.error(`invalid header "${name}": cannot set Host header`);
        else if (side === "response" && name.startsWith(":")) hi.error(`invalid header "${name}": header cannot have ":" prefix`);
        else if (hasControlChars(name) || /\s/.test(name)) hi.error(`header name ${JSON.stringify(name)} is not a valid header name`);
        if (typeof value === "string") {
          const e = headerValueError(value);
          if (e) hi.error(e);
        }
      }
    }
    const remove = ops["remove"];
    if (Array.isArray(remove)) {
      remove.forEach((name, i) => {
        if (typeof name !== "string") return;
        const hi = at.at("remove", i);
        if (name === "") hi.error("header name cannot be empty");
        else if (name.toLowerCase() === "host") hi.error(`invalid header "${name}": cannot remove Host header`);
        else if (name.startsWith(":")) hi.error(`invalid header "${name}": header cannot have ":" prefix`);
      });
    }
  }
}

// ---- misc Istio ------------------------------------------------------------------------------

/** Percent{value}: 0, or within [0.0001, 100]. */
export function validatePercentage(p: unknown, issues: Issues): void {
  if (!isPlainObject(p)) return;
  const v = p["value"];
  if (typeof v !== "number") return;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) issues.at("value").error(`percentage ${v} is neither 0.0, nor in range [0.0001, 100.0]`);
}

/** `gateways: [ns/name | name | mesh]`. */
export function validateGatewayNames(list: unknown, issues: Issues): void {
  if (!Array.isArray(list)) return;
  list.forEach((g, i) => {
    if (typeof g !== "string") return;
    const at = issues.at(i);
    const slash = g.indexOf("/");
    if (slash < 0) {
      const e = fqdnError(g);
      if (e) at.error(`invalid gateway name: ${e}`);
      else if (g.includes(".")) {
        const [name, ns] = g.split(".");
        at.warning(`using legacy gateway name format "${g}"; prefer <namespace>/<name>: "${ns}/${name}"`);
      }
      return;
    }
    const ns = g.slice(0, slash);
    const name = g.slice(slash + 1);
    if (ns === "" || name === "") {
      at.error("config namespace and gateway name cannot be empty");
      return;
    }
    const nse = dns1123LabelError(ns);
    if (nse) at.error(`invalid value for namespace: ${nse}`);
    const ne = dns1123LabelError(name);
    if (ne) at.error(`invalid value for gateway name: ${ne}`);
  });
}

/** `exportTo: [".", "*", "<namespace>"]`; a ServiceEntry may also say `~` (exported nowhere), alone. */
export function validateExportTo(list: unknown, namespace: string, issues: Issues, opts: { readonly allowNone?: boolean } = {}): void {
  if (!Array.isArray(list) || list.length === 0) return;
  const seen = new Set<string>();
  list.forEach((e, i) => {
    if (typeof e !== "string") return;
    const at = issues.at(i);
    const key = e === "." ? namespace : e;
    if (seen.has(key)) {
      at.error(key !== e ? `duplicate entries in exportTo: . and current namespace ${namespace}` : `duplicate entries in exportTo for entry ${e}`);
      return;
    }
    seen.add(key);
    if (e === "." || e === "*") return;
    if (e === "~") {
      if (!opts.allowNone) at.error(`exportTo "~" is only allowed for ServiceEntry`);
      else if (list.length > 1) at.error(`exportTo "~" (exported nowhere) cannot be combined with other entries`);
      return;
    }
    const err = dns1123LabelError(e);
    if (err) at.error(`invalid exportTo value: ${err}`);
  });
  if (seen.has("*") && list.length > 1) issues.error("cannot have both public (*) and non-public exportTo values for a resource");
}

/** Istio label selectors (`sourceLabels`, subset `labels`). Shape (map of strings) is checked by the schema. */
export function validateIstioLabels(labels: unknown, issues: Issues): void {
  if (!isPlainObject(labels)) return;
  for (const [k, v] of Object.entries(labels)) {
    const at = issues.at(k);
    const ke = qualifiedNameError(k);
    if (ke) at.error(`invalid label key ${ke}`);
    if (typeof v === "string") {
      if (v.length > 63 || (v !== "" && !/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/.test(v))) at.error(`invalid label value "${v}"`);
    }
  }
}

// ---- typed field access for Kubernetes objects (unknown fields there are ignored, not errors) ---

type Rec = Record<string, unknown>;

/** The map at `o[k]`, or undefined (with an error when it is there but not a map). */
export function optMap(o: Rec, k: string, issues: Issues): Rec | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) {
    issues.at(k).error(`expected a map, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function optList(o: Rec, k: string, issues: Issues): unknown[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    issues.at(k).error(`expected a list, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function optString(o: Rec, k: string, issues: Issues): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") {
    issues.at(k).error(`expected a string, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function optBool(o: Rec, k: string, issues: Issues): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") {
    issues.at(k).error(`expected true or false, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function optInt(o: Rec, k: string, issues: Issues): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    issues.at(k).error(`expected an integer, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function optEnum<T extends string>(o: Rec, k: string, values: readonly T[], issues: Issues): T | undefined {
  const v = optString(o, k, issues);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) {
    issues.at(k).error(`unsupported value "${v}": expected one of ${values.join(", ")}`);
    return undefined;
  }
  return v as T;
}

/** A map of strings (selector, labels) copied as is; its keys/values are checked by validateLabelMap. */
export function optStringMap(o: Rec, k: string, issues: Issues): Readonly<Record<string, string>> | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  validateLabelMap(v, issues.at(k));
  if (!isPlainObject(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, val] of Object.entries(v)) if (typeof val === "string") out[key] = val;
  return out;
}

export const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;
