/**
 * DestinationRule TLS origination through a real Envoy: the client speaks plain HTTP to its
 * sidecar, which opens TLS (SIMPLE) or mutual TLS (MUTUAL) to backends that only speak TLS.
 * Certificates are made here with openssl; file paths in the DestinationRule reach Envoy as
 * `filename` data sources. MUTUAL with `credentialName` (a rule with a workloadSelector, as Istio
 * requires for sidecars) takes the client certificate from a Secret, served over ADS (SDS), and a
 * rotated Secret reaches Envoy without a restart.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

const dir = mkdtempSync(join(tmpdir(), "meshpilot-traffic-tls-"));
const f = (n: string) => join(dir, n);

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: "pipe" });
}

function makeCerts(): void {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=test CA", "-keyout", f("ca-key.pem"), "-out", f("ca.pem"));
  const leaf = (name: string, san: string) => {
    writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`, "-keyout", f(`${name}-key.pem`), "-out", f(`${name}.csr`));
    openssl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", f(`${name}.ext`), "-out", f(`${name}.pem`));
  };
  leaf("server", "DNS:secure.example");
  leaf("client", "DNS:client.example");
  leaf("client2", "DNS:client2.example");
}

const b64 = (name: string) => readFileSync(f(name)).toString("base64");

/** A kubernetes.io/tls Secret with the client certificate `client` and the CA, for credentialName. */
function credentialYaml(client: string): string {
  return `---
apiVersion: v1
kind: Secret
metadata: { name: client-cred, namespace: default }
type: kubernetes.io/tls
data:
  tls.crt: ${b64(`${client}.pem`)}
  tls.key: ${b64(`${client}-key.pem`)}
  ca.crt: ${b64("ca.pem")}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: credmutual, namespace: default }
spec:
  host: credmutual
  workloadSelector: { matchLabels: { app: client } }
  trafficPolicy:
    tls: { mode: MUTUAL, sni: secure.example, subjectAltNames: [secure.example], credentialName: client-cred }
`;
}

interface TlsBackend {
  readonly requests: Array<{ sni?: string; clientCn?: string; path: string }>;
  /** Close open connections (Envoy then opens new ones, with its current certificate). */
  dropConnections(): void;
  close(): Promise<void>;
}

function startTlsBackend(host: string, port: number, version: string, requireClientCert: boolean): Promise<TlsBackend> {
  const requests: TlsBackend["requests"] = [];
  const server = https.createServer(
    { cert: readFileSync(f("server.pem")), key: readFileSync(f("server-key.pem")), ca: readFileSync(f("ca.pem")), requestCert: requireClientCert, rejectUnauthorized: requireClientCert },
    (req, res) => {
      const sock = req.socket as TLSSocket;
      const peer = requireClientCert ? sock.getPeerCertificate() : undefined;
      const servername = (sock as TLSSocket & { servername?: string | false }).servername;
      requests.push({ path: req.url ?? "/", ...(servername ? { sni: servername } : {}), ...(peer?.subject?.CN ? { clientCn: String(peer.subject.CN) } : {}) });
      res.writeHead(200, { "x-backend-version": version });
      res.end("ok\n");
    },
  );
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () =>
      resolve({
        requests,
        dropConnections: () => server.closeAllConnections(),
        close: () => new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      }),
    );
  });
}

let mesh: TrafficMesh;
const backends: TlsBackend[] = [];

beforeAll(async () => {
  makeCerts();
  const services = [
    { name: "simple", workloads: [{ version: "s", backend: false }] },
    { name: "mutual", workloads: [{ version: "m", backend: false }] },
    { name: "wrongsan", workloads: [{ version: "w", backend: false }] },
    { name: "nocert", workloads: [{ version: "n", backend: false }] },
    { name: "credmutual", workloads: [{ version: "c", backend: false }] },
  ];
  mesh = await startTrafficMesh({
    name: "tls",
    services,
    istio: () => istioYaml("client"),
  });
  backends.push(await startTlsBackend(mesh.ip("simple", "s"), mesh.port("simple"), "s", false));
  backends.push(await startTlsBackend(mesh.ip("mutual", "m"), mesh.port("mutual"), "m", true));
  backends.push(await startTlsBackend(mesh.ip("wrongsan", "w"), mesh.port("wrongsan"), "w", false));
  backends.push(await startTlsBackend(mesh.ip("nocert", "n"), mesh.port("nocert"), "n", true));
  backends.push(await startTlsBackend(mesh.ip("credmutual", "c"), mesh.port("credmutual"), "c", true));
  await eventually(async () => (await mesh.get("simple", "/")).status === 200, "TLS origination to simple");
});

function istioYaml(credentialClient: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: simple, namespace: default }
spec:
  host: simple
  trafficPolicy:
    tls: { mode: SIMPLE, sni: secure.example, subjectAltNames: [secure.example], caCertificates: ${f("ca.pem")} }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: mutual, namespace: default }
spec:
  host: mutual
  trafficPolicy:
    tls: { mode: MUTUAL, sni: secure.example, caCertificates: ${f("ca.pem")}, clientCertificate: ${f("client.pem")}, privateKey: ${f("client-key.pem")} }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: wrongsan, namespace: default }
spec:
  host: wrongsan
  trafficPolicy:
    tls: { mode: SIMPLE, sni: secure.example, subjectAltNames: [other.example], caCertificates: ${f("ca.pem")} }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: nocert, namespace: default }
spec:
  host: nocert
  trafficPolicy:
    tls: { mode: SIMPLE, sni: secure.example, caCertificates: ${f("ca.pem")} }
${credentialYaml(credentialClient)}`;
}
afterAll(async () => {
  await mesh?.stop();
  await Promise.all(backends.map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("TLS origination", () => {
  it("SIMPLE reaches a TLS-only backend, with the configured SNI, verifying its certificate", async () => {
    const res = await mesh.get("simple", "/hello");
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("s");
    expect(backends[0]!.requests.at(-1)).toMatchObject({ path: "/hello", sni: "secure.example" });
    expect(backends[0]!.requests.at(-1)?.clientCn).toBeUndefined();
  });

  it("MUTUAL presents the client certificate to a backend that requires one", async () => {
    const res = await mesh.get("mutual", "/m");
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("m");
    expect(backends[1]!.requests.at(-1)).toMatchObject({ path: "/m", clientCn: "client" });
  });

  it("a server certificate without the expected subjectAltName is refused (503, backend never answers)", async () => {
    const res = await mesh.get("wrongsan", "/x");
    expect(res.status).toBe(503);
    expect(backends[2]!.requests).toHaveLength(0);
  });

  it("SIMPLE cannot pass a backend that demands a client certificate", async () => {
    const res = await mesh.get("nocert", "/x");
    expect(res.status).toBe(503);
    expect(backends[3]!.requests).toHaveLength(0);
  });

  it("MUTUAL with credentialName presents the certificate of the Secret, served over ADS", async () => {
    const res = await mesh.get("credmutual", "/cred");
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("c");
    expect(backends[4]!.requests.at(-1)).toMatchObject({ path: "/cred", sni: "secure.example", clientCn: "client" });
    expect(await mesh.stat("cluster_manager.warming_clusters")).toBe(0);
  });

  it("a rotated Secret reaches Envoy: new connections present the new certificate", async () => {
    const clustersBefore = await mesh.stat("cluster_manager.cds.update_success");
    expect(clustersBefore).toBeGreaterThan(0);
    mesh.setIstio(istioYaml("client2"));
    await eventually(async () => {
      backends[4]!.dropConnections();
      const res = await mesh.get("credmutual", "/rotated");
      return res.status === 200 && backends[4]!.requests.at(-1)?.clientCn === "client2";
    }, "requests with the rotated client certificate");
    expect(backends[4]!.requests.at(-1)).toMatchObject({ path: "/rotated", clientCn: "client2" });
    // Only the Secret changed: no cluster was re-sent.
    expect(await mesh.stat("cluster_manager.cds.update_success")).toBe(clustersBefore);
  });
});
