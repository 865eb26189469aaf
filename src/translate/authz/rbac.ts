/**
 * AuthorizationPolicies → Envoy RBAC, as Istio 1.30 builds them for a sidecar's inbound chains:
 * one RBAC filter per action present, AUDIT (Envoy action LOG) first, then DENY, then ALLOW, so a
 * request an ALLOW policy admits is still refused by any DENY. Each rule is one RBAC policy named
 * `ns[<ns>]-policy[<name>]-rule[<i>]`: its permissions are one per `to` (AND of the operation
 * fields, then the destination conditions), its principals one per `from` (AND of the source
 * fields, then the source and request conditions). A policy without rules gets one policy that
 * never matches (an ALLOW of nothing denies all). Dry-run policies go to the shadow rules.
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import type { InboundSecurityScope } from "../../model/authz/scope.js";
import type { AuthorizationPolicyModel, AuthzRuleModel, AuthzValues } from "../../model/authz/policies.js";
import { AuthzCodes } from "../../model/authz/codes.js";
import type { PermissionJson, PolicyJson, PrincipalJson, RBACJson, RBAC_ActionJson } from "../../gen/envoy/config/rbac/v3/rbac_pb.js";
import { isJwtKey, jwtPrincipal, permission, principal, type Generated } from "./generators.js";

/** The RBAC action of each AuthorizationPolicy action. */
const ENVOY_ACTION = { AUDIT: "LOG", DENY: "DENY", ALLOW: "ALLOW" } as const satisfies Record<string, RBAC_ActionJson>;
const SHADOW_STAT_PREFIX: Partial<Record<RBAC_ActionJson, string>> = { ALLOW: "istio_dry_run_allow_", DENY: "istio_dry_run_deny_" };

const MATCH_NEVER: PolicyJson = { permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] };

export interface BuiltRbac {
  readonly rules?: RBACJson;
  readonly shadowRules?: RBACJson;
  readonly shadowRulesStatPrefix?: string;
}

/** One action's RBAC configuration, and what could not be built (as findings). */
export interface RbacBuild {
  readonly configs: readonly BuiltRbac[];
  readonly problems: readonly Diagnostic[];
}

export function buildRbac(security: InboundSecurityScope, forTCP: boolean): RbacBuild {
  const problems: Diagnostic[] = [];
  const configs: BuiltRbac[] = [];
  for (const [policies, action] of [
    [security.audit, "AUDIT"],
    [security.deny, "DENY"],
    [security.allow, "ALLOW"],
  ] as const) {
    if (policies.length) configs.push(buildAction(policies, ENVOY_ACTION[action], forTCP, problems));
  }
  return { configs, problems };
}

function buildAction(policies: readonly AuthorizationPolicyModel[], action: RBAC_ActionJson, forTCP: boolean, problems: Diagnostic[]): BuiltRbac {
  const enforce: Record<string, PolicyJson> = {};
  const shadow: Record<string, PolicyJson> = {};
  let hasEnforce = false;
  let hasShadow = false;
  for (const p of policies) {
    const target = p.dryRun ? shadow : enforce;
    if (p.dryRun) hasShadow = true;
    else hasEnforce = true;
    p.rules.forEach((rule, i) => {
      const built = buildPolicy(rule, p, i, action, forTCP, problems);
      if (built) target[policyName(p, i)] = built;
    });
    if (p.rules.length === 0) target[policyName(p, 0)] = MATCH_NEVER;
  }
  const prefix = SHADOW_STAT_PREFIX[action];
  return {
    ...(hasEnforce ? { rules: { action, policies: enforce } } : {}),
    ...(hasShadow ? { shadowRules: { action, policies: shadow }, ...(prefix ? { shadowRulesStatPrefix: prefix } : {}) } : {}),
  };
}

const policyName = (p: AuthorizationPolicyModel, i: number): string => `ns[${p.namespace}]-policy[${p.name}]-rule[${i}]`;

/** One key of a rule with its values, in Istio's order for permissions or principals. */
interface Clause extends AuthzValues {
  readonly key: string;
  readonly path: string;
}

const PERMISSION_WHEN = (k: string): boolean => k === "destination.ip" || k === "destination.port" || k === "connection.sni" || k.startsWith("experimental.");

function buildPolicy(
  rule: AuthzRuleModel,
  p: AuthorizationPolicyModel,
  index: number,
  action: RBAC_ActionJson,
  forTCP: boolean,
  problems: Diagnostic[],
): PolicyJson | undefined {
  const at = `spec.rules[${index}]`;
  const when = rule.when.map((c, i) => ({ ...c, path: `${at}.when[${i}]` }));
  const permWhen = when.filter((c) => PERMISSION_WHEN(c.key));
  const princWhen = when.filter((c) => !PERMISSION_WHEN(c.key));
  const permLists: Clause[][] = rule.to.length ? rule.to.map((op, i) => [...fieldClauses(op, `${at}.to[${i}].operation`), ...permWhen]) : [permWhen];
  const princLists: Clause[][] = rule.from.length ? rule.from.map((src, i) => [...fieldClauses(src, `${at}.from[${i}].source`), ...princWhen]) : [princWhen];
  const fail = { failed: false };
  const onError = (c: Clause, error: string): void => {
    problems.push(problem(p, c, error, action, forTCP));
    // ALLOW: the rule is left out (fewer requests allowed); DENY and AUDIT: only the value is (more requests denied).
    if (action === "ALLOW") fail.failed = true;
  };
  const permissions = permLists.map((clauses) =>
    and(
      clauses.flatMap((c) => permissionClause(c, forTCP, onError)),
      "perm",
    ),
  );
  const principals = princLists.map((clauses) =>
    and(
      clauses.flatMap((c) => principalClause(c, forTCP, p.namespace, onError)),
      "princ",
    ),
  );
  if (fail.failed) return undefined;
  return { permissions: permissions as PermissionJson[], principals: principals as PrincipalJson[] };
}

function fieldClauses(fields: Readonly<Record<string, AuthzValues | undefined>>, path: string): Clause[] {
  return Object.entries(fields)
    .filter((e): e is [string, AuthzValues] => e[1] !== undefined)
    .map(([key, v]) => ({ key, values: v.values, notValues: v.notValues, path: `${path}.${key}` }));
}

function and(items: readonly (PermissionJson | PrincipalJson)[], kind: "perm" | "princ"): PermissionJson | PrincipalJson {
  const list = items.length ? items : [{ any: true }];
  return kind === "perm" ? { andRules: { rules: list as PermissionJson[] } } : { andIds: { ids: list as PrincipalJson[] } };
}

function collect<T>(values: readonly string[], gen: (v: string) => Generated<T>, c: Clause, onError: (c: Clause, e: string) => void): T[] {
  const out: T[] = [];
  for (const v of values) {
    const r = gen(v);
    if ("ok" in r) out.push(r.ok);
    else onError(c, r.error);
  }
  return out;
}

function permissionClause(c: Clause, forTCP: boolean, onError: (c: Clause, e: string) => void): PermissionJson[] {
  const out: PermissionJson[] = [];
  const yes = collect(c.values, (v) => permission(c.key, v, forTCP), c, onError);
  if (yes.length) out.push({ orRules: { rules: yes } });
  const no = collect(c.notValues, (v) => permission(c.key, v, forTCP), c, onError);
  if (no.length) out.push({ notRule: { orRules: { rules: no } } });
  return out;
}

function principalClause(c: Clause, forTCP: boolean, ns: string, onError: (c: Clause, e: string) => void): PrincipalJson[] {
  const out: PrincipalJson[] = [];
  if (isJwtKey(c.key)) {
    for (const [values, negate] of [
      [c.values, false],
      [c.notValues, true],
    ] as const) {
      if (!values.length) continue;
      const r = jwtPrincipal(c.key, values, forTCP);
      if ("ok" in r) out.push(negate ? { notId: r.ok } : r.ok);
      else onError(c, r.error);
    }
    return out;
  }
  const yes = collect(c.values, (v) => principal(c.key, v, forTCP, ns), c, onError);
  if (yes.length) out.push({ orIds: { ids: yes } });
  const no = collect(c.notValues, (v) => principal(c.key, v, forTCP, ns), c, onError);
  if (no.length) out.push({ notId: { orIds: { ids: no } } });
  return out;
}

function problem(p: AuthorizationPolicyModel, c: Clause, error: string, action: RBAC_ActionJson, forTCP: boolean): Diagnostic {
  const what = p.action === "ALLOW" ? "the rule is left out (it allows nothing there)" : "the field is ignored (the rule matches more)";
  if (forTCP && error.endsWith("is HTTP only"))
    return {
      severity: "info",
      code: AuthzCodes.HttpOnlyOnTcp,
      object: p.ref,
      path: c.path,
      message: `${c.key} needs an HTTP request: on the workload's TCP ports ${what}, as Istio does`,
    };
  return {
    severity: "warning",
    code: AuthzCodes.PathTemplate,
    object: p.ref,
    path: c.path,
    message: `${error}: ${action === "ALLOW" ? "the rule is left out (it allows nothing)" : "the value is ignored (the rule matches more)"}`,
  };
}
