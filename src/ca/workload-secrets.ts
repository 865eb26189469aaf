/**
 * Workload certificates for proxies without an agent (stock Envoy on the secure port): one key and
 * certificate per identity (namespace/ServiceAccount), shared by that identity's streams, minted
 * when its first stream arrives, renewed at half its life (Istio's SECRET_GRACE_PERIOD_RATIO 0.5)
 * and pushed, and forgotten when its last stream goes. Sent over SDS as Istio's agent names them:
 * `default` (certificate chain and key) and `ROOTCA` (the root as validation context).
 */
import type { Logger } from "pino";
import { encodeResources } from "../xds/encode.js";
import type { PeerIdentity, PeerSecretSource } from "../xds/peer.js";
import type { ResourceMap } from "../xds/snapshot.js";
import { TYPE_URL } from "../xds/type-urls.js";
import { DEFAULT_WORKLOAD_CERT_TTL_S, type IssuedCert, type MeshCa } from "./mesh-ca.js";

export const WORKLOAD_CERT_SECRET = "default";
export const ROOT_CA_SECRET = "ROOTCA";

export interface WorkloadSecretOptions {
  readonly ca: MeshCa;
  readonly logger: Logger;
  /** Lifetime of minted certificates; default Istio's 24 h. */
  readonly ttlSeconds?: number;
  /** Renew when this share of the lifetime is left (Istio: 0.5). */
  readonly graceRatio?: number;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** The SDS Secrets of one issued certificate. */
export function workloadSecrets(cert: IssuedCert): ResourceMap {
  return encodeResources(TYPE_URL.secret, [
    { name: ROOT_CA_SECRET, json: { name: ROOT_CA_SECRET, validationContext: { trustedCa: { inlineBytes: b64(cert.rootPem) } } } },
    {
      name: WORKLOAD_CERT_SECRET,
      json: {
        name: WORKLOAD_CERT_SECRET,
        tlsCertificate: { certificateChain: { inlineBytes: b64(cert.certChainPem) }, privateKey: { inlineBytes: b64(cert.keyPem) } },
      },
    },
  ]);
}

interface Entry {
  readonly listeners: Set<(s: ResourceMap) => void>;
  current?: ResourceMap;
  notAfter?: Date;
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

export class WorkloadSecretMinter implements PeerSecretSource {
  private readonly entries = new Map<string, Entry>();
  private readonly log: Logger;

  constructor(private readonly opts: WorkloadSecretOptions) {
    this.log = opts.logger.child({ component: "workload-certs" });
  }

  watch(peer: PeerIdentity, listener: (secrets: ResourceMap) => void): () => void {
    const key = `${peer.namespace}/${peer.serviceAccount}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { listeners: new Set(), stopped: false };
      this.entries.set(key, e);
      this.mint(key, peer, e);
    } else if (e.current) {
      const current = e.current;
      queueMicrotask(() => listener(current));
    }
    e.listeners.add(listener);
    const entry = e;
    return () => {
      entry.listeners.delete(listener);
      if (entry.listeners.size > 0) return;
      entry.stopped = true;
      clearTimeout(entry.timer);
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
  }

  /** Identities with a live certificate (for tests and debug). */
  get identities(): string[] {
    return [...this.entries.keys()];
  }

  stop(): void {
    for (const e of this.entries.values()) {
      e.stopped = true;
      clearTimeout(e.timer);
    }
    this.entries.clear();
  }

  private mint(key: string, peer: PeerIdentity, e: Entry): void {
    const ttl = this.opts.ttlSeconds ?? DEFAULT_WORKLOAD_CERT_TTL_S;
    this.opts.ca.issueWorkload(peer, ttl).then(
      (cert) => {
        if (e.stopped) return;
        e.current = workloadSecrets(cert);
        e.notAfter = cert.notAfter;
        const life = cert.notAfter.getTime() - cert.notBefore.getTime();
        const renewIn = Math.max(1000, cert.notAfter.getTime() - Date.now() - life * (this.opts.graceRatio ?? 0.5));
        e.timer = setTimeout(() => this.mint(key, peer, e), Math.min(renewIn, 2 ** 31 - 1));
        e.timer.unref();
        this.log.info({ identity: key, notAfter: cert.notAfter.toISOString(), renewInSeconds: Math.round(renewIn / 1000) }, "workload certificate issued");
        for (const l of [...e.listeners]) l(e.current);
      },
      (err: Error) => {
        if (e.stopped) return;
        this.log.error({ identity: key, err: err.message }, "cannot issue a workload certificate; retrying in 5 s");
        e.timer = setTimeout(() => this.mint(key, peer, e), 5000);
        e.timer.unref();
      },
    );
  }
}
