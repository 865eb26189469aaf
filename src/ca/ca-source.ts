/**
 * Where the mesh CA's signing certificate comes from, in Istio's order:
 *   1. files (`--ca-dir`, Istio's /etc/cacerts): ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem;
 *   2. the `cacerts` Secret in meshpilot's namespace (Istio's plug-in CA), same keys;
 *   3. the `istio-ca-secret` Secret (ca-cert.pem, ca-key.pem): a self-signed root;
 *   4. none: a new self-signed root (10 years), stored as `istio-ca-secret` so that every replica
 *      signs with it (the first creates it, the others read it).
 * A plugged-in CA that is broken (key not matching its certificate, a chain that does not lead to
 * the root) stops the start with the reason: signing with it would hand out certificates nobody trusts.
 */
import { createPrivateKey, createPublicKey, X509Certificate as NodeX509 } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeClient } from "../sources/kube/client.js";
import { SELF_SIGNED_ROOT_TTL_S, type MeshCaMaterial } from "./mesh-ca.js";
import { certPem, generateKeys, importPrivateKeyPem, privateKeyPem, selfSignedCa, splitPemCerts, x509 } from "./pki.js";
import { readSecret, sharedSecret } from "./shared-secret.js";

/** Istio's names. */
export const CACERTS_SECRET = "cacerts";
export const SELF_SIGNED_SECRET = "istio-ca-secret";
export const CA_CERT = "ca-cert.pem";
export const CA_KEY = "ca-key.pem";
export const ROOT_CERT = "root-cert.pem";
export const CERT_CHAIN = "cert-chain.pem";
const SELF_SIGNED_SECRET_TYPE = "istio.io/ca-root";

export interface CaSourceOptions {
  readonly client?: KubeClient;
  /** meshpilot's namespace, where the Secrets live. */
  readonly namespace: string;
  readonly caDir?: string;
  readonly trustDomain: string;
  readonly now?: Date;
}

/**
 * Material from Istio's layout (file names as keys). Without root-cert.pem the signing certificate
 * is the root (istio-ca-secret). Throws with `where` and the reason when the files do not fit.
 */
export async function materialFromLayout(files: Readonly<Record<string, string | undefined>>, where: string): Promise<MeshCaMaterial> {
  const certText = files[CA_CERT]?.trim() ? files[CA_CERT] : undefined;
  const keyText = files[CA_KEY]?.trim() ? files[CA_KEY] : undefined;
  if (!certText || !keyText) throw new Error(`${where}: needs ${CA_CERT} and ${CA_KEY}`);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(splitPemCerts(certText)[0] ?? certText);
  } catch (e) {
    throw new Error(`${where}: ${CA_CERT} is not a PEM certificate: ${(e as Error).message}`, { cause: e });
  }
  let signing;
  try {
    signing = await importPrivateKeyPem(keyText);
  } catch (e) {
    throw new Error(`${where}: ${CA_KEY} is not a usable private key: ${(e as Error).message}`, { cause: e });
  }
  const spki = (pem: string) => createPublicKey(createPrivateKey(pem)).export({ type: "spki", format: "der" });
  if (!Buffer.from(cert.publicKey.rawData).equals(spki(keyText))) throw new Error(`${where}: ${CA_KEY} is not the key of ${CA_CERT}`);
  if (!new NodeX509(certPem(cert)).ca) throw new Error(`${where}: ${CA_CERT} is not a CA certificate (basicConstraints CA:TRUE)`);

  const rootText = files[ROOT_CERT]?.trim() ? files[ROOT_CERT]! : certPem(cert);
  const roots = splitPemCerts(rootText);
  if (roots.length === 0) throw new Error(`${where}: ${ROOT_CERT} holds no PEM certificate`);
  const isRoot = (p: string) => roots.some((r) => r.trim() === p.trim());
  const chainText = files[CERT_CHAIN]?.trim() ? files[CERT_CHAIN]! : certPem(cert);
  const chain = splitPemCerts(chainText).filter((p) => !isRoot(p));
  const signerPem = certPem(cert);
  const intermediates = isRoot(signerPem) ? [] : chain.some((p) => p.trim() === signerPem.trim()) ? chain : [signerPem, ...chain];
  // The chain must lead from the signer to one of the roots.
  for (let i = 0; i < intermediates.length; i++) {
    const c = new NodeX509(intermediates[i]!);
    const next = i + 1 < intermediates.length ? [intermediates[i + 1]!] : roots;
    if (!next.some((n) => issuedBy(c, new NodeX509(n)))) {
      throw new Error(`${where}: ${c.subject.replace(/\n/g, ", ")} is not signed by the next certificate of ${CERT_CHAIN} or by ${ROOT_CERT}`);
    }
  }
  return { issuer: { cert, signing }, intermediatesPem: intermediates.join(""), rootPem: roots.join(""), origin: where };
}

function issuedBy(c: NodeX509, issuer: NodeX509): boolean {
  return c.checkIssued(issuer) && c.verify(issuer.publicKey);
}

function readDir(dir: string): Record<string, string | undefined> {
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : undefined);
  return { [CA_CERT]: read(CA_CERT), [CA_KEY]: read(CA_KEY), [ROOT_CERT]: read(ROOT_CERT), [CERT_CHAIN]: read(CERT_CHAIN) };
}

/** A new self-signed root for the trust domain, with its key. */
export async function selfSignedMaterial(trustDomain: string, now: Date): Promise<{ material: MeshCaMaterial; data: Record<string, string> }> {
  const keys = await generateKeys("ec-p256");
  const cert = await selfSignedCa(
    `O=${trustDomain}`,
    { notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + SELF_SIGNED_ROOT_TTL_S * 1000) },
    keys,
  );
  const data = { [CA_CERT]: certPem(cert), [CA_KEY]: await privateKeyPem(keys.pair.privateKey), [CERT_CHAIN]: "", [ROOT_CERT]: "" };
  return { material: { issuer: { cert, signing: keys.signing }, intermediatesPem: "", rootPem: certPem(cert), origin: "self-signed" }, data };
}

/** The CA material by Istio's order (see the top of this file), and whether a new root was created. */
export async function loadCaMaterial(opts: CaSourceOptions): Promise<{ material: MeshCaMaterial; created: boolean }> {
  const now = opts.now ?? new Date();
  if (opts.caDir !== undefined) return { material: await materialFromLayout(readDir(opts.caDir), `CA files in ${opts.caDir}`), created: false };
  if (!opts.client) return { material: (await selfSignedMaterial(opts.trustDomain, now)).material, created: true };
  const plugged = await readSecret(opts.client, opts.namespace, CACERTS_SECRET);
  if (plugged) return { material: await materialFromLayout(plugged, `Secret ${opts.namespace}/${CACERTS_SECRET}`), created: false };
  const where = `Secret ${opts.namespace}/${SELF_SIGNED_SECRET}`;
  const { value, created } = await sharedSecret(
    opts.client,
    { namespace: opts.namespace, name: SELF_SIGNED_SECRET, type: SELF_SIGNED_SECRET_TYPE },
    async () => {
      const s = await selfSignedMaterial(opts.trustDomain, now);
      return { data: s.data, value: { ...s.material, origin: `${where} (created)` } };
    },
    (data) => materialFromLayout({ [CA_CERT]: data[CA_CERT], [CA_KEY]: data[CA_KEY] }, where),
  );
  return { material: value, created };
}
