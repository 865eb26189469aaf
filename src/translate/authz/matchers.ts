/**
 * The matchers Istio builds from AuthorizationPolicy values: `*` alone matches any non-empty
 * value, a leading `*` is a suffix match, a trailing `*` a prefix match, anything else is exact.
 */
import type { HeaderMatcherJson, StringMatcherJson } from "../envoy.js";
import type { CidrRangeJson } from "../../gen/envoy/config/core/v3/address_pb.js";
import type { MetadataMatcherJson } from "../../gen/envoy/type/matcher/v3/metadata_pb.js";
import type { ValueMatcherJson } from "../../gen/envoy/type/matcher/v3/value_pb.js";

/** The dynamic metadata namespace of Envoy's JWT filter, and the key it puts the verified payload under. */
export const JWT_FILTER = "envoy.filters.http.jwt_authn";
export const JWT_PAYLOAD_KEY = "payload";

const regex = (re: string): StringMatcherJson => ({ safeRegex: { regex: re } });
/** RE2 with the metacharacters of `s` escaped. */
export const quoteRegex = (s: string): string => s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");

export const ANY_VALUE: StringMatcherJson = regex(".+");

/** `prefix` is put in front of exact and prefix values (a principal's `spiffe://`); a suffix value then needs a regex. */
export function stringMatcher(v: string, prefix = "", ignoreCase = false): StringMatcherJson {
  const ic = ignoreCase ? { ignoreCase: true } : {};
  if (v === "*") return ANY_VALUE;
  if (v.startsWith("*")) return prefix === "" ? { suffix: v.slice(1), ...ic } : regex(`${quoteRegex(prefix)}.*${quoteRegex(v.slice(1))}`);
  if (v.endsWith("*")) return { prefix: prefix + v.slice(0, -1), ...ic };
  return { exact: prefix + v, ...ic };
}

export function headerMatcher(name: string, v: string, ignoreCase = false): HeaderMatcherJson {
  if (v === "*") return { name, presentMatch: true };
  if (v.startsWith("*")) return { name, stringMatch: { suffix: v.slice(1), ...(ignoreCase ? { ignoreCase } : {}) } };
  if (v.endsWith("*")) return { name, stringMatch: { prefix: v.slice(0, -1), ...(ignoreCase ? { ignoreCase } : {}) } };
  return { name, stringMatch: { exact: v, ...(ignoreCase ? { ignoreCase } : {}) } };
}

/** A request header may carry several values joined by commas (RFC 7230): the value must match one of them. */
export function headerListMatcher(name: string, v: string): HeaderMatcherJson {
  if (v === "*") return { name, presentMatch: true };
  const one = v.startsWith("*") ? `.*${quoteRegex(v.slice(1))}` : v.endsWith("*") ? `${quoteRegex(v.slice(0, -1))}.*` : quoteRegex(v);
  return { name, safeRegexMatch: { regex: `^${one}$|^${one},.*|.*,${one},.*|.*,${one}$` } };
}

/** `10.0.0.1` is one address (/32 or /128), `10.0.0.0/8` a block. */
export function cidrRange(v: string): CidrRangeJson {
  const slash = v.indexOf("/");
  if (slash >= 0) return { addressPrefix: v.slice(0, slash), prefixLen: Number(v.slice(slash + 1)) };
  return { addressPrefix: v, prefixLen: v.includes(":") ? 128 : 32 };
}

export function metadataMatcher(filter: string, path: readonly string[], value: ValueMatcherJson): MetadataMatcherJson {
  return { filter, path: path.map((key) => ({ key })), value };
}

/** Any of the values, as one value matcher. */
export function anyOf(values: readonly string[]): ValueMatcherJson {
  const ms = values.map((v) => ({ stringMatch: stringMatcher(v) }));
  return ms.length === 1 ? ms[0]! : { orMatch: { valueMatchers: ms } };
}

/** A JWT claim that may be a string or a list of strings (`aud`, `groups`): one of its values matches. */
export function claimMatcher(claimPath: readonly string[], values: readonly string[]): MetadataMatcherJson {
  const v = anyOf(values);
  return metadataMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, ...claimPath], { orMatch: { valueMatchers: [{ listMatch: { oneOf: v } }, v] } });
}
