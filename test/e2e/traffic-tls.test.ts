/**
 * DestinationRule TLS origination through a real Envoy: the client speaks plain HTTP to its
 * sidecar, which opens TLS (SIMPLE) or mutual TLS (MUTUAL) to backends that only speak TLS.
 * Certificates are made with openssl (support/certs.ts); file paths in the DestinationRule reach Envoy as
 * `filename` data sources. MUTUAL with `credentialName` (a rule with a workloadSelector, as Istio
 * requires for sidecars) takes the client certificate from a Secret, served over ADS (SDS), and a
 * rotated Secret reaches Envoy without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTlsBackend, TestCerts, type TlsBackend } from "../support/certs.js";
import { eventually, startTrafficMesh, type TrafficMesh } from "./traffic-fixture.js";

const certs = new TestCerts("meshpilot-traffic-tls-");
const f = (n: string) => certs.path(n);

const b64 = (name: string) => certs.b64(name);

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

let mesh: TrafficMesh;
const backends: TlsBackend[] = [];

beforeAll(async () => {
  certs.leaf("server", "DNS:secure.example").leaf("client", "DNS:client.example").leaf("client2", "DNS:client2.example");
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
    // The client Envoy reaches meshpilot over plaintext xDS, which sends no Secrets by default.
    allowPlaintextSecrets: true,
    istio: () => istioYaml("client"),
  });
  backends.push(await startTlsBackend(certs, mesh.ip("simple", "s"), mesh.port("simple"), "s", false));
  backends.push(await startTlsBackend(certs, mesh.ip("mutual", "m"), mesh.port("mutual"), "m", true));
  backends.push(await startTlsBackend(certs, mesh.ip("wrongsan", "w"), mesh.port("wrongsan"), "w", false));
  backends.push(await startTlsBackend(certs, mesh.ip("nocert", "n"), mesh.port("nocert"), "n", true));
  backends.push(await startTlsBackend(certs, mesh.ip("credmutual", "c"), mesh.port("credmutual"), "c", true));
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
  certs.remove();
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
