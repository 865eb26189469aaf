/**
 * v1 Secret: only what a DestinationRule `credentialName` reads (Istio's keys, SECRET_KEYS).
 *
 * Secret values never appear in a diagnostic: messages name the key and what is wrong with it.
 * A Secret that carries no certificate key (`tls.crt`, `cert`, `ca.crt`, `cacert`) and is not of
 * type `kubernetes.io/tls` is not a credential: it is kept without data and never judged (a
 * cluster holds many such Secrets). A credential Secret is refused when a value is not base64, a
 * certificate is not PEM, a key is not a PEM private key, or a certificate comes without its key
 * (or the reverse): Envoy would reject it, or the handshake could not present it.
 */
import { Buffer } from "node:buffer";
import { isPlainObject } from "./istio-schema.js";
import type { Issues } from "./issues.js";
import { SECRET_KEY_LIST, SECRET_KEYS, type ObjectMeta, type Secret } from "./kube-types.js";
import { optString } from "./validate-common.js";
import { describe } from "./validate-names.js";

export const TLS_SECRET_TYPE = "kubernetes.io/tls";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CERT_KEYS: readonly string[] = [SECRET_KEYS.tlsCert, SECRET_KEYS.genericCert, SECRET_KEYS.tlsCa, SECRET_KEYS.genericCa];
const PRIVATE_KEYS: readonly string[] = [SECRET_KEYS.tlsKey, SECRET_KEYS.genericKey];

/** The values of `field` (`data` base64, `stringData` clear text) as base64, checked for type only. */
function values(raw: Record<string, unknown>, field: "data" | "stringData", issues: Issues): Map<string, string> {
  const out = new Map<string, string>();
  const v = raw[field];
  if (v === undefined || v === null) return out;
  if (!isPlainObject(v)) {
    issues.at(field).error(`expected a map of strings, got ${describe(v)}`);
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (!SECRET_KEY_LIST.includes(k)) continue;
    if (typeof val !== "string") {
      // Never describe the value: it is secret.
      issues.at(field, k).error(`expected a string, got ${val === null ? "null" : Array.isArray(val) ? "a list" : typeof val}`);
      continue;
    }
    if (field === "data") {
      const compact = val.replace(/\s+/g, "");
      if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
        issues.at(field, k).error("not valid base64 (Secret data values are base64-encoded)");
        continue;
      }
      out.set(k, compact);
    } else out.set(k, Buffer.from(val, "utf8").toString("base64"));
  }
  return out;
}

export function validateSecret(raw: Record<string, unknown>, metadata: ObjectMeta, issues: Issues): Secret {
  const type = optString(raw, "type", issues);
  const data = values(raw, "data", issues);
  // As the API server does, stringData wins over data for the same key.
  for (const [k, v] of values(raw, "stringData", issues)) data.set(k, v);
  const { annotations: _dropped, ...meta } = metadata;
  const credential = type === TLS_SECRET_TYPE || CERT_KEYS.some((k) => data.has(k));
  const base = { apiVersion: "v1" as const, kind: "Secret" as const, metadata: meta, ...(type ? { type } : {}) };
  if (!credential) return base;

  const where = (k: string): Issues => issues.at(raw["stringData"] && isPlainObject(raw["stringData"]) && k in raw["stringData"] ? "stringData" : "data", k);
  const text = (k: string): string => Buffer.from(data.get(k)!, "base64").toString("latin1");
  for (const k of CERT_KEYS) {
    if (data.has(k) && !text(k).includes("-----BEGIN CERTIFICATE-----"))
      where(k).error(`${k} is not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
  }
  for (const k of PRIVATE_KEYS) {
    if (data.has(k) && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text(k)))
      where(k).error(`${k} is not a PEM private key (expected "-----BEGIN … PRIVATE KEY-----")`);
  }
  const pairs: Array<[string, string]> = [
    [SECRET_KEYS.tlsCert, SECRET_KEYS.tlsKey],
    [SECRET_KEYS.genericCert, SECRET_KEYS.genericKey],
  ];
  for (const [cert, key] of pairs) {
    if (data.has(cert) && !data.has(key)) where(cert).error(`${cert} without ${key}: a certificate needs its private key`);
    if (data.has(key) && !data.has(cert)) where(key).error(`${key} without ${cert}: a private key needs its certificate`);
  }
  if (type === TLS_SECRET_TYPE && !(data.has(SECRET_KEYS.tlsCert) && data.has(SECRET_KEYS.tlsKey))) {
    issues.at("data").error(`a ${TLS_SECRET_TYPE} Secret needs ${SECRET_KEYS.tlsCert} and ${SECRET_KEYS.tlsKey}`);
  }
  return { ...base, data: Object.fromEntries([...data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
}
