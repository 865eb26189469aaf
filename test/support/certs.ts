/**
 * Test certificates made with openssl (a CA, and leaves signed by it), and an HTTPS backend that
 * records the SNI and the client certificate of each request, for the TLS origination tests.
 * Files in `dir`: `ca.pem`, `ca-key.pem`, and `<name>.pem` / `<name>-key.pem` per leaf.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type net from "node:net";
import type { TLSSocket } from "node:tls";
import { listenOrAdopt } from "./net.js";

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: "pipe" });
}

export class TestCerts {
  readonly dir: string;

  /** A new temp dir with a self-signed P-256 CA ("test CA"), valid for 2 days. */
  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    openssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=test CA",
      "-keyout",
      this.path("ca-key.pem"),
      "-out",
      this.path("ca.pem"),
    );
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  /** The file's content, base64-encoded (a Secret `data` value). */
  b64(file: string): string {
    return readFileSync(this.path(file)).toString("base64");
  }

  /** A leaf certificate `<name>.pem` with key `<name>-key.pem`, CN=name, signed by the CA. */
  leaf(name: string, san: string): this {
    writeFileSync(this.path(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl(
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      this.path(`${name}-key.pem`),
      "-out",
      this.path(`${name}.csr`),
    );
    return this.sign(name);
  }

  /**
   * An intermediate CA `<name>.pem` signed by the CA, with an RSA key in the traditional PKCS#1
   * form (`BEGIN RSA PRIVATE KEY`) that operators' openssl recipes for Istio's cacerts write.
   */
  intermediate(name: string): this {
    writeFileSync(this.path(`${name}.ext`), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n");
    openssl("genrsa", "-traditional", "-out", this.path(`${name}-key.pem`), "2048");
    openssl("req", "-new", "-key", this.path(`${name}-key.pem`), "-subj", `/O=test/CN=${name}`, "-out", this.path(`${name}.csr`));
    return this.sign(name);
  }

  /** Sign `<name>.csr` with the CA and the extensions in `<name>.ext` into `<name>.pem`, valid for 2 days. */
  private sign(name: string): this {
    const p = (ext: string) => this.path(`${name}.${ext}`);
    openssl(
      "x509",
      "-req",
      "-in",
      p("csr"),
      "-CA",
      this.path("ca.pem"),
      "-CAkey",
      this.path("ca-key.pem"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      p("ext"),
      "-out",
      p("pem"),
    );
    return this;
  }

  /** `openssl verify` of `leafPem` against the CA, with `untrustedPem` as intermediates; its output or the error. */
  verify(leafPem: string, untrustedPem?: string, purpose?: string): string {
    writeFileSync(this.path("verify-leaf.pem"), leafPem);
    if (untrustedPem) writeFileSync(this.path("verify-untrusted.pem"), untrustedPem);
    try {
      return execFileSync(
        "openssl",
        [
          "verify",
          "-CAfile",
          this.path("ca.pem"),
          ...(untrustedPem ? ["-untrusted", this.path("verify-untrusted.pem")] : []),
          ...(purpose ? ["-purpose", purpose] : []),
          this.path("verify-leaf.pem"),
        ],
        { stdio: "pipe" },
      ).toString();
    } catch (e) {
      return `error: ${String((e as { stderr?: Buffer }).stderr ?? e)}`;
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TlsBackend {
  readonly requests: Array<{ sni?: string; clientCn?: string; path: string }>;
  /** Close open connections (Envoy then opens new ones, with its current certificate). */
  dropConnections(): void;
  close(): Promise<void>;
}

/**
 * An HTTPS server with the leaf `server` of `certs`, answering 200 with `x-backend-version`;
 * `requireClientCert`: only clients with a certificate from the CA get through the handshake.
 * With `listening`, it serves that server's connections instead of listening at host:port.
 */
export function startTlsBackend(
  certs: TestCerts,
  host: string,
  port: number,
  version: string,
  requireClientCert: boolean,
  listening?: net.Server,
): Promise<TlsBackend> {
  const requests: TlsBackend["requests"] = [];
  const server = https.createServer(
    {
      cert: readFileSync(certs.path("server.pem")),
      key: readFileSync(certs.path("server-key.pem")),
      ca: readFileSync(certs.path("ca.pem")),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    },
    (req, res) => {
      const sock = req.socket as TLSSocket;
      const peer = requireClientCert ? sock.getPeerCertificate() : undefined;
      const servername = (sock as TLSSocket & { servername?: string | false }).servername;
      requests.push({ path: req.url ?? "/", ...(servername ? { sni: servername } : {}), ...(peer?.subject?.CN ? { clientCn: String(peer.subject.CN) } : {}) });
      res.writeHead(200, { "x-backend-version": version });
      res.end("ok\n");
    },
  );
  return listenOrAdopt(server, host, port, listening).then(() => ({
    requests,
    dropConnections: () => server.closeAllConnections(),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  }));
}
