/**
 * The certificate primitives meshpilot's two CAs share (the injection webhook's and the mesh CA):
 * keys, PEM, self-signed roots, leaf certificates, CSRs.
 *
 * node:crypto makes keys but cannot issue certificates; @peculiar/x509 (WebCrypto based, typed,
 * maintained by the PKI.js authors) does, without shelling out to openssl. node:crypto still
 * reads private keys, because operators plug in Istio's CA files in whatever PEM form openssl
 * wrote (PKCS#8, PKCS#1 RSA, SEC1 EC), which WebCrypto alone cannot import.
 */
import "reflect-metadata";
import { createPrivateKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;
export { x509 };

/** A private key with the signature algorithm it signs with. */
export interface SigningKey {
  readonly key: Key;
  readonly algorithm: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;
}

/** A CA's signing certificate and key. */
export interface Issuer {
  readonly cert: x509.X509Certificate;
  readonly signing: SigningKey;
}

const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA_2048 = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" } as const;

export type KeyKind = "ec-p256" | "rsa-2048";

export async function generateKeys(kind: KeyKind = "ec-p256"): Promise<{ pair: KeyPair; signing: SigningKey }> {
  const alg = kind === "ec-p256" ? EC_P256 : RSA_2048;
  const pair = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as KeyPair;
  return { pair, signing: { key: pair.privateKey, algorithm: alg } };
}

export function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f; // a positive INTEGER
  return Buffer.from(b).toString("hex");
}

export async function privateKeyPem(key: Key): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
}

const CURVES: Readonly<Record<string, string>> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

/** Any PEM private key openssl writes (PKCS#8, PKCS#1 RSA, SEC1 EC), as a WebCrypto signing key. Throws with the reason. */
export async function importPrivateKeyPem(pem: string): Promise<SigningKey> {
  const ko = createPrivateKey(pem);
  const der = ko.export({ format: "der", type: "pkcs8" });
  if (ko.asymmetricKeyType === "rsa") {
    const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { key: await webcrypto.subtle.importKey("pkcs8", der, algorithm, true, ["sign"]), algorithm };
  }
  if (ko.asymmetricKeyType === "ec") {
    const curve = CURVES[ko.asymmetricKeyDetails?.namedCurve ?? ""];
    if (!curve) throw new Error(`EC curve ${ko.asymmetricKeyDetails?.namedCurve ?? "?"} is not supported (P-256, P-384, P-521 are)`);
    const algorithm = { name: "ECDSA", namedCurve: curve, hash: "SHA-256" };
    return { key: await webcrypto.subtle.importKey("pkcs8", der, algorithm, true, ["sign"]), algorithm };
  }
  throw new Error(`private key type ${ko.asymmetricKeyType ?? "?"} is not supported (RSA and EC are)`);
}

/** Every certificate of a PEM bundle, in order, each as `-----BEGIN…END-----\n`. */
export function splitPemCerts(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0] + "\n");
}

export function certPem(cert: x509.X509Certificate): string {
  return cert.toString("pem") + "\n";
}

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A self-signed CA certificate (path length unlimited unless given). */
export async function selfSignedCa(
  name: string,
  validity: Validity,
  keys: { pair: KeyPair; signing: SigningKey },
  pathLength?: number,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    ...validity,
    keys: keys.pair,
    signingAlgorithm: keys.signing.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.pair.publicKey),
    ],
  });
}

export interface LeafNames {
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
  readonly uri?: readonly string[];
}

export type LeafUse = "server" | "client-and-server";

/**
 * A leaf certificate signed by `issuer`. With no `subject` the subject is empty and the SAN
 * extension critical (RFC 5280 §4.2.1.6), as in Istio's SPIFFE workload certificates.
 */
export async function issueLeaf(
  issuer: Issuer,
  publicKey: x509.PublicKeyType,
  names: LeafNames,
  validity: Validity,
  use: LeafUse,
  subject?: string,
): Promise<x509.X509Certificate> {
  const sans = [
    ...(names.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(names.ip ?? []).map((value) => ({ type: "ip" as const, value })),
    ...(names.uri ?? []).map((value) => ({ type: "url" as const, value })),
  ];
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subject ?? "",
    issuer: issuer.cert.subject,
    ...validity,
    publicKey,
    signingKey: issuer.signing.key,
    signingAlgorithm: issuer.signing.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(
        use === "server" ? [x509.ExtendedKeyUsage.serverAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      ),
      new x509.SubjectAlternativeNameExtension(sans, subject === undefined),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    ],
  });
}

/** A PKCS#10 request whose signature checks out (proof that the caller holds the key), or the reason it is refused. */
export async function readCsr(pem: string): Promise<x509.Pkcs10CertificateRequest | { error: string }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch (e) {
    return { error: `csr is not a PEM PKCS#10 certificate request: ${(e as Error).message}` };
  }
  try {
    if (!(await csr.verify())) return { error: "csr signature does not verify with its own public key" };
  } catch (e) {
    return { error: `csr signature cannot be checked: ${(e as Error).message}` };
  }
  return csr;
}

const SAN_OID = "2.5.29.17";

/** URI SANs a CSR asks for (Istio's agent puts the SPIFFE id there). */
export function csrUriSans(csr: x509.Pkcs10CertificateRequest): string[] {
  const ext = csr.getExtension(SAN_OID);
  if (!ext) return [];
  const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
  return san.names.items.filter((n) => n.type === "url").map((n) => n.value);
}
