/**
 * The identity side of `meshpilot serve`, as istiod runs it: the mesh CA (plugged in, shared
 * self-signed, or from files), the secure port's TLS and caller authentication, Istio's CA service
 * on that port, workload certificates for proxies that connect there without an agent, and the
 * root published in every watched namespace.
 */
import type { Logger } from "pino";
import { caServiceDefinition } from "../ca/ca-proto.js";
import { caServiceHandlers } from "../ca/ca-service.js";
import { loadCaMaterial } from "../ca/ca-source.js";
import { MeshCa } from "../ca/mesh-ca.js";
import { callAuthenticator } from "../ca/peer-auth.js";
import { RootCertPublisher } from "../ca/root-configmap.js";
import { servingCredentials, type ServingCredentials } from "../ca/serving-credentials.js";
import { DEFAULT_TOKEN_AUDIENCES, tokenReviewAuthenticator } from "../ca/token-review.js";
import { WorkloadSecretMinter } from "../ca/workload-secrets.js";
import type { KubeClient } from "../sources/kube/client.js";
import type { SecureXdsOptions } from "../xds/server.js";

export interface IdentityOptions {
  /** Secure port address (istiod: 0.0.0.0:15012). */
  readonly secureXdsAddress: string;
  /** meshpilot's namespace: where `cacerts` / `istio-ca-secret` are read or created. */
  readonly caNamespace: string;
  /** Istio's /etc/cacerts layout in a directory, instead of the Secrets. */
  readonly caDir?: string;
  /** Names in the secure port's serving certificate. */
  readonly dnsNames: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Audiences a ServiceAccount token must carry (Istio's TOKEN_AUDIENCES; default istio-ca). */
  readonly tokenAudiences?: readonly string[];
  /** Lifetime of certificates minted for agentless proxies (default 24 h). */
  readonly workloadCertTtlSeconds?: number;
  /** How often every namespace's root ConfigMap is checked again (default 60 s). */
  readonly rootResyncMs?: number;
}

export interface RunningIdentity {
  readonly ca: MeshCa;
  readonly secure: SecureXdsOptions;
  readonly minter: WorkloadSecretMinter;
  readonly serving: ServingCredentials;
  /** Present with Kubernetes. */
  readonly rootPublisher?: RootCertPublisher;
  stop(): void;
}

/** `trustDomain`: the mesh config's (SPIFFE ids `spiffe://<trustDomain>/ns/<ns>/sa/<sa>`). */
export async function startIdentity(opts: IdentityOptions, trustDomain: string, log: Logger, client: KubeClient | undefined): Promise<RunningIdentity> {
  const { material, created } = await loadCaMaterial({
    ...(client ? { client } : {}),
    namespace: opts.caNamespace,
    ...(opts.caDir !== undefined ? { caDir: opts.caDir } : {}),
    trustDomain,
  });
  const ca = new MeshCa(material, trustDomain);
  log.info({ origin: material.origin, created, trustDomain, rootNotAfter: material.issuer.cert.notAfter.toISOString() }, "mesh CA ready");
  if (!client)
    log.warn(
      "no Kubernetes API: the secure port accepts client certificates of the mesh CA only (ServiceAccount tokens cannot be reviewed), and the self-signed root lives in memory",
    );
  const serving = await servingCredentials(ca, { dns: opts.dnsNames, ...(opts.ipAddresses ? { ip: opts.ipAddresses } : {}) }, log);
  const authenticate = callAuthenticator(
    ca,
    client ? tokenReviewAuthenticator(client, { audiences: opts.tokenAudiences ?? DEFAULT_TOKEN_AUDIENCES }) : undefined,
  );
  const minter = new WorkloadSecretMinter({ ca, logger: log, ...(opts.workloadCertTtlSeconds ? { ttlSeconds: opts.workloadCertTtlSeconds } : {}) });
  const rootPublisher = client
    ? new RootCertPublisher({ client, rootPem: ca.rootPem, logger: log, ...(opts.rootResyncMs ? { resyncMs: opts.rootResyncMs } : {}) })
    : undefined;
  return {
    ca,
    minter,
    serving,
    ...(rootPublisher ? { rootPublisher } : {}),
    secure: {
      credentials: serving.credentials,
      authenticate,
      peerSecrets: minter,
      services: [{ definition: caServiceDefinition, handlers: caServiceHandlers({ ca, authenticate, logger: log }) }],
    },
    stop() {
      serving.stop();
      minter.stop();
      rootPublisher?.stop();
    },
  };
}
