/**
 * AuthorizationPolicy and RequestAuthentication as the model holds them: validated specs reduced
 * to what the RBAC and JWT filters are built from, with what sidecars cannot honour reported once
 * here (CUSTOM actions, target references) and left out.
 */
import type { Diagnostic, ObjectRef } from "../../api/diagnostics.js";
import type { AuthorizationPolicyObject, RequestAuthenticationObject } from "../../api/istio-resource.js";
import type { StoredObject } from "../../api/objects.js";
import { AuthzCodes } from "./codes.js";

export type AuthzAction = "ALLOW" | "DENY" | "AUDIT";

/** One field of a source or operation, or one `when` condition: what matches and what must not. */
export interface AuthzValues {
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

export type SourceField = "principals" | "requestPrincipals" | "namespaces" | "remoteIpBlocks" | "ipBlocks" | "serviceAccounts";
export type OperationField = "hosts" | "methods" | "paths" | "ports";

export interface AuthzCondition extends AuthzValues {
  readonly key: string;
}

export interface AuthzRuleModel {
  /** Each entry: the source fields it sets (absent fields are not listed). */
  readonly from: readonly Partial<Record<SourceField, AuthzValues>>[];
  readonly to: readonly Partial<Record<OperationField, AuthzValues>>[];
  readonly when: readonly AuthzCondition[];
}

export interface AuthorizationPolicyModel {
  readonly name: string;
  readonly namespace: string;
  readonly action: AuthzAction;
  /** Labels a workload needs for the policy to apply; none: every workload of its scope. */
  readonly selector?: Readonly<Record<string, string>>;
  /** Annotation `istio.io/dry-run: "true"`: evaluated as shadow rules, never enforced. */
  readonly dryRun: boolean;
  readonly rules: readonly AuthzRuleModel[];
  readonly ref: ObjectRef;
}

export interface JwtRuleModel {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwks?: string;
  readonly jwksUri?: string;
  readonly fromHeaders: readonly { readonly name: string; readonly prefix?: string }[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  readonly forwardOriginalToken: boolean;
  readonly outputPayloadToHeader?: string;
  readonly outputClaimToHeaders: readonly { readonly header: string; readonly claim: string }[];
  readonly spaceDelimitedClaims: readonly string[];
  readonly timeout?: string;
  readonly ref: ObjectRef;
}

export interface RequestAuthenticationModel {
  readonly name: string;
  readonly namespace: string;
  readonly selector?: Readonly<Record<string, string>>;
  readonly jwtRules: readonly JwtRuleModel[];
  readonly ref: ObjectRef;
}

export interface SecurityPolicies {
  /** By namespace, then name. */
  readonly authorizationPolicies: readonly AuthorizationPolicyModel[];
  readonly requestAuthentications: readonly RequestAuthenticationModel[];
  readonly diagnostics: readonly Diagnostic[];
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const notName = (f: string): string => `not${f[0]!.toUpperCase()}${f.slice(1)}`;

const SOURCE_FIELDS: readonly SourceField[] = ["principals", "requestPrincipals", "namespaces", "remoteIpBlocks", "ipBlocks", "serviceAccounts"];
const OPERATION_FIELDS: readonly OperationField[] = ["hosts", "methods", "paths", "ports"];

function valuesOf<F extends string>(raw: Rec | undefined, fields: readonly F[]): Partial<Record<F, AuthzValues>> {
  const out: Partial<Record<F, AuthzValues>> = {};
  for (const f of fields) {
    const values = strings(raw?.[f]);
    const notValues = strings(raw?.[notName(f)]);
    if (values.length || notValues.length) out[f] = { values, notValues };
  }
  return out;
}

function selectorOf(spec: Rec): Readonly<Record<string, string>> | undefined {
  const labels = rec(rec(spec["selector"])?.["matchLabels"]);
  return labels ? (labels as Record<string, string>) : undefined;
}

const targeted = (spec: Rec): boolean => rec(spec["targetRef"]) !== undefined || (Array.isArray(spec["targetRefs"]) && spec["targetRefs"].length > 0);

const byNamespaceName = <T extends { namespace: string; name: string }>(a: T, b: T): number =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

export function buildSecurityPolicies(
  authz: readonly StoredObject<AuthorizationPolicyObject>[],
  authn: readonly StoredObject<RequestAuthenticationObject>[],
): SecurityPolicies {
  const diagnostics: Diagnostic[] = [];
  const authorizationPolicies: AuthorizationPolicyModel[] = [];
  for (const { object } of authz) {
    const namespace = object.metadata.namespace ?? "default";
    const name = object.metadata.name;
    const ref: ObjectRef = { kind: "AuthorizationPolicy", namespace, name };
    const spec = object.spec as Rec;
    const action = typeof spec["action"] === "string" ? spec["action"] : "ALLOW";
    if (action === "CUSTOM") {
      diagnostics.push({
        severity: "warning",
        code: AuthzCodes.CustomNotSupported,
        object: ref,
        path: "spec.action",
        message:
          "action CUSTOM (external authorization) is not supported: the policy is left out, so its provider is never asked and the requests it would refuse are not refused by it",
      });
      continue;
    }
    if (targeted(spec)) {
      diagnostics.push(targetRefIgnored(ref));
      continue;
    }
    const selector = selectorOf(spec);
    authorizationPolicies.push({
      name,
      namespace,
      action: action as AuthzAction,
      ...(selector ? { selector } : {}),
      dryRun: (object.metadata.annotations?.["istio.io/dry-run"] ?? "").toLowerCase() === "true",
      rules: (Array.isArray(spec["rules"]) ? spec["rules"] : []).map((r) => ruleOf(rec(r) ?? {})),
      ref,
    });
  }
  const requestAuthentications: RequestAuthenticationModel[] = [];
  for (const { object } of authn) {
    const namespace = object.metadata.namespace ?? "default";
    const name = object.metadata.name;
    const ref: ObjectRef = { kind: "RequestAuthentication", namespace, name };
    const spec = object.spec as Rec;
    if (targeted(spec)) {
      diagnostics.push(targetRefIgnored(ref));
      continue;
    }
    const selector = selectorOf(spec);
    const jwtRules = (Array.isArray(spec["jwtRules"]) ? spec["jwtRules"] : []).map((r) => jwtRuleOf(rec(r) ?? {}, ref));
    requestAuthentications.push({ name, namespace, ...(selector ? { selector } : {}), jwtRules, ref });
  }
  return {
    authorizationPolicies: authorizationPolicies.sort(byNamespaceName),
    requestAuthentications: requestAuthentications.sort(byNamespaceName),
    diagnostics,
  };
}

function targetRefIgnored(ref: ObjectRef): Diagnostic {
  return {
    severity: "warning",
    code: AuthzCodes.TargetRefIgnored,
    object: ref,
    path: "spec.targetRef",
    message: "a policy with targetRef/targetRefs applies to gateways and waypoints only; no sidecar applies it",
  };
}

function ruleOf(raw: Rec): AuthzRuleModel {
  const list = (k: string): Rec[] => (Array.isArray(raw[k]) ? (raw[k] as unknown[]).map((x) => rec(x) ?? {}) : []);
  return {
    from: list("from").map((f) => valuesOf(rec(f["source"]), SOURCE_FIELDS)),
    to: list("to").map((t) => valuesOf(rec(t["operation"]), OPERATION_FIELDS)),
    when: list("when").map((c) => ({ key: String(c["key"] ?? ""), values: strings(c["values"]), notValues: strings(c["notValues"]) })),
  };
}

function jwtRuleOf(raw: Rec, ref: ObjectRef): JwtRuleModel {
  const str = (k: string): string | undefined => (typeof raw[k] === "string" && raw[k] !== "" ? (raw[k] as string) : undefined);
  const jwks = str("jwks");
  const jwksUri = str("jwksUri");
  const out = str("outputPayloadToHeader");
  const timeout = str("timeout");
  const recs = (k: string): Rec[] => (Array.isArray(raw[k]) ? (raw[k] as unknown[]).map((x) => rec(x) ?? {}) : []);
  return {
    issuer: str("issuer") ?? "",
    audiences: strings(raw["audiences"]),
    ...(jwks ? { jwks } : {}),
    ...(jwksUri ? { jwksUri } : {}),
    fromHeaders: recs("fromHeaders").map((h) => ({
      name: String(h["name"]),
      ...(typeof h["prefix"] === "string" && h["prefix"] ? { prefix: h["prefix"] } : {}),
    })),
    fromParams: strings(raw["fromParams"]),
    fromCookies: strings(raw["fromCookies"]),
    forwardOriginalToken: raw["forwardOriginalToken"] === true,
    ...(out ? { outputPayloadToHeader: out } : {}),
    outputClaimToHeaders: recs("outputClaimToHeaders").map((c) => ({ header: String(c["header"]), claim: String(c["claim"]) })),
    spaceDelimitedClaims: strings(raw["spaceDelimitedClaims"]),
    ...(timeout ? { timeout } : {}),
    ref,
  };
}
