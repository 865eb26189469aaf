/**
 * A Gateway server's `tls` → the DownstreamTlsContext of its filter chain, as Istio builds it for
 * gateways: `credentialName` as SDS over ADS (`kubernetes://<name>`, and for MUTUAL the client CA
 * `kubernetes://<name>-cacert`, served from a Secret `<name>-cacert` when there is one, else from
 * the Secret's own `ca.crt`/`cacert`), or the file paths, which upstream Envoy reads itself (there
 * is no istio-agent to serve them); TLS versions and cipher suites as `tls_params`; ALPN h2 and
 * http/1.1 for HTTPS. The Secret resources come along, and what is wrong with them as findings:
 * a server whose credential cannot be used is left out (its caller says so).
 */
import type { GatewayTlsModel } from "../model/gateways.js";
import type { GatewayCredentialScope } from "../model/gateway-scope.js";
import { credentialCaSdsName, credentialSdsName } from "../model/names.js";
import type { TlsParametersJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/common_pb.js";
import type { CommonTlsContextJson, DownstreamTlsContextJson } from "../gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import type { FilterChainJson } from "./envoy.js";
import { typed } from "./envoy.js";
import { caCertificateSecret, certificateSecret, sanMatchers, SDS_ADS_CONFIG, type SecretJson } from "./tls.js";

export interface DownstreamTls {
  readonly transportSocket?: FilterChainJson["transportSocket"];
  readonly secrets: readonly SecretJson[];
  /** Why the server cannot serve TLS; set: leave the server out. */
  readonly problem?: string;
}

const VERSION: Readonly<Record<NonNullable<GatewayTlsModel["minProtocolVersion"]>, TlsParametersJson["tlsMinimumProtocolVersion"]>> = {
  TLS_AUTO: "TLS_AUTO",
  TLSV1_0: "TLSv1_0",
  TLSV1_1: "TLSv1_1",
  TLSV1_2: "TLSv1_2",
  TLSV1_3: "TLSv1_3",
};

function tlsParams(tls: GatewayTlsModel): TlsParametersJson | undefined {
  const p: TlsParametersJson = {
    ...(tls.minProtocolVersion ? { tlsMinimumProtocolVersion: VERSION[tls.minProtocolVersion] } : {}),
    ...(tls.maxProtocolVersion ? { tlsMaximumProtocolVersion: VERSION[tls.maxProtocolVersion] } : {}),
    ...(tls.cipherSuites.length ? { cipherSuites: [...tls.cipherSuites] } : {}),
  };
  return Object.keys(p).length ? p : undefined;
}

export function downstreamTls(tls: GatewayTlsModel, http: boolean, credential: GatewayCredentialScope | undefined): DownstreamTls {
  const mutual = tls.mode === "MUTUAL";
  const sans = sanMatchers(tls.subjectAltNames);
  const secrets: SecretJson[] = [];
  let material: CommonTlsContextJson;
  if (credential) {
    const { name, namespace, secretName, secret } = credential;
    if (credential.refused) return { secrets, problem: credential.refused };
    if (!secret)
      return {
        secrets,
        problem: `Secret ${namespace}/${secretName} (tls.credentialName) is missing or invalid in ${secretName === name ? "the gateway proxy's namespace" : "namespace"} ${namespace}`,
      };
    if (!secret.cert || !secret.key)
      return {
        secrets,
        problem: `Secret ${namespace}/${secretName} (tls.credentialName) has no server certificate: it needs tls.crt and tls.key, or cert and key`,
      };
    secrets.push(certificateSecret(name, secret.cert, secret.key));
    material = { tlsCertificateSdsSecretConfigs: [{ name: credentialSdsName(name), sdsConfig: SDS_ADS_CONFIG }] };
    if (mutual) {
      const ca = credential.caSecret?.ca ?? secret.ca;
      if (!ca)
        return {
          secrets: [],
          problem: `Secret ${namespace}/${secretName} (tls.credentialName) has no CA certificate for MUTUAL (ca.crt or cacert, or a Secret ${secretName}-cacert): client certificates cannot be verified`,
        };
      secrets.push(caCertificateSecret(name, ca));
      material = {
        ...material,
        combinedValidationContext: {
          defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans } : {},
          validationContextSdsSecretConfig: { name: credentialCaSdsName(name), sdsConfig: SDS_ADS_CONFIG },
        },
      };
    }
  } else {
    material = { tlsCertificates: [{ certificateChain: { filename: tls.serverCertificate ?? "" }, privateKey: { filename: tls.privateKey ?? "" } }] };
    if (mutual)
      material = {
        ...material,
        validationContext: { trustedCa: { filename: tls.caCertificates ?? "" }, ...(sans.length ? { matchTypedSubjectAltNames: sans } : {}) },
      };
  }
  const params = tlsParams(tls);
  const ctx: DownstreamTlsContextJson = {
    commonTlsContext: { ...(params ? { tlsParams: params } : {}), ...(http ? { alpnProtocols: ["h2", "http/1.1"] } : {}), ...material },
    ...(mutual ? { requireClientCertificate: true } : {}),
  };
  return {
    transportSocket: { name: "envoy.transport_sockets.tls", typedConfig: typed("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", ctx) },
    secrets,
  };
}
