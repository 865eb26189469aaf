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
 * - ISTIO_MUTUAL: produced as Istio produces it (SNI `outbound_.<port>_.<subset>_.<host>`, SDS
 *   secrets `default` and `ROOTCA` from the `sds-grpc` cluster). Until meshpilot serves those
 *   secrets (the mTLS work), the handshake cannot complete. Two deliberate differences: ALPN has
 *   no `istio-peer-exchange` (upstream Envoy runs no metadata-exchange filter, and a peer that sees
 *   that ALPN expects one), and the SDS source keeps Envoy's default initial fetch timeout instead
 *   of Istio's 0s (wait forever), so a missing SDS server cannot keep Envoy from initializing.
 * - credentialName: Istio honours it for sidecars only with a workloadSelector and otherwise drops
 *   the TLS settings; meshpilot does not serve Kubernetes secrets yet, so it is dropped in both
 *   cases (reported by the caller).
 */
import type { ClientTLSSettings } from "../api/istio-types.js";
import type { ClusterJson } from "./envoy.js";
import { typed } from "./envoy.js";
import type { UpstreamTlsContextJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import type { ConfigSourceJson } from "../gen/envoy/config/core/v3/config_source_pb.js";
import type { SubjectAltNameMatcherJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/common_pb.js";

export const SDS_CLUSTER = "sds-grpc";
export const SDS_WORKLOAD_CERT = "default";
export const SDS_ROOT_CERT = "ROOTCA";

function sdsConfig(): ConfigSourceJson {
  return {
    apiConfigSource: {
      apiType: "GRPC",
      setNodeOnFirstMessageOnly: true,
      transportApiVersion: "V3",
      grpcServices: [{ envoyGrpc: { clusterName: SDS_CLUSTER } }],
    },
    resourceApiVersion: "V3",
  };
}

/** Istio matches SPIFFE identities as URI SANs and everything else as DNS names. */
function sanMatchers(sans: readonly string[] | undefined): SubjectAltNameMatcherJson[] {
  return (sans ?? []).map((s) => ({ sanType: s.startsWith("spiffe://") ? "URI" : "DNS", matcher: { exact: s } }));
}

export interface TlsTarget {
  /** The SNI Istio uses for ISTIO_MUTUAL when the rule gives none. */
  readonly istioSni: string;
  /** Whether the cluster speaks HTTP/2 upstream (adds the `h2` ALPN). */
  readonly h2: boolean;
}

export interface UpstreamTls {
  readonly transportSocket?: ClusterJson["transportSocket"];
  /** Set SNI from the request's host when the rule gives no `sni` (SIMPLE/MUTUAL on HTTP clusters). */
  readonly autoSni?: boolean;
  /** Verify the server certificate against the request's host (autoSni without subjectAltNames). */
  readonly autoSanValidation?: boolean;
  /** Why the settings were not applied, when they were not. */
  readonly dropped?: string;
}

function socket(ctx: UpstreamTlsContextJson): ClusterJson["transportSocket"] {
  return { name: "envoy.transport_sockets.tls", typedConfig: typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", ctx) };
}

export function upstreamTls(tls: ClientTLSSettings | undefined, target: TlsTarget, http: boolean): UpstreamTls {
  if (!tls?.mode || tls.mode === "DISABLE") return {};
  if (tls.mode === "ISTIO_MUTUAL") {
    const sans = sanMatchers(tls.subjectAltNames);
    return {
      transportSocket: socket({
        commonTlsContext: {
          tlsParams: { tlsMinimumProtocolVersion: "TLSv1_2", tlsMaximumProtocolVersion: "TLSv1_3" },
          alpnProtocols: target.h2 ? ["istio", "h2"] : ["istio"],
          tlsCertificateSdsSecretConfigs: [{ name: SDS_WORKLOAD_CERT, sdsConfig: sdsConfig() }],
          combinedValidationContext: {
            defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans } : {},
            validationContextSdsSecretConfig: { name: SDS_ROOT_CERT, sdsConfig: sdsConfig() },
          },
        },
        sni: tls.sni || target.istioSni,
      }),
    };
  }
  if (tls.credentialName) return { dropped: `tls.credentialName "${tls.credentialName}" is not supported for sidecars yet; the ${tls.mode} settings are not applied` };
  const sans = sanMatchers(tls.subjectAltNames);
  const verify = Boolean(tls.caCertificates) && !tls.insecureSkipVerify;
  const ctx: UpstreamTlsContextJson = {
    commonTlsContext: {
      ...(target.h2 ? { alpnProtocols: ["h2"] } : {}),
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
    },
    ...(tls.sni ? { sni: tls.sni } : {}),
  };
  const autoSni = !tls.sni && http;
  return { transportSocket: socket(ctx), ...(autoSni ? { autoSni: true, ...(verify && sans.length === 0 ? { autoSanValidation: true } : {}) } : {}) };
}
