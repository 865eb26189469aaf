/**
 * TLS for the secure port, as istiod's: a serving certificate from the mesh CA for meshpilot's
 * Service names, renewed at half its life without restarting the listener; client certificates
 * are asked for but not required (Go's VerifyClientCertIfGiven): a proxy may authenticate with a
 * token instead, and a presented certificate is checked against the mesh CA per call.
 */
import { ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { SecureContextOptions } from "node:tls";
import type { MeshCa } from "./mesh-ca.js";
import type { LeafNames } from "./pki.js";

/** Istio's istiod serving certificate lifetime is the workload default; renewed at half of it. */
const SERVING_TTL_S = 24 * 3600;

class RotatingServerCredentials extends ServerCredentials {
  constructor(context: SecureContextOptions) {
    // requestCert without rejectUnauthorized: a certificate is optional and verified per call.
    super({ requestCert: true, rejectUnauthorized: false, ALPNProtocols: ["h2"] }, context);
  }

  update(context: SecureContextOptions): void {
    this.updateSecureContextOptions(context);
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export interface ServingCredentials {
  readonly credentials: ServerCredentials;
  /** The certificate chain served now (PEM). */
  certChainPem(): string;
  stop(): void;
}

export async function servingCredentials(ca: MeshCa, names: LeafNames, log: Logger, ttlSeconds = SERVING_TTL_S): Promise<ServingCredentials> {
  let issued = await ca.issueServing(names, ttlSeconds);
  const context = (): SecureContextOptions => ({ cert: issued.certChainPem, key: issued.keyPem, ca: ca.rootPem });
  const creds = new RotatingServerCredentials(context());
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    const half = (issued.notAfter.getTime() - issued.notBefore.getTime()) / 2;
    const renewIn = Math.max(1000, Math.min(issued.notBefore.getTime() + half - Date.now(), 2 ** 31 - 1));
    timer = setTimeout(() => {
      ca.issueServing(names, ttlSeconds).then(
        (next) => {
          if (stopped) return;
          issued = next;
          creds.update(context());
          log.info({ notAfter: next.notAfter.toISOString() }, "renewed the secure port's serving certificate");
          schedule();
        },
        (err: Error) => {
          log.error({ err: err.message }, "cannot renew the secure port's serving certificate; retrying in 10 s");
          timer = setTimeout(schedule, 10_000);
          timer.unref();
        },
      );
    }, renewIn);
    timer.unref();
  };
  schedule();
  return {
    credentials: creds,
    certChainPem: () => issued.certChainPem,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
