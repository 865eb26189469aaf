/**
 * The authorization and request authentication a sidecar enforces on its inbound side, chosen as
 * Istio chooses them: policies of the root namespace and of the workload's own namespace whose
 * selector matches the workload's labels (no selector: all of them), grouped by action; JWT rules
 * of all matching RequestAuthentications, sorted by issuer, each with where its keys come from.
 */
import type { Diagnostic } from "../../api/diagnostics.js";
import type { MeshModel } from "../ir.js";
import { DEFAULT_MESH_CONFIG } from "../mesh-config.js";
import { outboundClusterName } from "../names.js";
import type { ProxyView } from "../proxy.js";
import { DEFAULT_ROOT_NAMESPACE } from "../sidecar-scope.js";
import { AuthzCodes } from "./codes.js";
import type { AuthorizationPolicyModel, JwtRuleModel } from "./policies.js";

/** Where a provider's keys come from: inline, or fetched by Envoy through a cluster. */
export type JwksSource = { readonly inline: string } | { readonly remote: { readonly uri: string; readonly cluster: string; readonly timeout: string } };

export interface ResolvedJwtRule {
  readonly rule: JwtRuleModel;
  readonly jwks: JwksSource;
}

export interface InboundSecurityScope {
  readonly audit: readonly AuthorizationPolicyModel[];
  readonly deny: readonly AuthorizationPolicyModel[];
  readonly allow: readonly AuthorizationPolicyModel[];
  /** Sorted by issuer (Istio's order; providers are named by position in it). */
  readonly jwtRules: readonly ResolvedJwtRule[];
  /** Issuers of the JWT rules: request principals and claims can only come from these. */
  readonly issuers: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Istio's JWKS fetch timeout when a rule sets none. */
const DEFAULT_JWKS_TIMEOUT = "5s";
/**
 * A key set no token verifies against (Istio's fallback when keys are unknown): Envoy refuses an
 * empty one, so it holds one RSA public key whose private half was thrown away when it was made.
 */
const NO_KEYS =
  '{"keys":[{"kty":"RSA","alg":"RS256","kid":"meshpilot-no-keys","n":"js6Mw59443SpO0MmMxrS7TuOGOZsSmcpmLKwd-W0pCfIDtVgr4UwD0IUxqUscye6sy3fxeWADP0dKHlKaf_uxcXiYL8y1Nk35Iub4wD105DYf6Buh6NwbI8QtuCnM9CMfDnEvGDuwB_YnSjSmG54gzRYvHjjnMQcVP_-pIoAzdn0rBv4tXPlBbNEk53dplKCz8fzzcNzT9iTiH7YQmu96VGLNGW4wpnuBKGM6iK6K1MyuvBstZ4CGjJ95ZfFOJPJxIHI4gSvYvgi2UtYNGVxmrnqH1qzRbrAVI8C-m4RpfQOCW3CAb_z1E41ASfISCOQnUXssmF_E0Jjxge4c16FHw","e":"AQAB"}]}';

const applies = (selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean =>
  !selector || Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The policies enforced for `proxy`; undefined when none applies (no filter is added). */
export function inboundSecurityScope(mesh: MeshModel, proxy: ProxyView): InboundSecurityScope | undefined {
  const security = mesh.security;
  if (!security || proxy.type !== "sidecar") return undefined;
  const root = (mesh.meshConfig ?? DEFAULT_MESH_CONFIG).rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const inScope = (p: { namespace: string; selector?: Readonly<Record<string, string>> }): boolean =>
    (p.namespace === root || p.namespace === proxy.namespace) && applies(p.selector, proxy.labels);
  const policies = security.authorizationPolicies.filter(inScope);
  const authns = security.requestAuthentications.filter(inScope);
  if (policies.length === 0 && authns.every((a) => a.jwtRules.length === 0)) return undefined;
  const diagnostics: Diagnostic[] = [];
  const jwtRules = authns
    .flatMap((a) => a.jwtRules)
    .sort((a, b) => (a.issuer < b.issuer ? -1 : a.issuer > b.issuer ? 1 : 0))
    .map((rule) => ({ rule, jwks: jwksSource(rule, mesh, diagnostics) }));
  return {
    audit: policies.filter((p) => p.action === "AUDIT"),
    deny: policies.filter((p) => p.action === "DENY"),
    allow: policies.filter((p) => p.action === "ALLOW"),
    jwtRules,
    issuers: [...new Set(jwtRules.map((r) => r.rule.issuer))],
    diagnostics,
  };
}

/**
 * Inline `jwks` as written. A `jwksUri` is fetched by Envoy itself through the outbound cluster of
 * the service it names (Istio's `PILOT_JWT_ENABLE_REMOTE_JWKS=envoy` mode): meshpilot's core does
 * no I/O, and Envoy refreshes the keys on its own. With neither, no token can verify.
 */
function jwksSource(rule: JwtRuleModel, mesh: MeshModel, diagnostics: Diagnostic[]): JwksSource {
  if (rule.jwks) return { inline: rule.jwks };
  if (!rule.jwksUri) {
    diagnostics.push({
      severity: "warning",
      code: AuthzCodes.JwksClusterMissing,
      object: rule.ref,
      message: `issuer ${rule.issuer} has neither jwks nor jwksUri: finding the keys by OpenID discovery is not supported, so every token of it is refused; set jwksUri`,
    });
    return { inline: NO_KEYS };
  }
  const u = new URL(rule.jwksUri);
  const port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
  const host = u.hostname;
  const svc = mesh.services.get(host);
  if (!svc?.ports.some((p) => p.port === port))
    diagnostics.push({
      severity: "warning",
      code: AuthzCodes.JwksClusterMissing,
      object: rule.ref,
      message: `jwksUri ${rule.jwksUri}: no service in the registry has host ${host} and port ${port}, so Envoy cannot fetch the keys of issuer ${rule.issuer} and every token of it is refused; add a ServiceEntry for ${host}`,
    });
  return { remote: { uri: rule.jwksUri, cluster: outboundClusterName(port, undefined, host), timeout: rule.timeout ?? DEFAULT_JWKS_TIMEOUT } };
}
