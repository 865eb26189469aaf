/**
 * DestinationRule `tls` → the upstream transport socket of a cluster.
 *
 * meshpilot targets upstream Envoy without istio-agent, which changes where key material comes from:
 * - SIMPLE / MUTUAL with file paths: istiod would hand the paths to the agent's SDS server
 *   (`file-root:<ca>`, `file-cert:<cert>~<key>`). Upstream Envoy has no such server, so the paths
 *   become `filename` data sources that Envoy reads itself (and watches for rotation). The files
 *   must exist on the proxy's file system: Envoy rejects a cluster whose file is missing.
 * - SIMPLE without caCertificates: Istio verifies against the agent's system roots; upstream Envoy
 *   has no notion of "system roots", so the server certificate is not verified (the analyzer warns
 *   with IST0128/IST0129).
 * - ISTIO_MUTUAL (set by a DestinationRule, or chosen by auto mTLS): as Istio produces it, SNI
 *   `outbound_.<port>_.<subset>_.<host>`, the workload certificate `default` and the mesh root
 *   `ROOTCA` over SDS on the ADS stream (meshpilot is the proxy's SDS server; there is no agent),
 *   and the server pinned to the SPIFFE identities of the destination's workloads (the rule's
 *   subjectAltNames, else its endpoints' service accounts). ALPN is Istio's without metadata
 *   exchange (`istio`, plus `h2` for HTTP/2 clusters): upstream Envoy runs no metadata-exchange
 *   filter, and a peer that negotiates `istio-peer-exchange` expects one. The SDS source keeps
 *   Envoy's default initial fetch timeout instead of Istio's 0s, so a proxy that never receives
 *   its certificate still initializes (and fails those handshakes).
 * - Auto mTLS (no TLS in the rule): Istio's transport socket matches, `tlsMode-istio` (endpoints
 *   whose metadata says `tlsMode: istio`) with the ISTIO_MUTUAL socket and `tlsMode-disabled`
 *   (raw) for the rest.
 * - credentialName: Istio honours it for sidecars only in a DestinationRule with a
 *   workloadSelector, and otherwise drops the TLS settings (so does meshpilot, reported by the
 *   caller). Honoured, it reads the Secret of that name in the proxy's namespace, as Istio does,
 *   and serves it over ADS: the cluster names `kubernetes://<name>` (MUTUAL: the client
 *   certificate) and `kubernetes://<name>-cacert` (the CA, from a Secret `<name>-cacert` if there
 *   is one, else from the Secret's own `cacert`/`ca.crt`), with Istio's SDS-over-ADS config source
 *   (`ads`, V3, Envoy's default initial fetch timeout), and the proxy gets matching `Secret`
 *   resources (`credentialSecrets`). subjectAltNames stay in the combined validation context's
 *   default part, as in Istio.
 *   - A missing Secret: the cluster keeps Istio's references and no Secret resource is served, as
 *     Istio does: Envoy warms the cluster until the SDS initial fetch timeout (15 s), then its
 *     handshakes fail (503) until the Secret appears, when Envoy receives it and traffic flows
 *     (MP0407). A Secret deleted after Envoy received it is not taken away from Envoy (a SotW SDS
 *     answer that leaves a name out does not remove it), so that proxy keeps its last copy.
 *   - One deliberate difference: a Secret that has no CA (and no `-cacert` Secret) gets no
 *     `-cacert` reference. Istio would reference it anyway, serve nothing, and every handshake
 *     would fail; meshpilot does not verify the server certificate then and warns (MP0408), as for
 *     SIMPLE without caCertificates.
 */
import type { ObjectRef } from "../api/diagnostics.js";
import type { ClusterPolicy } from "../model/parsed.js";
import type { CredentialRef } from "../model/scope.js";
import { credentialCaSdsName, credentialSdsName, CREDENTIAL_CA_SUFFIX, ISTIO_TLS_MODE, TLS_MODE_DISABLED_MATCH, TLS_MODE_ISTIO_MATCH } from "../model/names.js";
import type { SecretJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import type { ClusterJson, FilterChainJson } from "./envoy.js";
import { typed } from "./envoy.js";
import type { CommonTlsContextJson, DownstreamTlsContextJson, UpstreamTlsContextJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import type { ConfigSourceJson } from "../gen/envoy/config/core/v3/config_source_pb.js";
import type { SubjectAltNameMatcherJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/common_pb.js";

export type { SecretJson };

export const SDS_WORKLOAD_CERT = "default";
export const SDS_ROOT_CERT = "ROOTCA";

/** Istio's config source for secrets served by the control plane: the ADS stream, default initial fetch timeout. */
export const SDS_ADS_CONFIG: ConfigSourceJson = { ads: {}, resourceApiVersion: "V3" };

/** Istio matches SPIFFE identities as URI SANs and everything else as DNS names. */
export function sanMatchers(sans: readonly string[] | undefined): SubjectAltNameMatcherJson[] {
  return (sans ?? []).map((s) => ({ sanType: s.startsWith("spiffe://") ? "URI" : "DNS", matcher: { exact: s } }));
}

export interface TlsTarget {
  /** The SNI Istio uses for ISTIO_MUTUAL when the rule gives none. */
  readonly istioSni: string;
  /** Whether the cluster speaks HTTP/2 upstream (adds the `h2` ALPN). */
  readonly h2: boolean;
  /** ISTIO_MUTUAL's SANs when the rule names none: the destination workloads' SPIFFE identities. */
  readonly identities?: readonly string[];
}

export interface UpstreamTls {
  readonly transportSocket?: ClusterJson["transportSocket"];
  /** Set SNI from the request's host when the rule gives no `sni` (SIMPLE/MUTUAL on HTTP clusters). */
  readonly autoSni?: boolean;
  /** Verify the server certificate against the request's host (autoSni without subjectAltNames). */
  readonly autoSanValidation?: boolean;
  /** Why the settings were not applied, when they were not. */
  readonly dropped?: string;
  /** The SDS Secret resources the cluster references that exist (credentialName). */
  readonly secrets?: readonly SecretJson[];
  /** What is wrong with the credential (credentialName). */
  readonly problems?: readonly TlsProblem[];
}

export interface TlsProblem {
  readonly severity: "error" | "warning";
  readonly code: string;
  readonly message: string;
  /** The Secret at fault; the DestinationRule when undefined. */
  readonly object?: ObjectRef;
  readonly path?: string;
}

type ClientTLSSettings = NonNullable<ClusterPolicy["tls"]>;

export const CredentialCodes = {
  /** The Secret named by credentialName is missing, or has no client certificate for MUTUAL. */
  Unusable: "MP0407",
  /** The Secret has no CA: the server certificate is not verified. */
  NoCa: "MP0408",
} as const;

function socket(ctx: UpstreamTlsContextJson): ClusterJson["transportSocket"] {
  return { name: "envoy.transport_sockets.tls", typedConfig: typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", ctx) };
}

export function upstreamTls(tls: ClientTLSSettings | undefined, target: TlsTarget, http: boolean, credentials?: CredentialRef): UpstreamTls {
  if (!tls?.mode || tls.mode === "DISABLE") return {};
  if (tls.mode === "ISTIO_MUTUAL") return { transportSocket: istioMutualSocket(target, tls.subjectAltNames, tls.sni) };
  if (tls.credentialName) {
    if (!credentials?.honoured) {
      return {
        dropped: `tls.credentialName "${tls.credentialName}" applies to sidecars only in a DestinationRule with a workloadSelector (as in Istio); the ${tls.mode} settings are not applied`,
      };
    }
    return credentialTls(tls, tls.credentialName, credentials, target, http);
  }
  const sans = sanMatchers(tls.subjectAltNames);
  const verify = Boolean(tls.caCertificates) && !tls.insecureSkipVerify;
  return originating(tls, target, http, verify, {
    ...(tls.mode === "MUTUAL" && tls.clientCertificate && tls.privateKey
      ? { tlsCertificates: [{ certificateChain: { filename: tls.clientCertificate }, privateKey: { filename: tls.privateKey } }] }
      : {}),
    ...(verify
      ? {
          validationContext: {
            trustedCa: { filename: tls.caCertificates! },
            ...(sans.length ? { matchTypedSubjectAltNames: sans } : {}),
            ...(tls.caCrl ? { crl: { filename: tls.caCrl } } : {}),
          },
        }
      : {}),
  });
}

/** The mesh's own mTLS to a destination: workload certificate and root over SDS, the server pinned to its identities. */
function istioMutualSocket(target: TlsTarget, subjectAltNames?: readonly string[], sni?: string): ClusterJson["transportSocket"] {
  const sans = sanMatchers(subjectAltNames?.length ? subjectAltNames : target.identities);
  return socket({
    commonTlsContext: {
      tlsParams: { tlsMinimumProtocolVersion: "TLSv1_2", tlsMaximumProtocolVersion: "TLSv1_3" },
      alpnProtocols: target.h2 ? ["istio", "h2"] : ["istio"],
      tlsCertificateSdsSecretConfigs: [{ name: SDS_WORKLOAD_CERT, sdsConfig: SDS_ADS_CONFIG }],
      combinedValidationContext: {
        defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans } : {},
        validationContextSdsSecretConfig: { name: SDS_ROOT_CERT, sdsConfig: SDS_ADS_CONFIG },
      },
    },
    sni: sni || target.istioSni,
  });
}

/** Auto mTLS: ISTIO_MUTUAL to endpoints marked as mesh members, plaintext to the rest. */
export function autoMtlsMatches(target: TlsTarget): NonNullable<ClusterJson["transportSocketMatches"]> {
  return [
    { name: TLS_MODE_ISTIO_MATCH, match: { tlsMode: ISTIO_TLS_MODE }, transportSocket: istioMutualSocket(target) },
    {
      name: TLS_MODE_DISABLED_MATCH,
      match: {},
      transportSocket: { name: "envoy.transport_sockets.raw_buffer", typedConfig: typed("envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer", {}) },
    },
  ];
}

/** Istio's cipher suites for the inbound side of mesh mTLS. */
const INBOUND_CIPHERS = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-GCM-SHA256",
];

/**
 * The inbound side of mesh mTLS: the workload certificate, a client certificate required and
 * verified against the mesh root. ALPN is Istio's without metadata exchange (`h2`, `http/1.1`):
 * `istio` is only matched on, never negotiated, so that HTTP/2 still can be.
 */
export function inboundMtlsSocket(): NonNullable<FilterChainJson["transportSocket"]> {
  const ctx: DownstreamTlsContextJson = {
    commonTlsContext: {
      tlsParams: { tlsMinimumProtocolVersion: "TLSv1_2", tlsMaximumProtocolVersion: "TLSv1_3", cipherSuites: INBOUND_CIPHERS },
      alpnProtocols: ["h2", "http/1.1"],
      tlsCertificateSdsSecretConfigs: [{ name: SDS_WORKLOAD_CERT, sdsConfig: SDS_ADS_CONFIG }],
      combinedValidationContext: { defaultValidationContext: {}, validationContextSdsSecretConfig: { name: SDS_ROOT_CERT, sdsConfig: SDS_ADS_CONFIG } },
    },
    requireClientCertificate: true,
  };
  return { name: "envoy.transport_sockets.tls", typedConfig: typed("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", ctx) };
}

/** SIMPLE/MUTUAL: ALPN, SNI (or auto SNI and SAN validation on HTTP clusters) around the key material. */
function originating(
  tls: ClientTLSSettings,
  target: TlsTarget,
  http: boolean,
  verify: boolean,
  material: CommonTlsContextJson,
  extra: Partial<UpstreamTls> = {},
): UpstreamTls {
  const ctx: UpstreamTlsContextJson = {
    commonTlsContext: { ...(target.h2 ? { alpnProtocols: ["h2"] } : {}), ...material },
    ...(tls.sni ? { sni: tls.sni } : {}),
  };
  const autoSni = !tls.sni && http;
  const sanless = (tls.subjectAltNames ?? []).length === 0;
  return { transportSocket: socket(ctx), ...(autoSni ? { autoSni: true, ...(verify && sanless ? { autoSanValidation: true } : {}) } : {}), ...extra };
}

/** SIMPLE/MUTUAL with credentialName: SDS references over ADS, and the Secret resources behind them. */
function credentialTls(tls: ClientTLSSettings, name: string, scope: CredentialRef, target: TlsTarget, http: boolean): UpstreamTls {
  const { secret, caSecret } = scope;
  const ca = caSecret?.ca ?? secret?.ca;
  const mutual = tls.mode === "MUTUAL";
  const problems: TlsProblem[] = [];
  const secrets: SecretJson[] = [];
  const missing = !secret && !(caSecret && !mutual);
  if (missing) {
    problems.push({
      severity: "error",
      code: CredentialCodes.Unusable,
      message: `tls.credentialName: Secret ${scope.namespace}/${name} not found; a proxy that never received it warms the cluster for Envoy's SDS initial fetch timeout (15 s), then fails its TLS handshakes until the Secret exists; a proxy that received it earlier keeps using that copy`,
    });
  } else if (mutual && !(secret?.cert && secret.key)) {
    problems.push({
      severity: "error",
      code: CredentialCodes.Unusable,
      message: `Secret ${scope.namespace}/${name} (tls.credentialName) has no client certificate: MUTUAL needs tls.crt and tls.key, or cert and key; the handshake cannot present one`,
      object: secret?.ref ?? { kind: "Secret", namespace: scope.namespace, name },
      path: "data",
    });
  }
  if (mutual && secret?.cert && secret.key) {
    secrets.push(certificateSecret(name, secret.cert, secret.key));
  }
  // As Istio: the CA is referenced unless insecureSkipVerify; here also only when there is one
  // (or the Secret is missing, where Istio's references are kept).
  const verify = !tls.insecureSkipVerify && (ca !== undefined || missing);
  if (ca && verify) secrets.push(caCertificateSecret(name, ca));
  if (!tls.insecureSkipVerify && !ca && !missing) {
    problems.push({
      severity: "warning",
      code: CredentialCodes.NoCa,
      message: `Secret ${scope.namespace}/${name} (tls.credentialName) has no CA certificate (cacert or ca.crt, or a Secret ${name}${CREDENTIAL_CA_SUFFIX}): the server certificate is not verified`,
      object: (caSecret ?? secret)!.ref,
      path: "data",
    });
  }
  const sans = sanMatchers(tls.subjectAltNames);
  return originating(
    tls,
    target,
    http,
    verify,
    {
      ...(mutual ? { tlsCertificateSdsSecretConfigs: [{ name: credentialSdsName(name), sdsConfig: SDS_ADS_CONFIG }] } : {}),
      ...(verify
        ? {
            combinedValidationContext: {
              defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans } : {},
              validationContextSdsSecretConfig: { name: credentialCaSdsName(name), sdsConfig: SDS_ADS_CONFIG },
            },
          }
        : {}),
    },
    { ...(secrets.length ? { secrets } : {}), ...(problems.length ? { problems } : {}) },
  );
}

/** The SDS Secret `kubernetes://<name>`: a credential's certificate chain and key (base64, as in the Kubernetes Secret). */
export function certificateSecret(credentialName: string, cert: string, key: string): SecretJson {
  return { name: credentialSdsName(credentialName), tlsCertificate: { certificateChain: { inlineBytes: cert }, privateKey: { inlineBytes: key } } };
}

/** The SDS Secret `kubernetes://<name>-cacert`: a credential's CA bundle as a validation context. */
export function caCertificateSecret(credentialName: string, ca: string): SecretJson {
  return { name: credentialCaSdsName(credentialName), validationContext: { trustedCa: { inlineBytes: ca } } };
}

/** A Secret resource with its private key replaced, for output meant for people (config dumps, `translate`). */
export function redactSecret(s: SecretJson): SecretJson {
  if (!s.tlsCertificate?.privateKey) return s;
  return { ...s, tlsCertificate: { ...s.tlsCertificate, privateKey: { inlineString: "[redacted]" } } };
}
