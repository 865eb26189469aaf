/**
 * The injection webhook's TLS, as istiod keeps its own: a self-signed CA that every replica
 * shares (kept in a Secret in meshpilot's namespace, created by whichever replica comes first)
 * and a serving certificate for the Service's DNS names that each replica issues itself from
 * that CA and renews before it expires. The CA certificate is what the webhook configuration's
 * caBundle holds, so it stays the same across replicas and restarts.
 */
import type { Logger } from "pino";
import { certPem, generateKeys, importPrivateKeyPem, issueLeaf, privateKeyPem, selfSignedCa, type Issuer, x509 } from "../ca/pki.js";
import { sharedSecret } from "../ca/shared-secret.js";
import type { KubeClient } from "../sources/kube/client.js";

const DAY = 86_400_000;
/** Secret keys, named as istiod names them in istio-ca-secret. */
const CA_CERT_KEY = "ca-cert.pem";
const CA_KEY_KEY = "ca-key.pem";

export interface CertAuthority extends Issuer {
  readonly cert: x509.X509Certificate;
  readonly certPem: string;
}

export interface ServingCert {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export async function createCa(now: Date, validityDays = 3650): Promise<CertAuthority> {
  const keys = await generateKeys("ec-p256");
  const cert = await selfSignedCa(
    "O=meshpilot, CN=meshpilot webhook CA",
    { notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + validityDays * DAY) },
    keys,
    0,
  );
  return { cert, signing: keys.signing, certPem: certPem(cert) };
}

export async function issueServingCert(
  ca: CertAuthority,
  dnsNames: readonly string[],
  ipAddresses: readonly string[],
  now: Date,
  validityDays: number,
): Promise<ServingCert> {
  const keys = await generateKeys("ec-p256");
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + validityDays * DAY);
  const cert = await issueLeaf(
    ca,
    keys.pair.publicKey,
    { dns: dnsNames, ip: ipAddresses },
    { notBefore, notAfter },
    "server",
    `CN=${dnsNames[0] ?? ipAddresses[0] ?? "meshpilot"}`,
  );
  return { certPem: certPem(cert), keyPem: await privateKeyPem(keys.pair.privateKey), notBefore, notAfter };
}

async function caFromSecret(data: Record<string, string>, where: string): Promise<CertAuthority> {
  const pem = data[CA_CERT_KEY];
  const key = data[CA_KEY_KEY];
  if (!pem || !key) throw new Error(`${where} has no ${CA_CERT_KEY} and ${CA_KEY_KEY}: delete it to have meshpilot create a new webhook CA`);
  return { cert: new x509.X509Certificate(pem), signing: await importPrivateKeyPem(key), certPem: pem };
}

/**
 * The shared CA: read from the Secret, or created and stored there; when two replicas create it
 * at once, the loser reads the winner's. Without a client the CA lives in memory only.
 */
export async function sharedCa(client: KubeClient | undefined, secret: { namespace: string; name: string }, now: Date, log: Logger): Promise<CertAuthority> {
  if (!client) return createCa(now);
  const where = `Secret ${secret.namespace}/${secret.name}`;
  const { value, created } = await sharedSecret(
    client,
    secret,
    async () => {
      const ca = await createCa(now);
      return { data: { [CA_CERT_KEY]: ca.certPem, [CA_KEY_KEY]: await privateKeyPem(ca.signing.key) }, value: ca };
    },
    (data) => caFromSecret(data, where),
  );
  if (created) log.info({ secret: `${secret.namespace}/${secret.name}` }, "created the injection webhook CA");
  return value;
}
