import type { StoredObject } from "../api/objects.js";
import { SECRET_KEYS, type Secret } from "../api/kube-types.js";
import { credentialKey, type CredentialModel } from "./ir.js";

/**
 * Secrets → credentials, with Istio's key precedence: the generic `cert`/`key` pair first, then
 * `tls.crt`/`tls.key`; the CA from `cacert`, then `ca.crt`. Empty values count as absent.
 */
export function buildCredentials(secrets: readonly StoredObject<Secret>[]): Map<string, CredentialModel> {
  const out = new Map<string, CredentialModel>();
  for (const { object: s } of secrets) {
    const namespace = s.metadata.namespace ?? "default";
    const d = s.data ?? {};
    const generic = Boolean(d[SECRET_KEYS.genericCert] && d[SECRET_KEYS.genericKey]);
    const cert = generic ? d[SECRET_KEYS.genericCert] : d[SECRET_KEYS.tlsCert];
    const key = generic ? d[SECRET_KEYS.genericKey] : d[SECRET_KEYS.tlsKey];
    const ca = d[SECRET_KEYS.genericCa] || d[SECRET_KEYS.tlsCa];
    out.set(credentialKey(namespace, s.metadata.name), {
      name: s.metadata.name,
      namespace,
      ...(cert && key ? { cert, key } : {}),
      ...(ca ? { ca } : {}),
      ref: { kind: "Secret", namespace, name: s.metadata.name },
    });
  }
  return out;
}
