/**
 * RequestAuthentication validation, following Istio 1.30's webhook after the schema check: the
 * selector or a target reference, and per JWT rule an issuer, a `jwksUri` that is an http(s) URL
 * with a host, inline `jwks` that is a JSON Web Key Set (Envoy refuses the whole listener
 * otherwise), token locations with a name, and header names Envoy accepts.
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { checkMessage, isPlainObject, type FieldType, type MessageSchema } from "../istio-schema.js";
import type { Issues } from "../issues.js";
import { describe } from "../validate-names.js";
import { PolicySelectorSchema, TargetRefSchema, validatePolicyTarget } from "./validate-authorization-policy.js";

const str: FieldType = { t: "string" };
const strs: FieldType = { t: "list", of: str };
const msg = (of: () => MessageSchema): FieldType => ({ t: "message", of });

const JWTRuleSchema: MessageSchema = {
  name: "JWTRule",
  fields: {
    issuer: str,
    audiences: strs,
    jwksUri: str,
    jwks: str,
    fromHeaders: { t: "list", of: msg(() => ({ name: "JWTHeader", fields: { name: str, prefix: str } })) },
    fromParams: strs,
    fromCookies: strs,
    outputPayloadToHeader: str,
    forwardOriginalToken: { t: "bool" },
    outputClaimToHeaders: { t: "list", of: msg(() => ({ name: "ClaimToHeader", fields: { header: str, claim: str } })) },
    timeout: { t: "duration", rule: "istio" },
    spaceDelimitedClaims: strs,
  },
};

const RequestAuthenticationSchema: MessageSchema = {
  name: "RequestAuthentication",
  fields: {
    selector: msg(() => PolicySelectorSchema),
    targetRef: msg(() => TargetRefSchema),
    targetRefs: { t: "list", of: msg(() => TargetRefSchema) },
    jwtRules: { t: "list", of: msg(() => JWTRuleSchema) },
  },
};

/** An HTTP header name as Envoy accepts it (RFC 7230 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function validateRequestAuthenticationSpec(spec: unknown, _namespace: string, issues: Issues): void {
  const si = issues.at("spec");
  if (spec === undefined || spec === null) return;
  if (!isPlainObject(spec)) {
    si.error(`spec must be a map, got ${describe(spec)}`);
    return;
  }
  checkMessage(spec, RequestAuthenticationSchema, si);
  validatePolicyTarget(spec, si);
  arr(spec["jwtRules"]).forEach((rule, i) => {
    if (isPlainObject(rule)) validateJwtRule(rule, si.at("jwtRules", i));
  });
}

function validateJwtRule(rule: Record<string, unknown>, issues: Issues): void {
  const issuer = rule["issuer"];
  if (typeof issuer !== "string" || issuer === "") issues.at("issuer").error("issuer must be set");
  const uri = rule["jwksUri"];
  if (typeof uri === "string" && uri !== "") {
    const e = jwksUriError(uri);
    if (e) issues.at("jwksUri").error(e);
  }
  const jwks = rule["jwks"];
  if (typeof jwks === "string" && jwks !== "") {
    const e = jwksError(jwks);
    if (e) issues.at("jwks").error(e);
  }
  arr(rule["fromHeaders"]).forEach((h, i) => {
    if (!isPlainObject(h)) return;
    const name = h["name"];
    if (typeof name !== "string" || name === "") issues.at("fromHeaders", i, "name").error("a token location header needs a name");
    else if (!HEADER_NAME.test(name)) issues.at("fromHeaders", i, "name").error(`"${name}" is not a valid header name`);
  });
  arr(rule["fromParams"]).forEach((p, i) => {
    if (p === "") issues.at("fromParams", i).error("a query parameter name must not be empty");
  });
  const out = rule["outputPayloadToHeader"];
  if (typeof out === "string" && out !== "" && !HEADER_NAME.test(out)) issues.at("outputPayloadToHeader").error(`"${out}" is not a valid header name`);
  arr(rule["outputClaimToHeaders"]).forEach((c, i) => {
    if (!isPlainObject(c)) return;
    const header = c["header"];
    if (typeof header !== "string" || !HEADER_NAME.test(header))
      issues.at("outputClaimToHeaders", i, "header").error(`"${String(header ?? "")}" is not a valid header name`);
    if (typeof c["claim"] !== "string" || c["claim"] === "") issues.at("outputClaimToHeaders", i, "claim").error("claim must be set");
  });
}

/** `jwksUri` as Istio parses it: http or https, a host, an optional port. */
export function jwksUriError(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `"${uri}" is not a URL`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `"${uri}": the scheme must be http or https`;
  if (u.hostname === "") return `"${uri}" has no host`;
  return undefined;
}

/** Inline `jwks`: a JSON object with a non-empty `keys` list of objects, each with `kty`. */
export function jwksError(jwks: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwks);
  } catch {
    return "jwks is not JSON (a JSON Web Key Set is expected)";
  }
  if (!isPlainObject(parsed) || !Array.isArray(parsed["keys"]) || parsed["keys"].length === 0)
    return 'jwks must be a JSON Web Key Set: an object with a non-empty "keys" list';
  const keys: unknown[] = parsed["keys"];
  for (const [i, k] of keys.entries()) {
    const e = jwkError(k);
    if (e) return `jwks keys[${i}] ${e}`;
  }
  return undefined;
}

/** Envoy refuses a listener whose inline JWKS holds a key it cannot load; node:crypto loads the same key types. */
function jwkError(k: unknown): string | undefined {
  if (!isPlainObject(k) || typeof k["kty"] !== "string") return 'is not a JSON Web Key (it needs "kty")';
  if (k["kty"] === "oct") return typeof k["k"] === "string" && k["k"] !== "" ? undefined : 'is an "oct" key without "k"';
  if (!["RSA", "EC", "OKP"].includes(k["kty"])) return `has kty "${k["kty"]}"; RSA, EC, OKP or oct is expected`;
  try {
    createPublicKey({ key: k as JsonWebKey, format: "jwk" });
    return undefined;
  } catch (e) {
    return `is not a valid ${k["kty"]} public key (${e instanceof Error ? e.message : String(e)})`;
  }
}
