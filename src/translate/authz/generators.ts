/**
 * One AuthorizationPolicy key (a source or operation field, or a `when` key) and its values →
 * Envoy RBAC permissions or principals, as Istio 1.30 generates them for sidecars: principals
 * match the mTLS peer certificate's SAN (`spiffe://…`), namespaces and service accounts a regex
 * on it; request principals, audiences, presenters and claims match the payload Envoy's JWT filter
 * leaves in dynamic metadata. A key that needs the HTTP request fails on a TCP chain; the caller
 * applies Istio's rule for that (ALLOW drops the rule, DENY and AUDIT drop the value).
 */
import type { PermissionJson, PrincipalJson } from "../../gen/envoy/config/rbac/v3/rbac_pb.js";
import {
  ANY_VALUE,
  cidrRange,
  claimMatcher,
  headerListMatcher,
  headerMatcher,
  JWT_FILTER,
  JWT_PAYLOAD_KEY,
  metadataMatcher,
  quoteRegex,
  stringMatcher,
} from "./matchers.js";
import type { StringMatcherJson } from "../envoy.js";

export const SPIFFE_PREFIX = "spiffe://";

export type Generated<T> = { readonly ok: T } | { readonly error: string };

const ok = <T>(v: T): Generated<T> => ({ ok: v });
const httpOnly = (key: string): Generated<never> => ({ error: `"${key}" is HTTP only` });

/** One value of a permission key (operation fields and destination conditions). */
export function permission(key: string, value: string, forTCP: boolean): Generated<PermissionJson> {
  switch (key) {
    case "hosts":
      return forTCP ? httpOnly(key) : ok({ header: headerMatcher(":authority", value, true) });
    case "methods":
      return forTCP ? httpOnly(key) : ok({ header: headerMatcher(":method", value) });
    case "paths":
      if (forTCP) return httpOnly(key);
      if (value.includes("{")) return { error: `path template "${value}" is not supported` };
      return ok({ urlPath: { path: stringMatcher(value) } });
    case "ports":
    case "destination.port":
      return ok({ destinationPort: Number(value) });
    case "destination.ip":
      return ok({ destinationIp: cidrRange(value) });
    case "connection.sni":
      return ok({ requestedServerName: stringMatcher(value) });
  }
  if (key.startsWith("experimental.envoy.filters.")) {
    const m = /^experimental\.(.+)\[(.+)\]$/.exec(key);
    if (!m) return { error: `invalid key ${key}` };
    const list = value.startsWith("[") && value.endsWith("]");
    const sm = stringMatcher(list ? value.slice(1, -1) : value);
    return ok({ metadata: metadataMatcher(m[1]!, [m[2]!], list ? { listMatch: { oneOf: { stringMatch: sm } } } : { stringMatch: sm }) });
  }
  return { error: `unknown key ${key}` };
}

const authenticated = (m: StringMatcherJson): PrincipalJson => ({ authenticated: { principalName: m } });

/** One value of a principal key (source fields and source/request conditions). */
export function principal(key: string, value: string, forTCP: boolean, policyNamespace: string): Generated<PrincipalJson> {
  switch (key) {
    case "principals":
    case "source.principal":
      return ok(authenticated(stringMatcher(value, SPIFFE_PREFIX)));
    case "namespaces":
    case "source.namespace":
      return ok(authenticated({ safeRegex: { regex: `.*/ns/${value.split("*").map(quoteRegex).join(".*")}/.*` } }));
    case "serviceAccounts":
    case "source.serviceAccount": {
      const slash = value.indexOf("/");
      const [ns, sa] = slash >= 0 ? [value.slice(0, slash), value.slice(slash + 1)] : [policyNamespace, value];
      return ok(authenticated({ safeRegex: { regex: `spiffe://.+/ns/${quoteRegex(ns)}/(.+/|)sa/${quoteRegex(sa)}(/.+)?` } }));
    }
    case "ipBlocks":
    case "source.ip":
      return ok({ directRemoteIp: cidrRange(value) });
    case "remoteIpBlocks":
    case "remote.ip":
      return ok({ remoteIp: cidrRange(value) });
  }
  if (key.startsWith("request.headers[")) return forTCP ? httpOnly(key) : ok({ header: headerListMatcher(key.slice("request.headers[".length, -1), value) });
  return { error: `unknown key ${key}` };
}

/** Keys whose values become one principal together (the JWT payload matchers). */
export function isJwtKey(key: string): boolean {
  return key === "requestPrincipals" || key.startsWith("request.auth.");
}

/** All values of a JWT key as one principal (Istio's extended JWT generators). */
export function jwtPrincipal(key: string, values: readonly string[], forTCP: boolean): Generated<PrincipalJson> {
  if (forTCP) return httpOnly(key);
  switch (key) {
    case "requestPrincipals":
    case "request.auth.principal": {
      const ids = values.map(requestPrincipal);
      return ok(ids.length === 1 ? ids[0]! : { orIds: { ids } });
    }
    case "request.auth.audiences":
      return ok({ metadata: claimMatcher(["aud"], values) });
    case "request.auth.presenter":
      return ok({ metadata: claimMatcher(["azp"], values) });
  }
  if (key.startsWith("request.auth.claims[")) {
    const claims = [...key.slice("request.auth.claims".length).matchAll(/\[([^[\]]+)\]/g)].map((m) => m[1]!);
    return ok({ metadata: claimMatcher(claims, values) });
  }
  return { error: `unknown key ${key}` };
}

const claim = (name: string, m: StringMatcherJson): PrincipalJson => ({
  metadata: metadataMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, name], { stringMatch: m }),
});

/**
 * `iss/sub` split at the last `/` (an issuer is often a URL), each half matched on its own claim;
 * a wildcard applies to the half it is written in.
 */
function requestPrincipal(value: string): PrincipalJson {
  const idx = value.lastIndexOf("/");
  const found = idx >= 0;
  const iss = found ? value.slice(0, idx) : value;
  const sub = found ? value.slice(idx + 1) : "";
  let mIss: StringMatcherJson;
  let mSub: StringMatcherJson;
  if (value === "*") [mIss, mSub] = [ANY_VALUE, ANY_VALUE];
  else if (value.startsWith("*")) {
    if (found) [mIss, mSub] = [iss === "*" ? ANY_VALUE : { suffix: iss.slice(1) }, { exact: sub }];
    else [mIss, mSub] = [ANY_VALUE, { suffix: value.slice(1) }];
  } else if (value.endsWith("*")) {
    if (found) [mIss, mSub] = [{ exact: iss }, sub === "*" ? ANY_VALUE : { prefix: sub.slice(0, -1) }];
    else [mIss, mSub] = [{ prefix: value.slice(0, -1) }, ANY_VALUE];
  } else [mIss, mSub] = [{ exact: iss }, { exact: sub }];
  return { andIds: { ids: [claim("iss", mIss), claim("sub", mSub)] } };
}
