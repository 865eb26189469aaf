/**
 * AuthorizationPolicy validation, following Istio 1.30's webhook after the schema check: the
 * selector or a target reference (not both), the action and its provider (CUSTOM only), and per
 * rule: each `from.source` and `to.operation` sets at least one field, values are not empty, IP
 * blocks are addresses or CIDRs, ports are numbers up to 65535, and each `when` condition names a
 * key Istio knows with values or notValues in the form that key takes.
 */
import { checkMessage, isPlainObject, type FieldType, type MessageSchema } from "../istio-schema.js";
import type { Issues } from "../issues.js";
import { validateIstioLabels } from "../validate-common.js";
import { isCIDR, isIP } from "../validate-net.js";
import { describe } from "../validate-names.js";

const str: FieldType = { t: "string" };
const strs: FieldType = { t: "list", of: str };
const msg = (of: () => MessageSchema): FieldType => ({ t: "message", of });

/** The `source` fields with their `not` forms, in the order Istio builds principals from them. */
export const SOURCE_FIELDS = ["principals", "requestPrincipals", "namespaces", "remoteIpBlocks", "ipBlocks", "serviceAccounts"] as const;
/** The `operation` fields with their `not` forms, in the order Istio builds permissions from them. */
export const OPERATION_FIELDS = ["hosts", "methods", "paths", "ports"] as const;

const notName = (f: string): string => `not${f[0]!.toUpperCase()}${f.slice(1)}`;
const withNot = (fields: readonly string[]): Record<string, FieldType> =>
  Object.fromEntries(
    fields.flatMap((f) => [
      [f, strs],
      [notName(f), strs],
    ]),
  );

export const TargetRefSchema: MessageSchema = { name: "PolicyTargetReference", fields: { group: str, kind: str, name: str, namespace: str } };
export const PolicySelectorSchema: MessageSchema = { name: "WorkloadSelector", fields: { matchLabels: { t: "map", of: str } } };

const AuthorizationPolicySchema: MessageSchema = {
  name: "AuthorizationPolicy",
  fields: {
    selector: msg(() => PolicySelectorSchema),
    targetRef: msg(() => TargetRefSchema),
    targetRefs: { t: "list", of: msg(() => TargetRefSchema) },
    action: { t: "enum", values: ["ALLOW", "DENY", "AUDIT", "CUSTOM"] },
    provider: msg(() => ({ name: "ExtensionProvider", fields: { name: str } })),
    rules: {
      t: "list",
      of: msg(() => ({
        name: "Rule",
        fields: {
          from: { t: "list", of: msg(() => ({ name: "Rule.From", fields: { source: msg(() => ({ name: "Source", fields: withNot(SOURCE_FIELDS) })) } })) },
          to: { t: "list", of: msg(() => ({ name: "Rule.To", fields: { operation: msg(() => ({ name: "Operation", fields: withNot(OPERATION_FIELDS) })) } })) },
          when: { t: "list", of: msg(() => ({ name: "Condition", fields: { key: str, values: strs, notValues: strs } })) },
        },
      })),
    },
  },
};

/** The `when` keys Istio 1.30 supports for sidecars, exactly or as a `prefix[...]` form. */
const EXACT_KEYS = [
  "source.ip",
  "remote.ip",
  "source.namespace",
  "source.principal",
  "source.serviceAccount",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "destination.ip",
  "destination.port",
  "connection.sni",
];
const BRACKET_KEYS = ["request.headers", "request.auth.claims"];
const IP_KEYS = ["source.ip", "remote.ip", "destination.ip"];

type Rec = Record<string, unknown>;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function validateAuthorizationPolicySpec(spec: unknown, _namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) return;
  if (!isPlainObject(spec)) {
    si.error(`spec must be a map, got ${describe(spec)}`);
    return;
  }
  checkMessage(spec, AuthorizationPolicySchema, si);
  validatePolicyTarget(spec, si);
  const action = typeof spec["action"] === "string" ? spec["action"] : "ALLOW";
  const provider = spec["provider"];
  if (action === "CUSTOM") {
    if (!isPlainObject(provider) || typeof provider["name"] !== "string" || provider["name"] === "")
      si.at("provider").error("a CUSTOM policy needs a provider with a name");
  } else if (isPlainObject(provider)) si.at("provider").error(`a provider may be set only with action CUSTOM, not ${action}`);
  arr(spec["rules"]).forEach((rule, i) => validateRule(rule, si.at("rules", i)));
}

/** `selector` and `targetRef`/`targetRefs` are exclusive (Istio's policy-target check, shared with RequestAuthentication). */
export function validatePolicyTarget(spec: Rec, issues: Issues): void {
  const selector = spec["selector"];
  const targeted = isPlainObject(spec["targetRef"]) || arr(spec["targetRefs"]).length > 0;
  if (isPlainObject(selector) && targeted) issues.error("only one of selector or targetRef/targetRefs may be set");
  if (isPlainObject(spec["targetRef"]) && arr(spec["targetRefs"]).length > 0) issues.error("only one of targetRef or targetRefs may be set");
  if (isPlainObject(selector)) {
    const labels = selector["matchLabels"];
    if (isPlainObject(labels)) {
      for (const [k, v] of Object.entries(labels)) {
        const at = issues.at("selector", "matchLabels", k);
        if (k === "") at.error("empty key is not supported in selector");
        if (k.includes("*") || (typeof v === "string" && v.includes("*"))) at.error(`wildcard is not supported in selector: "${k}=${String(v)}"`);
      }
      validateIstioLabels(labels, issues.at("selector", "matchLabels"));
    }
  }
}

type ValueKind = "string" | "ip" | "port";

/** Each `from.source` or `to.operation` sets at least one field, and each value has the form its field takes. */
function validateClauses(list: unknown, wrapper: "source" | "operation", fields: readonly string[], kindOf: (f: string) => ValueKind, issues: Issues): void {
  arr(list).forEach((entry, i) => {
    const at = issues.at(i, wrapper);
    const inner = isPlainObject(entry) ? entry[wrapper] : undefined;
    if (!isPlainObject(inner) || !fields.some((f) => arr(inner[f]).length > 0 || arr(inner[notName(f)]).length > 0)) {
      at.error(`\`${wrapper === "source" ? "from" : "to"}.${wrapper}\` must set at least one field`);
      return;
    }
    for (const f of fields) {
      for (const name of [f, notName(f)]) {
        arr(inner[name]).forEach((v, j) => {
          const e = valueError(v, kindOf(f));
          if (e) at.at(name, j).error(e);
        });
      }
    }
  });
}

function validateRule(rule: unknown, issues: Issues): void {
  if (!isPlainObject(rule)) return;
  validateClauses(rule["from"], "source", SOURCE_FIELDS, (f) => (f === "ipBlocks" || f === "remoteIpBlocks" ? "ip" : "string"), issues.at("from"));
  validateClauses(rule["to"], "operation", OPERATION_FIELDS, (f) => (f === "ports" ? "port" : "string"), issues.at("to"));
  arr(rule["when"]).forEach((cond, i) => {
    if (!isPlainObject(cond)) return;
    const at = issues.at("when", i);
    const key = cond["key"];
    if (typeof key !== "string" || key === "") {
      at.at("key").error("a condition needs a key");
      return;
    }
    const keyErr = conditionKeyError(key);
    if (keyErr) {
      at.at("key").error(keyErr);
      return;
    }
    if (arr(cond["values"]).length === 0 && arr(cond["notValues"]).length === 0) at.error(`condition "${key}" needs values or notValues`);
    const kind = IP_KEYS.includes(key) ? "ip" : key === "destination.port" ? "port" : "string";
    for (const name of ["values", "notValues"]) {
      arr(cond[name]).forEach((v, j) => {
        const e = valueError(v, kind);
        if (e) at.at(name, j).error(e);
      });
    }
  });
}

/** Why `key` is not a condition key Istio supports, or undefined. */
export function conditionKeyError(key: string): string | undefined {
  if (EXACT_KEYS.includes(key) || key.startsWith("experimental.envoy.filters.")) return undefined;
  const base = BRACKET_KEYS.find((b) => key.startsWith(b));
  if (base) {
    const rest = key.slice(base.length);
    const names = /^(\[[^[\]]+\])+$/.exec(rest);
    if (!names || (base === "request.headers" && rest.indexOf("]") !== rest.length - 1))
      return `"${key}" must name one ${base === "request.headers" ? "header" : "claim (or nested claims)"} in brackets, e.g. ${base}[${base === "request.headers" ? "User-Agent" : "iss"}]`;
    return undefined;
  }
  return `unknown condition key "${key}"; supported: ${[...EXACT_KEYS, "request.headers[<name>]", "request.auth.claims[<name>]"].join(", ")}`;
}

function valueError(v: unknown, kind: ValueKind): string | undefined {
  if (typeof v !== "string") return undefined; // the schema check reported it
  if (v === "") return "empty value is not allowed";
  switch (kind) {
    case "ip":
      return isIP(v) || isCIDR(v) ? undefined : `"${v}" is not an IP address or CIDR block`;
    case "port": {
      if (!/^[0-9]+$/.test(v) || Number(v) > 65535) return `"${v}" is not a port number (0..65535)`;
      return undefined;
    }
    default:
      return undefined;
  }
}
