/**
 * The mesh's certificate authority: signs SPIFFE workload certificates
 * (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`) and meshpilot's own serving certificate with a
 * signing certificate that is either a self-signed root or an intermediate plugged in by the
 * operator (Istio's `cacerts`). Lifetimes follow Istio: workload certificates 24 h by default and
 * at most 90 days (MAX_WORKLOAD_CERT_TTL), a self-signed root 10 years.
 */
import { DEFAULT_TRUST_DOMAIN } from "../model/mesh-config.js";
import type { PeerIdentity } from "../xds/peer.js";
import { certPem, generateKeys, issueLeaf, privateKeyPem, splitPemCerts, type Issuer, type LeafNames, x509 } from "./pki.js";

import { DEFAULT_WORKLOAD_CERT_TTL_S, MAX_WORKLOAD_CERT_TTL_S } from "./cert-ttl.js";

export { DEFAULT_WORKLOAD_CERT_TTL_S, MAX_WORKLOAD_CERT_TTL_S } from "./cert-ttl.js";
/** Istio's self-signed root lifetime (CITADEL_SELF_SIGNED_CA_CERT_TTL). */
export const SELF_SIGNED_ROOT_TTL_S = 10 * 365 * 24 * 3600;
/** Certificates start a little in the past, so a peer whose clock lags still accepts them. */
const BACKDATE_MS = 60_000;

export function spiffeUri(trustDomain: string, id: Pick<PeerIdentity, "namespace" | "serviceAccount">): string {
  return `spiffe://${trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>` → its parts, or undefined for anything else. */
export function parseSpiffeUri(uri: string): { trustDomain: string; namespace: string; serviceAccount: string } | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  return m ? { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! } : undefined;
}

/** A certificate with its intermediates (leaf first, no root), its private key, and the root, all PEM. */
export interface IssuedCert {
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly rootPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface MeshCaMaterial {
  /** Signs certificates: the root itself, or an intermediate. */
  readonly issuer: Issuer;
  /** The signing certificate and its chain up to, not including, the root (PEM); empty when the signer is the root. */
  readonly intermediatesPem: string;
  /** The root(s) workloads trust, PEM. */
  readonly rootPem: string;
  /** Where it came from, for logs: "Secret ns/name", "files in DIR", "self-signed". */
  readonly origin: string;
}

export class MeshCa {
  constructor(
    readonly material: MeshCaMaterial,
    readonly trustDomain: string = DEFAULT_TRUST_DOMAIN,
  ) {}

  get rootPem(): string {
    return this.material.rootPem;
  }

  /** Leaf and intermediates, PEM (what a proxy presents). */
  private presented(leaf: x509.X509Certificate): string {
    return certPem(leaf) + splitPemCerts(this.material.intermediatesPem).join("");
  }

  /** The lifetime of a workload certificate asked for `ttlSeconds` (0: the default), or why it is refused. */
  private validity(ttlSeconds: number, now: Date): { notBefore: Date; notAfter: Date } | { error: string } {
    if (ttlSeconds > MAX_WORKLOAD_CERT_TTL_S) return { error: `requested TTL ${ttlSeconds}s is greater than the max allowed TTL ${MAX_WORKLOAD_CERT_TTL_S}s` };
    const ttl = ttlSeconds > 0 ? ttlSeconds : DEFAULT_WORKLOAD_CERT_TTL_S;
    // Never past the signer's own end: such a chain would not verify.
    const notAfter = new Date(Math.min(now.getTime() + ttl * 1000, this.material.issuer.cert.notAfter.getTime()));
    return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter };
  }

  /**
   * Sign a caller's (already verified) CSR for `id`: whatever names the CSR asks for, the
   * certificate names only `id`. The result is Istio's CA response: leaf, intermediates, one PEM
   * each, then the root bundle last.
   */
  async signCsr(
    csr: x509.Pkcs10CertificateRequest,
    id: Pick<PeerIdentity, "namespace" | "serviceAccount">,
    ttlSeconds: number,
    now = new Date(),
  ): Promise<string[] | { error: string }> {
    const validity = this.validity(ttlSeconds, now);
    if ("error" in validity) return validity;
    const leaf = await issueLeaf(this.material.issuer, csr.publicKey, { uri: [spiffeUri(this.trustDomain, id)] }, validity, "client-and-server");
    return [certPem(leaf), ...splitPemCerts(this.material.intermediatesPem), this.material.rootPem];
  }

  /** Make a key and a workload certificate for `id` (for proxies without an agent, sent over SDS). */
  async issueWorkload(id: Pick<PeerIdentity, "namespace" | "serviceAccount">, ttlSeconds = DEFAULT_WORKLOAD_CERT_TTL_S, now = new Date()): Promise<IssuedCert> {
    const validity = this.validity(Math.min(ttlSeconds, MAX_WORKLOAD_CERT_TTL_S), now);
    if ("error" in validity) throw new Error(validity.error);
    const keys = await generateKeys("ec-p256");
    const leaf = await issueLeaf(this.material.issuer, keys.pair.publicKey, { uri: [spiffeUri(this.trustDomain, id)] }, validity, "client-and-server");
    return { certChainPem: this.presented(leaf), keyPem: await privateKeyPem(keys.pair.privateKey), rootPem: this.rootPem, ...validity };
  }

  /** meshpilot's own serving certificate (the secure xDS port), for its Service's DNS names. */
  async issueServing(names: LeafNames, ttlSeconds: number, now = new Date()): Promise<IssuedCert> {
    const keys = await generateKeys("ec-p256");
    const notAfter = new Date(Math.min(now.getTime() + ttlSeconds * 1000, this.material.issuer.cert.notAfter.getTime()));
    const validity = { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter };
    const leaf = await issueLeaf(this.material.issuer, keys.pair.publicKey, names, validity, "client-and-server", "O=meshpilot");
    return { certChainPem: this.presented(leaf), keyPem: await privateKeyPem(keys.pair.privateKey), rootPem: this.rootPem, ...validity };
  }

  /**
   * The identity a client certificate proves, if this CA (its signing certificate) issued it and
   * it is valid at `now`; undefined otherwise.
   */
  async verifyClientCert(der: Uint8Array, now = new Date()): Promise<{ namespace: string; serviceAccount: string } | undefined> {
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(der);
    } catch {
      return undefined;
    }
    if (cert.notBefore > now || cert.notAfter < now) return undefined;
    const ok = await cert.verify({ publicKey: this.material.issuer.cert.publicKey, signatureOnly: true }).catch(() => false);
    if (!ok) return undefined;
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    for (const n of san?.names.items ?? []) {
      if (n.type !== "url") continue;
      const id = parseSpiffeUri(n.value);
      if (id && id.trustDomain === this.trustDomain) return { namespace: id.namespace, serviceAccount: id.serviceAccount };
    }
    return undefined;
  }
}
