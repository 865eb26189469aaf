/**
 * `istio.v1.auth.IstioCertificateService/CreateCertificate` on the secure port: the caller proves
 * who it is (client certificate or ServiceAccount token), and the CSR is signed for that identity
 * only; the names the CSR asks for are ignored, as in istiod. Impersonation (the
 * `ImpersonatedIdentity` metadata, which istiod allows only to trusted node agents) is refused.
 */
import { status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { IstioCertificateRequest, IstioCertificateResponse } from "./ca-proto.js";
import type { MeshCa } from "./mesh-ca.js";
import type { CallAuthenticator } from "./peer-auth.js";
import { readCsr } from "./pki.js";

export interface CaServiceOptions {
  readonly ca: MeshCa;
  readonly authenticate: CallAuthenticator;
  readonly logger: Logger;
  /** Told the outcome of every request (metrics). */
  readonly onResult?: (result: "issued" | "unauthenticated" | "refused") => void;
}

const fail = (code: status, details: string) => Object.assign(new Error(details), { code, details });

export function caServiceHandlers(opts: CaServiceOptions): UntypedServiceImplementation {
  const log = opts.logger.child({ component: "ca" });
  const createCertificate = async (
    req: IstioCertificateRequest,
    call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
  ): Promise<IstioCertificateResponse> => {
    const peer = call.getPeer();
    const who = await opts.authenticate(call);
    if ("error" in who) {
      log.warn({ peer, reason: who.error }, "certificate request refused: not authenticated");
      opts.onResult?.("unauthenticated");
      // The reason stays in our log; the caller learns only that it was not authenticated, as from istiod.
      throw fail(status.UNAUTHENTICATED, "request authenticate failure");
    }
    if (typeof req.metadata["ImpersonatedIdentity"] === "string" && req.metadata["ImpersonatedIdentity"] !== "") {
      log.warn({ peer, namespace: who.namespace, serviceAccount: who.serviceAccount }, "certificate request refused: impersonation is not allowed");
      opts.onResult?.("unauthenticated");
      throw fail(status.UNAUTHENTICATED, "request impersonation authentication failure");
    }
    if (typeof req.metadata["CertSigner"] === "string" && req.metadata["CertSigner"] !== "") {
      opts.onResult?.("refused");
      throw fail(status.INVALID_ARGUMENT, "CertSigner is not supported by meshpilot's CA");
    }
    const csr = await readCsr(req.csr);
    if ("error" in csr) {
      opts.onResult?.("refused");
      throw fail(status.INVALID_ARGUMENT, `CSR signing error (${csr.error})`);
    }
    const chain = await opts.ca.signCsr(csr, who, req.validityDuration);
    if ("error" in chain) {
      opts.onResult?.("refused");
      throw fail(status.INVALID_ARGUMENT, `CSR signing error (${chain.error})`);
    }
    log.info({ peer, namespace: who.namespace, serviceAccount: who.serviceAccount, via: who.via, ttl: req.validityDuration }, "issued a workload certificate");
    opts.onResult?.("issued");
    return { certChain: chain };
  };
  return {
    CreateCertificate: (call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>, callback: sendUnaryData<IstioCertificateResponse>) => {
      createCertificate(call.request, call).then(
        (res) => callback(null, res),
        (err: Error & { code?: status }) => {
          if (err.code === undefined) log.error({ err }, "certificate request failed");
          callback(err.code === undefined ? fail(status.INTERNAL, "internal error signing the certificate") : err);
        },
      );
    },
  };
}
