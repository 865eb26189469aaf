/**
 * Istio's egress gateway pattern through real Envoys: the client's sidecar sends plain HTTP for
 * an external host (a ServiceEntry) to the egress gateway (the VirtualService's `mesh` rule, with
 * the first hop's DestinationRule subset); the egress gateway (a router Envoy from
 * `meshpilot bootstrap --type router`) sends it on to the external host's HTTPS port, where the
 * second DestinationRule originates TLS (SIMPLE, verifying the server). The "external host" is a
 * TLS-only backend on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapCommand } from "../../src/cli/bootstrap.js";
import { httpRequest } from "../support/backend.js";
import { startTlsBackend, TestCerts, type TlsBackend } from "../support/certs.js";
import { startEnvoy, type Envoy } from "../support/envoy.js";
import { startTrafficMesh, type MeshAddressing, type TrafficMesh } from "./traffic-fixture.js";

const certs = new TestCerts("meshpilot-gateway-egress-");
const HOST = "edition.example.com";

function istioYaml(m: MeshAddressing): string {
  const gw = m.port("istio-egressgateway");
  const ext = m.port("ext");
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: edition, namespace: default }
spec:
  hosts: [${HOST}]
  ports:
    - { number: ${gw}, name: http-port, protocol: HTTP }
    - { number: ${ext}, name: https-port-for-tls-origination, protocol: HTTPS }
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: ${m.ip("ext", "e")} }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
    - port: { number: ${gw}, name: http-port-for-tls-origination, protocol: HTTP }
      bind: ${m.ip("istio-egressgateway", "gw")}
      hosts: [${HOST}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-edition, namespace: default }
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets: [{ name: edition }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-edition-through-egress-gateway, namespace: default }
spec:
  hosts: [${HOST}]
  gateways: [istio-egressgateway, mesh]
  http:
    - match: [{ gateways: [mesh], port: ${gw} }]
      route:
        - destination: { host: istio-egressgateway.istio-system.svc.cluster.local, subset: edition, port: { number: ${gw} } }
    - match: [{ gateways: [istio-egressgateway], port: ${gw} }]
      route:
        - destination: { host: ${HOST}, port: { number: ${ext} } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-tls-for-edition, namespace: default }
spec:
  host: ${HOST}
  trafficPolicy:
    portLevelSettings:
      - port: { number: ${ext} }
        tls: { mode: SIMPLE, sni: ${HOST}, caCertificates: ${certs.path("ca.pem")}, subjectAltNames: [${HOST}] }
`;
}

let mesh: TrafficMesh;
let egress: Envoy;
let external: TlsBackend;

beforeAll(async () => {
  certs.leaf("server", `DNS:${HOST}`);
  mesh = await startTrafficMesh({
    name: "egress",
    services: [
      // The egress gateway's Service; its "pod" is the router Envoy below.
      { name: "istio-egressgateway", namespace: "istio-system", workloads: [{ version: "gw", backend: false }] },
      // Only reserves an address and port for the external TLS backend.
      { name: "ext", portName: "tls", workloads: [{ version: "e", backend: false }] },
    ],
    istio: istioYaml,
  });
  external = await startTlsBackend(certs, mesh.ip("ext", "e"), mesh.port("ext"), "external", false);
  const boot = await bootstrapCommand({
    type: "router",
    ip: mesh.ip("istio-egressgateway", "gw"),
    pod: "istio-egressgateway-1",
    namespace: "istio-system",
    xdsAddress: `127.0.0.1:${mesh.server.xdsPort}`,
    adminAddress: "127.0.0.1:15000",
    label: ["istio=egressgateway", "app=istio-egressgateway", "version=gw"],
  });
  if ("error" in boot) throw new Error(boot.error);
  const { admin: _fixed, ...bootstrap } = JSON.parse(boot.output) as Record<string, unknown>;
  egress = await startEnvoy({ name: "gateway-egress", bootstrap });
  await egress.waitReady(20_000);
  const listener = `${mesh.ip("istio-egressgateway", "gw")}_${mesh.port("istio-egressgateway")}`;
  await egress.waitFor(async () => (await egress.listenerAddress(listener)).port === mesh.port("istio-egressgateway"), { timeoutMs: 20_000, what: listener });
});

afterAll(async () => {
  await egress?.stop();
  await external?.close();
  await mesh?.stop();
  certs.remove();
});

describe("egress gateway", () => {
  it("a sidecar's plain HTTP to an external host leaves through the egress gateway, which originates TLS", async () => {
    const res = await httpRequest(`http://127.0.0.1:${mesh.port("istio-egressgateway")}/news`, { host: HOST, timeoutMs: 10_000 });
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("external");
    // TLS reached the external host with its name as SNI, its certificate verified (SAN and CA).
    expect(external.requests.at(-1)).toMatchObject({ path: "/news", sni: HOST });
    // The gateway's route (not the sidecar's) sent it: only the egress gateway has that cluster.
    expect(await egress.stat(`cluster.outbound|${mesh.port("ext")}||${HOST}.upstream_rq_200`)).toBeGreaterThan(0);
    expect(
      await mesh.stat(`cluster.outbound|${mesh.port("istio-egressgateway")}|edition|istio-egressgateway.istio-system.svc.cluster.local.upstream_rq_200`),
    ).toBeGreaterThan(0);
  });

  it("the sidecar does not reach the external host directly", async () => {
    expect(await mesh.stat(`cluster.outbound|${mesh.port("ext")}||${HOST}.upstream_rq_200`)).toBe(0);
  });
});
