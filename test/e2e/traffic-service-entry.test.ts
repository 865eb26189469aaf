/**
 * ServiceEntries through a real Envoy: a DNS entry whose endpoint is `localhost` (resolved by
 * Envoy itself) with DestinationRule SIMPLE TLS origination reaches an HTTPS backend, sending the
 * SNI and verifying the certificate against the entry's subjectAltNames; a STATIC entry routes to its listed endpoint; a STATIC entry with a
 * workloadSelector routes to the WorkloadEntry it selects. All entries share the HTTP port of
 * one Kubernetes Service (the listener the fixture waits for) and are told apart by Host.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTlsBackend, TestCerts, type TlsBackend } from "../support/certs.js";
import { eventually, startTrafficMesh, type MeshAddressing, type TrafficMesh } from "./traffic-fixture.js";

const certs = new TestCerts("meshpilot-traffic-se-");
let mesh: TrafficMesh;
let tls: TlsBackend | undefined;
const tlsListener = net.createServer();
let tlsPort = 0;

function istioYaml(a: MeshAddressing): string {
  const port = a.port("anchor");
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: local-https, namespace: default }
spec:
  hosts: [api.external.test]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{ number: ${port}, name: http, protocol: HTTP, targetPort: ${tlsPort} }]
  endpoints: [{ address: localhost }]
  subjectAltNames: [api.external.test]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: local-https, namespace: default }
spec:
  host: api.external.test
  trafficPolicy:
    tls: { mode: SIMPLE, sni: api.external.test, caCertificates: ${certs.path("ca.pem")} }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: static, namespace: default }
spec:
  hosts: [static.example.test]
  resolution: STATIC
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  endpoints: [{ address: ${a.ip("anchor", "st")} }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: vm, namespace: default }
spec:
  hosts: [vm.example.test]
  resolution: STATIC
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: vm } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-1, namespace: default }
spec: { address: ${a.ip("anchor", "we")}, labels: { app: vm } }
`;
}

beforeAll(async () => {
  certs.leaf("server", "DNS:api.external.test");
  await new Promise<void>((resolve, reject) => {
    tlsListener.once("error", reject);
    tlsListener.listen(0, "127.0.0.1", () => resolve());
  });
  tlsPort = (tlsListener.address() as net.AddressInfo).port;
  // The port was free a moment ago; the backend listens on it itself.
  await new Promise<void>((resolve) => tlsListener.close(() => resolve()));
  tls = await startTlsBackend(certs, "127.0.0.1", tlsPort, "tls", false);
  mesh = await startTrafficMesh({
    name: "service-entry",
    services: [{ name: "anchor", workloads: [{ version: "st" }, { version: "we" }] }],
    istio: istioYaml,
  });
  await eventually(async () => (await mesh.get("anchor", "/", { host: "vm.example.test" })).status === 200, "routes to the ServiceEntry hosts");
});

afterAll(async () => {
  await mesh?.stop();
  await tls?.close();
  certs.remove();
});

describe("ServiceEntry traffic", () => {
  it("DNS resolution with SIMPLE TLS origination reaches the HTTPS backend, with SNI and a verified certificate", async () => {
    await eventually(async () => (await mesh.get("anchor", "/tls", { host: "api.external.test" })).status === 200, "TLS origination to api.external.test");
    const res = await mesh.get("anchor", "/secure", { host: "api.external.test" });
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("tls");
    expect(tls!.requests.at(-1)).toMatchObject({ path: "/secure", sni: "api.external.test" });
    expect(await mesh.stat(`cluster.outbound|${mesh.port("anchor")}||api.external.test.ssl.handshake`)).toBeGreaterThan(0);
  });

  it("STATIC resolution routes to the entry's endpoint", async () => {
    const res = await mesh.get("anchor", "/static", { host: "static.example.test" });
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("st");
  });

  it("a workloadSelector routes to the WorkloadEntry it selects", async () => {
    const counts = await mesh.tally("anchor", "/vm", 10, { host: "vm.example.test" });
    expect(counts).toEqual({ we: 10 });
  });
});
