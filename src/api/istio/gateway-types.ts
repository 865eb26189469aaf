/**
 * The Istio Gateway spec (networking.istio.io v1, the same shape as v1beta1 and v1alpha3) as
 * validation leaves it: the object keeps the user's map as `spec`; the model reads it through
 * these types once `validateGatewaySpec` has accepted it. Objects converted from the Kubernetes
 * Gateway API take this same shape.
 */
import type { ObjectMeta } from "../kube-types.js";

/** Server TLS modes as Istio 1.30 names them. */
export const GATEWAY_TLS_MODES = ["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"] as const;
export type GatewayTlsMode = (typeof GATEWAY_TLS_MODES)[number];

export const TLS_PROTOCOL_VERSIONS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] as const;
export type TlsProtocolVersion = (typeof TLS_PROTOCOL_VERSIONS)[number];

export interface GatewayPort {
  readonly number: number;
  /** HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, REDIS, MYSQL, TCP or TLS (case-insensitive, as Istio parses it). */
  readonly protocol: string;
  readonly name: string;
  /** Deprecated in Istio; accepted and ignored. */
  readonly targetPort?: number;
}

export interface ServerTLSSettings {
  readonly httpsRedirect?: boolean;
  readonly mode?: GatewayTlsMode;
  readonly serverCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  readonly caCrl?: string;
  readonly credentialName?: string;
  readonly credentialNames?: readonly string[];
  readonly tlsCertificates?: readonly { readonly serverCertificate?: string; readonly privateKey?: string; readonly caCertificates?: string }[];
  readonly subjectAltNames?: readonly string[];
  readonly verifyCertificateSpki?: readonly string[];
  readonly verifyCertificateHash?: readonly string[];
  readonly minProtocolVersion?: TlsProtocolVersion;
  readonly maxProtocolVersion?: TlsProtocolVersion;
  readonly cipherSuites?: readonly string[];
}

export interface GatewayServer {
  readonly port: GatewayPort;
  /** An IP or `unix://` path the listener binds to instead of 0.0.0.0. */
  readonly bind?: string;
  /** `[namespace/]host`: namespace `*` (any, the default), `.` (the Gateway's own) or a name; host may be a wildcard. */
  readonly hosts: readonly string[];
  readonly tls?: ServerTLSSettings;
  readonly defaultEndpoint?: string;
  /** Unique across the Gateway's servers when set. */
  readonly name?: string;
}

export interface GatewaySpec {
  /** Labels of the gateway proxies (their pods) this Gateway configures. Empty or absent: every router proxy. */
  readonly selector?: Readonly<Record<string, string>>;
  readonly servers?: readonly GatewayServer[];
}

export interface Gateway {
  readonly apiVersion: string;
  readonly kind: "Gateway";
  readonly metadata: ObjectMeta;
  readonly spec: GatewaySpec;
}
