// How load proxies reach an xDS server: plaintext (istiod's 15010), or a secure port as
// istio-proxy reaches istiod's 15012: TLS verified against the mesh root, and the caller proven by
// a bearer token in the `authorization` metadata (a Kubernetes ServiceAccount token, read from its
// file on every connect, as projected tokens rotate) or by a client certificate of the mesh.
// One set of TLS credentials serves the whole fleet: each proxy still has its own connection.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { SecureClientSessionOptions } from "node:http2";

export interface SecureOptions {
  /** The root (PEM) the server's certificate must chain to: the mesh root. */
  readonly caCertFile: string;
  /** A bearer token (JWT) file, sent as `authorization: Bearer <token>` on every stream. */
  readonly tokenFile?: string;
  /** A client certificate chain and its key (PEM), presented in the handshake. */
  readonly certChainFile?: string;
  readonly keyFile?: string;
  /** The name the server's certificate must carry (default: the target's host). */
  readonly serverName?: string;
}

/** The namespace and ServiceAccount the credentials prove: the proxies must claim them. */
export interface CallerIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Which credential said so, for messages. */
  readonly from: string;
}

export interface ProxyTransport {
  /** TLS: the root the server's certificate must chain to, the client certificate, the name checked; absent: plaintext. */
  readonly tls?: Pick<SecureClientSessionOptions, "ca" | "cert" | "key" | "servername">;
  /** The :authority of every stream (default the target). */
  readonly authority?: string;
  /** The metadata (request headers) of a new stream. */
  metadata(): Record<string, string>;
  readonly identity?: CallerIdentity;
  /** For the report: "plaintext", or what the secure transport presents. */
  readonly describe: string;
}

export const PLAINTEXT: ProxyTransport = {
  metadata: () => ({}),
  describe: "plaintext",
};

function readFile(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${option} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** The token in a token file (surrounding whitespace dropped); an error naming the option when there is none. */
export function tokenOf(file: string): string {
  const token = readFile("--token-file", file).toString("utf8").trim();
  if (token === "" || /\s/.test(token)) throw new Error(`--token-file ${file}: not one token (${token === "" ? "empty" : "holds whitespace"})`);
  return token;
}

/**
 * The ServiceAccount a Kubernetes token names, read without verifying it (the server does): the
 * `sub` claim `system:serviceaccount:<ns>:<sa>`, else the `kubernetes.io` claims. Undefined for
 * another kind of token.
 */
export function tokenIdentity(token: string): CallerIdentity | undefined {
  let claims: { sub?: unknown; "kubernetes.io"?: { namespace?: unknown; serviceaccount?: { name?: unknown } } };
  try {
    claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as typeof claims;
  } catch {
    return undefined;
  }
  if (typeof claims !== "object" || claims === null) return undefined;
  const sub = typeof claims.sub === "string" ? claims.sub.split(":") : [];
  if (sub.length === 4 && sub[0] === "system" && sub[1] === "serviceaccount" && sub[2] && sub[3])
    return { namespace: sub[2], serviceAccount: sub[3], from: "the token's subject" };
  const k = claims["kubernetes.io"];
  if (typeof k?.namespace === "string" && typeof k.serviceaccount?.name === "string" && k.namespace && k.serviceaccount.name)
    return { namespace: k.namespace, serviceAccount: k.serviceaccount.name, from: "the token's kubernetes.io claims" };
  return undefined;
}

/** The SPIFFE identity (`spiffe://<td>/ns/<ns>/sa/<sa>`) of a certificate's URI SAN, if it has one. */
export function certIdentity(pem: string | Buffer): CallerIdentity | undefined {
  let sans: string;
  try {
    sans = new X509Certificate(pem).subjectAltName ?? "";
  } catch {
    return undefined;
  }
  for (const san of sans.split(", ")) {
    const m = /^URI:spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(san);
    if (m) return { namespace: m[1]!, serviceAccount: m[2]!, from: "the client certificate's SPIFFE identity" };
  }
  return undefined;
}

/** The secure transport of `o`; every file is read (and checked) now, the token again on every connect. */
export function secureTransport(o: SecureOptions): ProxyTransport {
  const root = readFile("--ca-cert", o.caCertFile);
  if (!root.toString("utf8").includes("-----BEGIN CERTIFICATE-----")) throw new Error(`--ca-cert ${o.caCertFile}: no PEM certificate`);
  if ((o.certChainFile === undefined) !== (o.keyFile === undefined)) throw new Error("--cert-chain and --key go together");
  const chain = o.certChainFile !== undefined ? readFile("--cert-chain", o.certChainFile) : undefined;
  const key = o.keyFile !== undefined ? readFile("--key", o.keyFile) : undefined;
  try {
    // Parsed now, so that a bad file fails the run before any proxy connects.
    createSecureContext({ ca: root, ...(chain && key ? { cert: chain, key } : {}) });
  } catch (e) {
    throw new Error(`TLS credentials (--ca-cert${chain ? ", --cert-chain, --key" : ""}): ${(e as Error).message}`, { cause: e });
  }
  let token = o.tokenFile !== undefined ? tokenOf(o.tokenFile) : undefined;
  const tokenFile = o.tokenFile;
  const identity = (token !== undefined ? tokenIdentity(token) : undefined) ?? (chain ? certIdentity(chain) : undefined);
  const presents = [...(tokenFile !== undefined ? ["a bearer token"] : []), ...(chain ? ["a client certificate"] : [])];
  return {
    tls: { ca: root, ...(chain && key ? { cert: chain, key } : {}), ...(o.serverName !== undefined ? { servername: o.serverName } : {}) },
    ...(o.serverName !== undefined ? { authority: o.serverName } : {}),
    metadata: (): Record<string, string> => {
      if (tokenFile === undefined) return {};
      // Re-read on every connect; a file briefly unreadable (being rotated) keeps the last token.
      try {
        token = tokenOf(tokenFile);
      } catch {
        /* the last token read */
      }
      return { authorization: `Bearer ${token}` };
    },
    ...(identity ? { identity } : {}),
    describe: `TLS${presents.length ? ` with ${presents.join(" and ")}` : ""}`,
  };
}
