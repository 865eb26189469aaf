// A client of Istio's certificate service for tests, built from proto/istio/ca.proto by
// @grpc/proto-loader (protobuf.js): an encoder independent of meshpilot's hand-written one, so a
// field number or type meshpilot got wrong fails here. Over TLS to the secure port, with the
// caller's ServiceAccount token as `authorization: Bearer`, as istio-agent sends it.
import { fileURLToPath } from "node:url";
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const PROTO = fileURLToPath(new URL("../../proto/istio/ca.proto", import.meta.url));

type CreateCertificate = (
  req: { csr: string; validityDuration: number; metadata?: { fields: Record<string, { stringValue: string }> } },
  md: Metadata,
  opts: { deadline: number },
  cb: (err: ServiceError | null, res?: { certChain: string[] }) => void,
) => void;

export interface CaClientOptions {
  /** The mesh root (PEM) the server certificate must chain to. */
  readonly rootPem: string;
  /** The name checked in the server certificate (e.g. meshpilot.meshpilot-system.svc). */
  readonly serverName: string;
  /** A client certificate (mTLS) instead of, or besides, a token. */
  readonly clientCert?: { certChainPem: string; keyPem: string };
}

export class CaClient {
  private readonly client: Client & { CreateCertificate: CreateCertificate };

  constructor(address: string, opts: CaClientOptions) {
    const def = loadSync(PROTO, { longs: Number, defaults: true });
    const pkg = loadPackageDefinition(def) as unknown as { istio: { v1: { auth: { IstioCertificateService: new (...a: unknown[]) => CaClient["client"] } } } };
    const creds = credentials.createSsl(
      Buffer.from(opts.rootPem),
      opts.clientCert ? Buffer.from(opts.clientCert.keyPem) : null,
      opts.clientCert ? Buffer.from(opts.clientCert.certChainPem) : null,
    );
    this.client = new pkg.istio.v1.auth.IstioCertificateService(address, creds, {
      "grpc.ssl_target_name_override": opts.serverName,
      "grpc.default_authority": opts.serverName,
    });
  }

  /** The chain, or the gRPC error's code and details. */
  create(
    csr: string,
    opts: { token?: string; ttlSeconds?: number; metadata?: Record<string, string> } = {},
  ): Promise<{ certChain: string[] } | { code: number; details: string }> {
    const md = new Metadata();
    if (opts.token !== undefined) md.set("authorization", `Bearer ${opts.token}`);
    const metadata = opts.metadata ? { fields: Object.fromEntries(Object.entries(opts.metadata).map(([k, v]) => [k, { stringValue: v }])) } : undefined;
    return new Promise((resolve) => {
      this.client.CreateCertificate(
        { csr, validityDuration: opts.ttlSeconds ?? 0, ...(metadata ? { metadata } : {}) },
        md,
        { deadline: Date.now() + 15_000 },
        (err, res) => {
          if (err) resolve({ code: err.code, details: err.details });
          else resolve({ certChain: res!.certChain });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
