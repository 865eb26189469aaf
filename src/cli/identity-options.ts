/** `meshpilot serve`'s CA and secure-port flags → the identity options. */
import { parseDuration } from "../api/duration.js";
import { MAX_WORKLOAD_CERT_TTL_S } from "../ca/cert-ttl.js";
import type { ServeOptions } from "../runtime/serve.js";
import { meshpilotService } from "./inject-options.js";

export interface IdentityFlags {
  /** false with `--no-secure-xds`. */
  readonly secureXds: boolean;
  readonly secureXdsAddress?: string;
  readonly caDir?: string;
  readonly injectService: string;
  /** Go duration, e.g. `24h`, `90s`. */
  readonly workloadCertTtl?: string;
}

/** istiod's secure port. */
export const DEFAULT_SECURE_XDS_ADDRESS = "0.0.0.0:15012";

/** `--workload-cert-ttl` in whole seconds, or why it is not one. */
export function workloadCertTtlSeconds(text: string): number | { error: string } {
  const d = parseDuration(text);
  if (!d || d.totalNanos < 0n) return { error: `--workload-cert-ttl "${text}" must be a duration such as 24h, 30m or 90s` };
  const seconds = Number(d.seconds);
  // Renewal is due at half life, and certificates are backdated by a minute: shorter ones would renew at once.
  if (seconds < 60) return { error: `--workload-cert-ttl "${text}" must be at least 60s` };
  if (seconds > MAX_WORKLOAD_CERT_TTL_S) return { error: `--workload-cert-ttl "${text}" is longer than the 90 days Istio allows (MAX_WORKLOAD_CERT_TTL)` };
  return seconds;
}

/**
 * On by default in a cluster (as istiod's 15012), off elsewhere unless an address is given. The
 * serving certificate names the Service (`<name>.<ns>.svc`, …) and, as istiod's does, `istiod`
 * names, so that an unmodified istio-agent whose discovery address is istiod's verifies it.
 */
export function identityOptions(o: IdentityFlags, inCluster = process.env["KUBERNETES_SERVICE_HOST"] !== undefined): ServeOptions["identity"] {
  if (!o.secureXds) return undefined;
  const address = o.secureXdsAddress ?? (inCluster ? DEFAULT_SECURE_XDS_ADDRESS : undefined);
  if (address === undefined) return undefined;
  const ttl = o.workloadCertTtl !== undefined ? workloadCertTtlSeconds(o.workloadCertTtl) : undefined;
  if (typeof ttl === "object") throw new Error(ttl.error);
  const { name, namespace } = meshpilotService(o.injectService);
  const names = [name, "istiod"].flatMap((n) => [`${n}.${namespace}.svc`, `${n}.${namespace}.svc.cluster.local`, `${n}.${namespace}`]);
  if (namespace !== "istio-system") names.push("istiod.istio-system.svc");
  return {
    secureXdsAddress: address,
    caNamespace: namespace,
    ...(o.caDir !== undefined ? { caDir: o.caDir } : {}),
    ...(ttl !== undefined ? { workloadCertTtlSeconds: ttl } : {}),
    dnsNames: [...new Set(names)],
  };
}
