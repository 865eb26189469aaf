/**
 * The client side of Istio's certificate service, as istio-agent uses it: make a key and a CSR,
 * send it with the ServiceAccount token over TLS, get the chain. `meshpilot bootstrap
 * --client-cert` uses it to give a stock Envoy a certificate of its own identity.
 */
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError } from "@grpc/grpc-js";
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from "./ca-proto.js";
import { generateKeys, privateKeyPem, x509 } from "./pki.js";

export interface CertificateRequestOptions {
  /** `host:port` of the secure port. */
  readonly address: string;
  /** The mesh root (PEM) that meshpilot's certificate must chain to. */
  readonly rootPem: string;
  /** The name checked in meshpilot's certificate. */
  readonly serverName: string;
  readonly token: string;
  readonly ttlSeconds?: number;
  readonly timeoutMs?: number;
}

export interface ObtainedCert {
  /** Leaf and intermediates (PEM), what the proxy presents. */
  readonly certChainPem: string;
  readonly keyPem: string;
  /** The root bundle the CA returned last. */
  readonly rootPem: string;
}

const Client = makeGenericClientConstructor(caServiceDefinition, "IstioCertificateService");

/** A fresh key and a certificate for the token's identity, or an error naming what failed. */
export async function obtainCertificate(o: CertificateRequestOptions): Promise<ObtainedCert> {
  const keys = await generateKeys("ec-p256");
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys: keys.pair, signingAlgorithm: keys.signing.algorithm });
  const client = new Client(o.address, credentials.createSsl(Buffer.from(o.rootPem)), {
    "grpc.ssl_target_name_override": o.serverName,
    "grpc.default_authority": o.serverName,
  });
  const md = new Metadata();
  md.set("authorization", `Bearer ${o.token}`);
  const req: IstioCertificateRequest = { csr: csr.toString("pem"), validityDuration: o.ttlSeconds ?? 0, metadata: {} };
  try {
    const res = await new Promise<IstioCertificateResponse>((resolve, reject) => {
      (
        client as unknown as {
          CreateCertificate: (
            r: IstioCertificateRequest,
            m: Metadata,
            opts: object,
            cb: (e: ServiceError | null, r?: IstioCertificateResponse) => void,
          ) => void;
        }
      ).CreateCertificate(req, md, { deadline: Date.now() + (o.timeoutMs ?? 15_000) }, (err, r) =>
        err ? reject(new Error(`CreateCertificate at ${o.address}: ${err.details || err.message}`)) : resolve(r!),
      );
    });
    if (res.certChain.length < 2)
      throw new Error(`CreateCertificate at ${o.address}: the answer has ${res.certChain.length} certificates, expected the leaf and the root`);
    return { certChainPem: res.certChain.slice(0, -1).join(""), keyPem: await privateKeyPem(keys.pair.privateKey), rootPem: res.certChain.at(-1)! };
  } finally {
    client.close();
  }
}
