// Certificate lifetimes, apart from the CA itself so that argument checks need not load X.509.

/** Istio's DEFAULT_WORKLOAD_CERT_TTL (SECRET_TTL). */
export const DEFAULT_WORKLOAD_CERT_TTL_S = 24 * 3600;
/** Istio's MAX_WORKLOAD_CERT_TTL. */
export const MAX_WORKLOAD_CERT_TTL_S = 90 * 24 * 3600;
