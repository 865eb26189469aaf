/**
 * The injection webhook's TLS, as istiod keeps its own: a self-signed CA that every replica
 * shares (kept in a Secret in meshpilot's namespace, created by whichever replica comes first)
 * and a serving certificate for the Service's DNS names that each replica issues itself from
 * that CA and renews before it expires. The CA certificate is what the webhook configuration's
 * caBundle holds, so it stays the same across replicas and restarts.
 *
 * node:crypto makes keys but cannot issue certificates; @peculiar/x509 (WebCrypto based,
 * typed, maintained by the PKI.js authors) does, without shelling out to openssl.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { Logger } from "pino";
import type { KubeClient } from "../sources/kube/client.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
/** Secret keys, named as istiod names them in istio-ca-secret. */
const CA_CERT_KEY = "ca-cert.pem";
const CA_KEY_KEY = "ca-key.pem";

export interface CertAuthority {
  readonly cert: x509.X509Certificate;
  readonly key: Key;
  readonly certPem: string;
}

export interface ServingCert {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function serial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f; // a positive INTEGER
  return Buffer.from(b).toString("hex");
}

async function keyPem(key: Key): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<Key> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
}

export async function createCa(now: Date, validityDays = 3650): Promise<CertAuthority> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "O=meshpilot, CN=meshpilot webhook CA",
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + validityDays * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey, certPem: cert.toString("pem") + "\n" };
}

export async function issueServingCert(
  ca: CertAuthority,
  dnsNames: readonly string[],
  ipAddresses: readonly string[],
  now: Date,
  validityDays: number,
): Promise<ServingCert> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + validityDays * DAY);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${dnsNames[0] ?? ipAddresses[0] ?? "meshpilot"}`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys.privateKey), notBefore, notAfter };
}

async function caFromSecret(data: Record<string, string>): Promise<CertAuthority | undefined> {
  const certPem = data[CA_CERT_KEY] ? Buffer.from(data[CA_CERT_KEY], "base64").toString() : undefined;
  const key = data[CA_KEY_KEY] ? Buffer.from(data[CA_KEY_KEY], "base64").toString() : undefined;
  if (!certPem || !key) return undefined;
  const cert = new x509.X509Certificate(certPem);
  return { cert, key: await importKey(key), certPem };
}

/**
 * The shared CA: read from the Secret, or created and stored there; when two replicas create it
 * at once, the loser reads the winner's. Without a client the CA lives in memory only.
 */
export async function sharedCa(client: KubeClient | undefined, secret: { namespace: string; name: string }, now: Date, log: Logger): Promise<CertAuthority> {
  if (!client) return createCa(now);
  const path = `/api/v1/namespaces/${secret.namespace}/secrets/${secret.name}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const got = await client.request("GET", path);
    if (got.status === 200) {
      const ca = await caFromSecret(((got.body as { data?: Record<string, string> }).data ?? {}) as Record<string, string>);
      if (ca) return ca;
      throw new Error(`Secret ${secret.namespace}/${secret.name} has no ${CA_CERT_KEY} and ${CA_KEY_KEY}: delete it to have meshpilot create a new webhook CA`);
    }
    if (got.status !== 404) throw new Error(`reading Secret ${secret.namespace}/${secret.name}: HTTP ${got.status}`);
    const ca = await createCa(now);
    const created = await client.request("POST", `/api/v1/namespaces/${secret.namespace}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: secret.name, namespace: secret.namespace, labels: { "app.kubernetes.io/part-of": "meshpilot" } },
      type: "Opaque",
      data: { [CA_CERT_KEY]: Buffer.from(ca.certPem).toString("base64"), [CA_KEY_KEY]: Buffer.from(await keyPem(ca.key)).toString("base64") },
    });
    if (created.status === 201 || created.status === 200) {
      log.info({ secret: `${secret.namespace}/${secret.name}` }, "created the injection webhook CA");
      return ca;
    }
    if (created.status !== 409) throw new Error(`creating Secret ${secret.namespace}/${secret.name}: HTTP ${created.status}`);
  }
  throw new Error(`Secret ${secret.namespace}/${secret.name}: created and deleted concurrently; giving up`);
}
