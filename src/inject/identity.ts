/**
 * How an injected proxy proves who it is to meshpilot, as Istio's injection template does it: a
 * projected ServiceAccount token for the CA's audience (`istio-token`) and the mesh root from the
 * namespace's `istio-ca-root-cert` ConfigMap (`istiod-ca-cert`). With them the proxy connects to
 * the secure port and receives its workload certificates (`default`, `ROOTCA`) over ADS. Envoy
 * reads the token file on every connect, so the kubelet's rotation of it is picked up.
 */
import type { SecureBootstrap } from "../translate/bootstrap.js";
import type { InjectionSettings } from "./settings.js";

export const TOKEN_VOLUME = "istio-token";
export const ROOT_CERT_VOLUME = "istiod-ca-cert";
const TOKEN_DIR = "/var/run/secrets/tokens";
const ROOT_CERT_DIR = "/var/run/secrets/istio";
const TOKEN_FILE = "istio-token";
const ROOT_CERT_FILE = "root-cert.pem";
/** The ConfigMap meshpilot publishes the root in, in every namespace (as istiod). */
export const ROOT_CERT_CONFIGMAP = "istio-ca-root-cert";
/** Istio's token lifetime; the kubelet renews the file at 80 % of it. */
const TOKEN_EXPIRATION_SECONDS = 43200;

/** Volumes the proxy's identity needs; none when it uses the plaintext port. */
export function identityVolumes(settings: InjectionSettings): Record<string, unknown>[] {
  if (!settings.secureXds) return [];
  return [
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [{ serviceAccountToken: { audience: settings.secureXds.tokenAudience, expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: TOKEN_FILE } }],
      },
    },
    { name: ROOT_CERT_VOLUME, configMap: { name: ROOT_CERT_CONFIGMAP } },
  ];
}

export function identityVolumeMounts(settings: InjectionSettings): Record<string, unknown>[] {
  if (!settings.secureXds) return [];
  return [
    { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    { name: ROOT_CERT_VOLUME, mountPath: ROOT_CERT_DIR, readOnly: true },
  ];
}

/** The bootstrap's secure options, reading what identityVolumes mounts. */
export function secureBootstrap(settings: InjectionSettings): SecureBootstrap | undefined {
  const s = settings.secureXds;
  if (!s) return undefined;
  return {
    caCertFile: `${ROOT_CERT_DIR}/${ROOT_CERT_FILE}`,
    tokenFile: `${TOKEN_DIR}/${TOKEN_FILE}`,
    ...(s.serverName !== undefined ? { serverName: s.serverName } : {}),
  };
}
