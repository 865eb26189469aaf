/** Signed JWTs for the authentication tests: ES256 keys made with node:crypto, their JWKS, compact JWS tokens. */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

/** A compact JWS (ES256) over `claims`, signed with `key`. */
export function signJwt(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const head = b64url(JSON.stringify({ alg: "ES256", typ: "JWT", kid }));
  const body = b64url(JSON.stringify(claims));
  const sig = sign("sha256", Buffer.from(`${head}.${body}`), { key, dsaEncoding: "ieee-p1363" });
  return `${head}.${body}.${b64url(sig)}`;
}

/** A new P-256 signing key and its public JWK (as a JWKS lists it). */
export function jwtKey(kid: string): { privateKey: KeyObject; jwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, jwk: { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" } };
}
