/**
 * The Istio ingress gateway through real Envoys: a router Envoy started from the bootstrap of
 * `meshpilot bootstrap --type router` serves the Gateways that select it (labels
 * istio=ingressgateway), on high loopback ports (`bind: 127.0.0.1`):
 * - the bookinfo ingress of Istio's tutorial (exact, prefix matches; 404 for the rest);
 * - HTTPS termination with a certificate from a Secret (credentialName, served over ADS), and a
 *   rotation of that Secret that new connections see without a restart;
 * - PASSTHROUGH by SNI to a backend that terminates TLS itself;
 * - httpsRedirect (301 to https);
 * - MUTUAL TLS refusing a client without a certificate.
 */
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapCommand } from "../../src/cli/bootstrap.js";
import { httpRequest } from "../support/backend.js";
import { startTlsBackend, TestCerts, type TlsBackend } from "../support/certs.js";
import { startEnvoy, type Envoy } from "../support/envoy.js";
import { canBind, randomInt } from "../support/net.js";
import { eventually, startTrafficMesh, type MeshAddressing, type TrafficMesh } from "./traffic-fixture.js";

const certs = new TestCerts("meshpilot-gateway-ingress-");
const b64 = (name: string) => certs.b64(name);

/** Gateway server ports: HTTP (bookinfo), HTTPS, PASSTHROUGH, redirecting HTTP, MUTUAL. */
let ports: { http: number; https: number; pass: number; redirect: number; mtls: number };

async function pickPorts(): Promise<typeof ports> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = randomInt(32_000, 32_700);
    const list = [0, 1, 2, 3, 4].map((i) => base + i);
    if ((await Promise.all(list.map((p) => canBind("127.0.0.1", p)))).every(Boolean)) {
      return { http: list[0]!, https: list[1]!, pass: list[2]!, redirect: list[3]!, mtls: list[4]! };
    }
  }
  throw new Error("no free gateway ports");
}

function istioYaml(m: MeshAddressing, serverCert: string): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: bookinfo-cred, namespace: istio-system }
type: kubernetes.io/tls
data:
  tls.crt: ${b64(`${serverCert}.pem`)}
  tls.key: ${b64(`${serverCert}-key.pem`)}
---
apiVersion: v1
kind: Secret
metadata: { name: mtls-cred, namespace: istio-system }
type: kubernetes.io/tls
data:
  tls.crt: ${b64("bookinfo.pem")}
  tls.key: ${b64("bookinfo-key.pem")}
  ca.crt: ${b64("ca.pem")}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: ${ports.http}, name: http, protocol: HTTP }
      bind: 127.0.0.1
      hosts: ["*"]
    - port: { number: ${ports.https}, name: https, protocol: HTTPS }
      bind: 127.0.0.1
      hosts: [bookinfo.example.com]
      tls: { mode: SIMPLE, credentialName: bookinfo-cred, minProtocolVersion: TLSV1_2 }
    - port: { number: ${ports.pass}, name: tls-pass, protocol: TLS }
      bind: 127.0.0.1
      hosts: [secure.example]
      tls: { mode: PASSTHROUGH }
    - port: { number: ${ports.redirect}, name: http-redirect, protocol: HTTP }
      bind: 127.0.0.1
      hosts: [bookinfo.example.com]
      tls: { httpsRedirect: true }
    - port: { number: ${ports.mtls}, name: https-mtls, protocol: HTTPS }
      bind: 127.0.0.1
      hosts: [bookinfo.example.com]
      tls: { mode: MUTUAL, credentialName: mtls-cred }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
    - match:
        - uri: { exact: /productpage }
        - uri: { prefix: /static }
        - uri: { exact: /login }
        - uri: { exact: /logout }
        - uri: { prefix: /api/v1/products }
      route:
        - destination: { host: productpage, port: { number: ${m.port("productpage")} } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: secure, namespace: default }
spec:
  hosts: [secure.example]
  gateways: [default/bookinfo-gateway]
  tls:
    - match: [{ sniHosts: [secure.example] }]
      route: [{ destination: { host: secure, port: { number: ${m.port("secure")} } } }]
`;
}

interface TlsAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** CN of the certificate the server presented. */
  readonly serverCn: string;
}

/** One HTTPS request on a fresh connection to 127.0.0.1:port, with SNI `servername`, verifying against the test CA. */
function httpsGet(port: number, servername: string, path: string, client?: string): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path,
        servername,
        headers: { host: servername },
        ca: Buffer.from(b64("ca.pem"), "base64"),
        ...(client ? { cert: Buffer.from(b64(`${client}.pem`), "base64"), key: Buffer.from(b64(`${client}-key.pem`), "base64") } : {}),
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const serverCn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? "");
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, serverCn }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`https ${servername}:${port}${path}: no answer`)));
    req.on("error", reject);
    req.end();
  });
}

let mesh: TrafficMesh;
let router: Envoy;
let tlsBackend: TlsBackend;

beforeAll(async () => {
  certs
    .leaf("bookinfo", "DNS:bookinfo.example.com")
    .leaf("bookinfo2", "DNS:bookinfo.example.com")
    .leaf("server", "DNS:secure.example")
    .leaf("client", "DNS:client.example");
  ports = await pickPorts();
  mesh = await startTrafficMesh({
    name: "gateway",
    services: [
      { name: "productpage", workloads: [{ version: "v1" }] },
      { name: "secure", portName: "tls", workloads: [{ version: "s", backend: false }] },
    ],
    // The router reaches meshpilot over plaintext xDS, which sends no Secrets by default.
    allowPlaintextSecrets: true,
    istio: (m) => istioYaml(m, "bookinfo"),
  });
  tlsBackend = await startTlsBackend(certs, mesh.ip("secure", "s"), mesh.port("secure"), "s", false);
  const boot = await bootstrapCommand({
    type: "router",
    ip: "127.0.0.1",
    pod: "istio-ingressgateway-1",
    namespace: "istio-system",
    xdsAddress: `127.0.0.1:${mesh.server.xdsPort}`,
    adminAddress: "127.0.0.1:15000",
    label: ["istio=ingressgateway", "app=istio-ingressgateway"],
  });
  if ("error" in boot) throw new Error(boot.error);
  const { admin: _fixed, ...bootstrap } = JSON.parse(boot.output) as Record<string, unknown>;
  router = await startEnvoy({ name: "gateway-router", bootstrap });
  await router.waitReady(20_000);
  for (const p of Object.values(ports)) {
    await router.waitFor(async () => (await router.listenerAddress(`127.0.0.1_${p}`)).port === p, { timeoutMs: 20_000, what: `listener 127.0.0.1_${p}` });
  }
});

afterAll(async () => {
  await router?.stop();
  await tlsBackend?.close();
  await mesh?.stop();
  certs.remove();
});

const ingress = (path: string, host = "bookinfo.app") => httpRequest(`http://127.0.0.1:${ports.http}${path}`, { host, timeoutMs: 10_000 });

describe("Istio ingress gateway", () => {
  it("routes the bookinfo tutorial paths to productpage, whatever the Host", async () => {
    for (const path of ["/productpage", "/static/css/style.css", "/login", "/logout", "/api/v1/products", "/api/v1/products/0/reviews"]) {
      const res = await ingress(path);
      expect(res.status, path).toBe(200);
      expect(res.headers["x-backend-version"], path).toBe("v1");
    }
    expect((await ingress("/productpage", "shop.example.org")).status).toBe(200);
    expect(mesh.backend("productpage", "v1").requests.at(-1)?.path).toBe("/productpage");
  });

  it("answers 404 to what no route matches (no default route at a gateway)", async () => {
    mesh.resetBackends();
    for (const path of ["/", "/productpage/extra", "/reviews", "/loginx"]) expect((await ingress(path)).status, path).toBe(404);
    expect(mesh.backend("productpage", "v1").requests).toHaveLength(0);
  });

  it("terminates HTTPS with the certificate of the Secret", async () => {
    const res = await httpsGet(ports.https, "bookinfo.example.com", "/productpage");
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("v1");
    expect(res.serverCn).toBe("bookinfo");
  });

  it("routes PASSTHROUGH by SNI to a backend that terminates TLS itself", async () => {
    const res = await httpsGet(ports.pass, "secure.example", "/through");
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("s");
    expect(res.serverCn).toBe("server");
    expect(tlsBackend.requests.at(-1)).toMatchObject({ path: "/through", sni: "secure.example" });
    // An SNI no tls route names gets no filter chain: the connection is closed.
    await expect(httpsGet(ports.pass, "other.example", "/")).rejects.toThrow();
  });

  it("redirects plaintext requests to https (httpsRedirect)", async () => {
    const res = await httpRequest(`http://127.0.0.1:${ports.redirect}/productpage`, { host: "bookinfo.example.com" });
    expect(res.status).toBe(301);
    expect(res.headers["location"]).toBe("https://bookinfo.example.com/productpage");
  });

  it("MUTUAL refuses a client without a certificate and serves one with a certificate of the CA", async () => {
    await expect(httpsGet(ports.mtls, "bookinfo.example.com", "/productpage")).rejects.toThrow();
    const res = await httpsGet(ports.mtls, "bookinfo.example.com", "/productpage", "client");
    expect(res.status).toBe(200);
    expect(res.headers["x-backend-version"]).toBe("v1");
  });

  it("a rotated Secret reaches the gateway: new connections get the new certificate", async () => {
    const before = await router.stat("listener_manager.lds.update_success");
    mesh.setIstio(istioYaml(mesh, "bookinfo2"));
    await eventually(async () => (await httpsGet(ports.https, "bookinfo.example.com", "/productpage")).serverCn === "bookinfo2", "the rotated certificate");
    // Delivered over SDS: the listeners were not rebuilt for it.
    expect(await router.stat("listener_manager.lds.update_success")).toBe(before);
  });
});
