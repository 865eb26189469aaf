/**
 * Istio Gateways through real Envoys in the local cluster. The ingress and egress gateways run
 * from deploy/gateway/ as a user applies them (the images the only change): stock Envoy
 * bootstrapped by `meshpilot bootstrap --type router` in an init container, on meshpilot's secure
 * port with the pod's ServiceAccount token, so certificates of credentialName Secrets reach them.
 * Requests come from outside the cluster (its external host's network namespace) to the ingress
 * gateway's Service, with the Host header, SNI and client certificate a real client would send:
 * - the bookinfo ingress of Istio's tutorial (exact, prefix and regex URI matches to an injected
 *   productpage; 404 for the rest);
 * - HTTPS termination with a certificate from a Secret made here, and its rotation, which new
 *   connections see;
 * - PASSTHROUGH by SNI to a server that terminates TLS itself (on the external host);
 * - httpsRedirect;
 * - MUTUAL TLS refusing a client without a certificate;
 * - Istio's egress gateway pattern: an injected pod's sidecar sends an external ServiceEntry host
 *   to the egress gateway, which originates TLS to the external host, verifying it with a CA from
 *   a Secret.
 */
import type net from "node:net";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOY_DIR } from "../../scripts/cluster/meshpilot.mjs";
import { APP_PORT, testappDeployment, testappService } from "../support/bookinfo.js";
import { TestCerts, startTlsBackend, type TlsBackend } from "../support/certs.js";
import { applyManifest, applyObjects, envoyAdmin, podNames, requestFromExternal, rollout, serviceIP, type ClientTls } from "../support/cluster-apps.js";
import { clusterTestsSkipped, eventually, useCluster, type TestCluster } from "../support/cluster.js";
import { loadManifests } from "../support/kube.js";
import { listenInNetns } from "../support/netns.js";

const APP = "gw-istio";
const INGRESS_NS = "istio-ingress";
const EGRESS_NS = "istio-egress";
const INGRESS_FILE = `${DEPLOY_DIR}gateway/istio-ingressgateway.yaml`;
const EGRESS_FILE = `${DEPLOY_DIR}gateway/istio-egressgateway.yaml`;
/** The images deploy/gateway/ names. */
const MESHPILOT_IMAGE = "meshpilot:dev";
const ENVOY_IMAGE = "envoyproxy/envoy:v1.40-latest";
/** The external host's TLS server: PASSTHROUGH's backend, and the egress gateway's destination. */
const TLS_PORT = 9443;
const SECURE_HOST = "secure.example";

interface Answer {
  service?: string;
  path?: string;
  host?: string;
}

describe.skipIf(clusterTestsSkipped)("Istio Gateway: ingress and egress gateways deployed from deploy/gateway/", () => {
  let c: TestCluster;
  let gatewayIP = "";
  let caller = "";
  let restoreMeshpilot: (() => Promise<void>) | undefined;
  const certs = new TestCerts("mp-gw-istio-");
  let tlsServer: TlsBackend | undefined;
  let listening: net.Server | undefined;
  const pem = (f: string) => readFileSync(certs.path(f), "utf8");
  const tlsSecret = (ns: string, name: string, leaf: string, withCa = false) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    type: "kubernetes.io/tls",
    data: { "tls.crt": certs.b64(`${leaf}.pem`), "tls.key": certs.b64(`${leaf}-key.pem`), ...(withCa ? { "ca.crt": certs.b64("ca.pem") } : {}) },
  });
  const http = (path: string, host: string) => requestFromExternal(c, gatewayIP, 80, path, { host, timeoutMs: 5000 });
  const https = (path: string, t: Partial<ClientTls> & { servername: string }) =>
    requestFromExternal(c, gatewayIP, 443, path, { host: t.servername, timeoutMs: 5000, tls: { ca: pem("ca.pem"), ...t } });
  const body = (text: string): Answer => JSON.parse(text) as Answer;

  beforeAll(async () => {
    c = await useCluster();
    const image = c.images.byName["testapp"]!;
    certs
      .leaf("bookinfo", "DNS:bookinfo.example.com")
      .leaf("bookinfo-rotated", "DNS:bookinfo.example.com")
      .leaf("mtls-gateway", "DNS:mtls.example.com")
      .leaf("client", "DNS:client.example")
      .leaf("server", `DNS:${SECURE_HOST},DNS:${c.cfg.externalHost}`);
    listening = await listenInNetns(c.cfg.netnsExternal, c.cfg.externalIP, TLS_PORT);
    tlsServer = await startTlsBackend(certs, c.cfg.externalIP, TLS_PORT, "external", false, listening);

    await applyObjects(c, "gw-istio-apps", [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: APP, labels: { "istio-injection": "enabled" } } },
      testappService(APP, "productpage"),
      testappDeployment(APP, "productpage-v1", { app: "productpage", version: "v1" }, "productpage", ["-service", "productpage"], image),
      testappService(APP, "caller"),
      testappDeployment(APP, "caller", { app: "caller" }, "app", ["-service", "caller"], image),
    ]);
    restoreMeshpilot = await ensureSecurePort(c, APP);
    const images = { [MESHPILOT_IMAGE]: c.images.byName["meshpilot"]!, [ENVOY_IMAGE]: c.images.byName["envoy"]! };
    await applyManifest(c, INGRESS_FILE, images);
    await applyManifest(c, EGRESS_FILE, images);
    // The Gateways' certificates, in the gateways' namespaces (where Istio reads credentialName).
    await applyObjects(c, "gw-istio-secrets", [
      tlsSecret(INGRESS_NS, "bookinfo-cred", "bookinfo"),
      tlsSecret(INGRESS_NS, "mtls-cred", "mtls-gateway", true),
      { apiVersion: "v1", kind: "Secret", metadata: { name: "external-ca", namespace: EGRESS_NS }, data: { "ca.crt": certs.b64("ca.pem") } },
    ]);
    await applyObjects(c, "gw-istio-config", ingressConfig(c.cfg.externalIP));
    await applyObjects(c, "gw-istio-egress", egressConfig(c.cfg.externalHost));
    await rollout(c, APP, "productpage-v1");
    await rollout(c, APP, "caller");
    await rollout(c, INGRESS_NS, "istio-ingressgateway");
    await rollout(c, EGRESS_NS, "istio-egressgateway");
    gatewayIP = await serviceIP(c, INGRESS_NS, "istio-ingressgateway");
    caller = (await podNames(c, APP, "app=caller"))[0]!;
    await eventually(
      "productpage through the ingress gateway",
      async () => {
        const res = await http("/productpage", "bookinfo.example.com");
        if (res.status !== 200) throw new Error(`HTTP ${res.status} ${res.body.slice(0, 200)}`);
        return true;
      },
      180_000,
      1000,
    );
  });

  afterAll(async () => {
    await restoreMeshpilot?.();
    await tlsServer?.close();
    listening?.close();
    certs.remove();
    if (c) await c.kubectl(["delete", "namespace", APP, INGRESS_NS, EGRESS_NS, "--wait=false", "--ignore-not-found"]);
  });

  it("runs deploy/gateway/istio-ingressgateway.yaml as written, on meshpilot's secure port with the pod's identity", async () => {
    const written = loadManifests(readFileSync(INGRESS_FILE, "utf8")).find((o) => o.kind === "Deployment") as unknown as {
      spec: { template: { spec: { initContainers: { command: string[] }[]; containers: { args: string[] }[] } } };
    };
    const [pod] = await podNames(c, INGRESS_NS, "istio=ingressgateway");
    const running = await c.json<{ spec: { initContainers: { command: string[] }[]; containers: { args: string[]; image: string }[] } }>([
      "-n",
      INGRESS_NS,
      "get",
      "pod",
      pod!,
    ]);
    expect(running.spec.initContainers[0]!.command).toEqual(written.spec.template.spec.initContainers[0]!.command);
    expect(running.spec.containers[0]!.args).toEqual(written.spec.template.spec.containers[0]!.args);
    expect(running.spec.containers[0]!.image).toBe(c.images.byName["envoy"]);
    // Envoy's control plane is the secure port, the only one that sends Secrets (the Gateway's
    // certificate came over it), with the projected token read from its file on every connect.
    const dump = JSON.parse(await envoyAdmin(c, INGRESS_NS, pod!, "istio-proxy", "/config_dump")) as {
      configs: { bootstrap?: { dynamic_resources?: { ads_config?: { grpc_services?: { google_grpc?: Record<string, unknown> }[] } } } }[];
    };
    const ads = dump.configs.find((x) => x.bootstrap)?.bootstrap?.dynamic_resources?.ads_config?.grpc_services?.[0]?.google_grpc;
    expect(ads?.["target_uri"]).toMatch(/:15012$/);
    expect(ads?.["credentials_factory_name"]).toBe("envoy.grpc_credentials.file_based_metadata");
    const secrets = await envoyAdmin(c, INGRESS_NS, pod!, "istio-proxy", "/config_dump?resource=dynamic_active_secrets");
    expect(secrets).toContain('"kubernetes://bookinfo-cred"');
    // The node id carries the pod's own IP, name and namespace, from the downward API.
    const info = await envoyAdmin(c, INGRESS_NS, pod!, "istio-proxy", "/server_info");
    const podIP = (await c.json<{ status: { podIP: string } }>(["-n", INGRESS_NS, "get", "pod", pod!])).status.podIP;
    expect(info).toContain(`router~${podIP}~${pod}.${INGRESS_NS}~${INGRESS_NS}.svc.cluster.local`);
  });

  it("routes the bookinfo tutorial's exact, prefix and regex URIs to productpage, with 404 for the rest", async () => {
    for (const path of ["/productpage", "/static/css/style.css", "/login", "/logout", "/api/v1/products", "/api/v1/products/0/reviews", "/reviews/42"]) {
      const res = await http(path, "bookinfo.example.com");
      expect(res.status, path).toBe(200);
      expect(body(res.body), path).toMatchObject({ service: "productpage", path });
    }
    // Any Host: the tutorial's Gateway and VirtualService take "*".
    expect(body((await http("/productpage", "whatever.example")).body).service).toBe("productpage");
    for (const path of ["/", "/productpages", "/loginx", "/reviews/abc", "/static"]) {
      expect((await http(path, "bookinfo.example.com")).status, path).toBe(404);
    }
  });

  it("terminates HTTPS with the Secret's certificate, and new connections see a rotated Secret", async () => {
    const res = await https("/productpage", { servername: "bookinfo.example.com" });
    expect(res.status).toBe(200);
    expect(res.serverCn).toBe("bookinfo");
    expect(body(res.body).service).toBe("productpage");
    await applyObjects(c, "gw-istio-rotate", [tlsSecret(INGRESS_NS, "bookinfo-cred", "bookinfo-rotated")]);
    await eventually(
      "the rotated certificate on a new connection",
      async () => (await https("/productpage", { servername: "bookinfo.example.com" })).serverCn === "bookinfo-rotated",
    );
  });

  it("passes TLS through by SNI to a server that terminates it itself", async () => {
    const before = tlsServer!.requests.length;
    const res = await https("/passthrough", { servername: SECURE_HOST });
    expect(res.status).toBe(200);
    expect(res.body).toBe("ok\n");
    // The external server's own certificate: the gateway did not terminate.
    expect(res.serverCn).toBe("server");
    expect(tlsServer!.requests.slice(before)).toEqual([{ path: "/passthrough", sni: SECURE_HOST }]);
  });

  it("redirects plain HTTP of an httpsRedirect server to https", async () => {
    const res = await http("/productpage?x=1", "redirect.example.com");
    expect(res.status).toBe(301);
    expect(res.headers["location"]).toBe("https://redirect.example.com/productpage?x=1");
  });

  it("MUTUAL: refuses a client without a certificate, admits one with a certificate of the Secret's CA", async () => {
    await expect(https("/productpage", { servername: "mtls.example.com" })).rejects.toThrow(/alert|certificate|socket hang up|ECONNRESET/i);
    const res = await https("/productpage", { servername: "mtls.example.com", cert: pem("client.pem"), key: pem("client-key.pem") });
    expect(res.status).toBe(200);
    expect(res.serverCn).toBe("mtls-gateway");
    expect(body(res.body).service).toBe("productpage");
  });

  it("egress: the sidecar sends the external host to the egress gateway, which originates TLS to it", async () => {
    const url = `http://${c.cfg.externalHost}/via-egress`;
    const send = async () => {
      const out = await c.exec(APP, caller, "app", ["testapp", "client", "-each", "-n", "1", "-timeout-ms", "5000", url], { timeoutMs: 60_000 });
      return JSON.parse(out.trim().split("\n")[0]!) as { status?: number; text?: string };
    };
    const before = tlsServer!.requests.length;
    const one = await eventually("the external host over TLS through the egress gateway", async () => {
      const r = await send();
      return r.status === 200 ? r : undefined;
    });
    // The HTTPS server answered, over TLS with the host's name as SNI...
    expect(one.text).toBe("ok\n");
    expect(tlsServer!.requests.slice(before).at(-1)).toEqual({ path: "/via-egress", sni: c.cfg.externalHost });
    // ...reached from the egress gateway's cluster for the external host's TLS port.
    const [gw] = await podNames(c, EGRESS_NS, "istio=egressgateway");
    const stats = await envoyAdmin(c, EGRESS_NS, gw!, "istio-proxy", `/stats?filter=${encodeURIComponent(`outbound\\|${TLS_PORT}\\|\\|`)}`);
    const sent = /upstream_rq_200: (\d+)/.exec(stats);
    expect(Number(sent?.[1] ?? 0), stats).toBeGreaterThan(0);
    expect(stats).toMatch(/ssl\.handshake: [1-9]/);
  });
});

/**
 * The gateways need meshpilot's secure port (the only one that sends Secrets). Where the
 * deployed meshpilot does not run it yet (the mesh root ConfigMap it publishes is missing), this
 * turns it on for the test and, since the injected sidecars then still use the plaintext port and
 * hold no workload certificate to accept mTLS with, has the gateway reach productpage in
 * plaintext. Returns what puts meshpilot back.
 */
async function ensureSecurePort(c: TestCluster, appNamespace: string): Promise<(() => Promise<void>) | undefined> {
  const published = await eventually(
    "the mesh root in meshpilot's namespace",
    async () => (await c.kubectl(["-n", "meshpilot-system", "get", "configmap", "--ignore-not-found", "-o", "name"])).includes("istio-ca-root-cert"),
    20_000,
    1000,
  ).catch(() => false);
  if (published) return undefined;
  const patch = [{ op: "add", path: "/spec/template/spec/containers/0/args/-", value: "--secure-xds-address=0.0.0.0:15012" }];
  await c.kubectl(["-n", "meshpilot-system", "patch", "deployment", "meshpilot", "--type=json", "-p", JSON.stringify(patch)]);
  await rollout(c, "meshpilot-system", "meshpilot");
  await applyObjects(c, "gw-istio-plaintext-backend", [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "productpage-plaintext", namespace: appNamespace },
      spec: { host: "productpage", trafficPolicy: { tls: { mode: "DISABLE" } } },
    },
  ]);
  return async () => {
    await c.kubectl(["apply", "-f", c.cfg.path("manifests", "meshpilot.yaml")]);
    await rollout(c, "meshpilot-system", "meshpilot");
  };
}

/** The bookinfo ingress of Istio's tutorial, and the ingress gateway's TLS servers. */
function ingressConfig(externalIP: string): Record<string, unknown>[] {
  const productpage = { host: `productpage.${APP}.svc.cluster.local`, port: { number: APP_PORT } };
  return [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "bookinfo-gateway", namespace: APP },
      spec: {
        selector: { istio: "ingressgateway" },
        servers: [
          { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] },
          { port: { number: 80, name: "http-redirect", protocol: "HTTP" }, hosts: ["redirect.example.com"], tls: { httpsRedirect: true } },
          {
            port: { number: 443, name: "https", protocol: "HTTPS" },
            hosts: ["bookinfo.example.com"],
            tls: { mode: "SIMPLE", credentialName: "bookinfo-cred", minProtocolVersion: "TLSV1_2" },
          },
          { port: { number: 443, name: "https-mtls", protocol: "HTTPS" }, hosts: ["mtls.example.com"], tls: { mode: "MUTUAL", credentialName: "mtls-cred" } },
          { port: { number: 443, name: "tls-passthrough", protocol: "TLS" }, hosts: [SECURE_HOST], tls: { mode: "PASSTHROUGH" } },
        ],
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "bookinfo", namespace: APP },
      spec: {
        hosts: ["*"],
        gateways: ["bookinfo-gateway"],
        http: [
          {
            match: [
              { uri: { exact: "/productpage" } },
              { uri: { prefix: "/static/" } },
              { uri: { exact: "/login" } },
              { uri: { exact: "/logout" } },
              { uri: { prefix: "/api/v1/products" } },
              { uri: { regex: "/reviews/[0-9]+" } },
            ],
            route: [{ destination: productpage }],
          },
        ],
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: "secure", namespace: APP },
      spec: {
        hosts: [SECURE_HOST],
        location: "MESH_EXTERNAL",
        resolution: "STATIC",
        ports: [{ number: TLS_PORT, name: "tls", protocol: "TLS" }],
        endpoints: [{ address: externalIP }],
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "secure", namespace: APP },
      spec: {
        hosts: [SECURE_HOST],
        gateways: [`${APP}/bookinfo-gateway`],
        tls: [{ match: [{ sniHosts: [SECURE_HOST] }], route: [{ destination: { host: SECURE_HOST, port: { number: TLS_PORT } } }] }],
      },
    },
  ];
}

/** Istio's "egress gateway with TLS origination", for the cluster's external host. */
function egressConfig(externalHost: string): Record<string, unknown>[] {
  const egressService = `istio-egressgateway.${EGRESS_NS}.svc.cluster.local`;
  return [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: "external", namespace: APP },
      spec: {
        hosts: [externalHost],
        location: "MESH_EXTERNAL",
        resolution: "DNS",
        ports: [
          { number: 80, name: "http", protocol: "HTTP" },
          { number: TLS_PORT, name: "https-for-tls-origination", protocol: "HTTPS" },
        ],
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "egress", namespace: APP },
      spec: { selector: { istio: "egressgateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: [externalHost] }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "egressgateway-for-external", namespace: APP },
      spec: { host: egressService, subsets: [{ name: "external" }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "external-through-egress", namespace: APP },
      spec: {
        hosts: [externalHost],
        gateways: ["egress", "mesh"],
        http: [
          { match: [{ gateways: ["mesh"], port: 80 }], route: [{ destination: { host: egressService, subset: "external", port: { number: 80 } } }] },
          { match: [{ gateways: ["egress"], port: 80 }], route: [{ destination: { host: externalHost, port: { number: TLS_PORT } } }] },
        ],
      },
    },
    // In the egress gateway's namespace, for its pods: TLS to the host, checked against the CA of
    // a Secret there (credentialName, served over the secure port).
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "originate-tls", namespace: EGRESS_NS },
      spec: {
        host: externalHost,
        workloadSelector: { matchLabels: { istio: "egressgateway" } },
        trafficPolicy: { portLevelSettings: [{ port: { number: TLS_PORT }, tls: { mode: "SIMPLE", sni: externalHost, credentialName: "external-ca" } }] },
      },
    },
  ];
}
