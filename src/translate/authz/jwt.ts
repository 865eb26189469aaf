/**
 * RequestAuthentication → Envoy's JWT filter, as Istio 1.30 configures it: one provider per JWT
 * rule (`origins-<i>` in issuer order) whose verified payload lands in dynamic metadata under
 * `payload` (where the RBAC principals look), and one requirement for every path: a token, if
 * present, must verify against some provider (Envoy answers 401 otherwise); a request without one
 * passes, and only an AuthorizationPolicy can demand it. Where Istio adds its own `istio_authn`
 * filter, stock Envoy needs nothing more: RBAC reads the JWT filter's metadata directly.
 */
import type { JwtAuthenticationJson, JwtProviderJson, JwtRequirementJson } from "../../gen/envoy/extensions/filters/http/jwt_authn/v3/config_pb.js";
import type { InboundSecurityScope, ResolvedJwtRule } from "../../model/authz/scope.js";
import { JWT_PAYLOAD_KEY } from "./matchers.js";

/** Claims Istio always normalises from a space-separated string to a list. */
const SPACE_DELIMITED_DEFAULT = ["permission", "scope"];
/** How long Envoy keeps fetched keys (Istio's value). */
const JWKS_CACHE_DURATION = "300s";

export function jwtAuthentication(security: InboundSecurityScope): JwtAuthenticationJson | undefined {
  if (security.jwtRules.length === 0) return undefined;
  const names = security.jwtRules.map((_, i) => `origins-${i}`);
  const providers = Object.fromEntries(security.jwtRules.map((r, i) => [names[i]!, provider(r)]));
  const tokenOrNone = (name: string): JwtRequirementJson => ({ requiresAny: { requirements: [{ providerName: name }, { allowMissing: {} }] } });
  // Several providers: any one verifying, or every token present verifying (a token for one issuer
  // fails the others, so the AND alone would refuse providers that share a location).
  const requires: JwtRequirementJson =
    names.length === 1
      ? tokenOrNone(names[0]!)
      : { requiresAny: { requirements: [...names.map((n) => ({ providerName: n })), { requiresAll: { requirements: names.map(tokenOrNone) } }] } };
  return { rules: [{ match: { prefix: "/" }, requires }], providers, bypassCorsPreflight: true };
}

function provider({ rule, jwks }: ResolvedJwtRule): JwtProviderJson {
  const spaceDelimited = [...new Set([...rule.spaceDelimitedClaims, ...SPACE_DELIMITED_DEFAULT])].sort();
  return {
    issuer: rule.issuer,
    ...(rule.audiences.length ? { audiences: [...rule.audiences] } : {}),
    ...("inline" in jwks
      ? { localJwks: { inlineString: jwks.inline } }
      : { remoteJwks: { httpUri: { uri: jwks.remote.uri, cluster: jwks.remote.cluster, timeout: jwks.remote.timeout }, cacheDuration: JWKS_CACHE_DURATION } }),
    ...(rule.forwardOriginalToken ? { forward: true } : {}),
    ...(rule.fromHeaders.length ? { fromHeaders: rule.fromHeaders.map((h) => ({ name: h.name, ...(h.prefix ? { valuePrefix: h.prefix } : {}) })) } : {}),
    ...(rule.fromParams.length ? { fromParams: [...rule.fromParams] } : {}),
    ...(rule.fromCookies.length ? { fromCookies: [...rule.fromCookies] } : {}),
    ...(rule.outputPayloadToHeader ? { forwardPayloadHeader: rule.outputPayloadToHeader } : {}),
    ...(rule.outputClaimToHeaders.length ? { claimToHeaders: rule.outputClaimToHeaders.map((c) => ({ headerName: c.header, claimName: c.claim })) } : {}),
    payloadInMetadata: JWT_PAYLOAD_KEY,
    normalizePayloadInMetadata: { spaceDelimitedClaims: spaceDelimited },
  };
}
