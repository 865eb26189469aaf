/**
 * The Kubernetes Gateway API through real Envoys in the local cluster. A GatewayClass of
 * meshpilot's controller and a Gateway of it: meshpilot deploys the gateway itself (a Deployment
 * of stock Envoy and a Service, owned by the Gateway) and writes the Service's address into the
 * Gateway's status. Requests come from outside the cluster (its external host's network
 * namespace) to that address, with the Host header and SNI a real client sends:
 * - the bookinfo-like ingress as an HTTPRoute: exact and segment-prefix paths (`/static` takes
 *   `/static/…`, not `/staticky`), a weighted canary measured within a binomial band, a header
 *   match, a redirect that replaces the matched prefix, a rewrite the backend sees; 404 for the rest;
 * - a TLSRoute: TLS passed through by SNI to a server that terminates TLS itself (on the external
 *   host, behind a Service without selector);
 * - a TCPRoute to a line echo;
 * - HTTPS with a certificate from a Secret in another namespace: refused without a ReferenceGrant
 *   (listener ResolvedRefs=False RefNotPermitted, nothing served on the port), served once one
 *   exists (the gateway then holds kubernetes-gateway://<ns>/<name>).
 * Backends are testapp pods outside the mesh; who answered is in their JSON.
 */
import type net from "node:net";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_PORT, testappDeployment, testappService } from "../support/bookinfo.js";
import { binomialBand } from "../support/backend.js";
import { TestCerts, startTlsBackend, type TlsBackend } from "../support/certs.js";
import { applyObjects, envoyAdmin, podNames, requestFromExternal, rollout, serviceIP } from "../support/cluster-apps.js";
import { clusterTestsSkipped, eventually, useCluster, type TestCluster } from "../support/cluster.js";
import { connectInNetns, listenInNetns } from "../support/netns.js";

const G = "gateway.networking.k8s.io";
const APP = "gwapi-app";
const INFRA = "gwapi-infra";
const CERTS = "gwapi-certs";
/** A class of its own: other files of the run may create GatewayClasses of meshpilot's controller. */
const CLASS = "gwapi-test";
const GATEWAY = "edge";
/** meshpilot names the deployed Deployment and Service `<gateway>-<class>`, as Istio does. */
const DEPLOYED = `${GATEWAY}-${CLASS}`;
const TCP_PORT = 9000;
const TLS_PORT = 8443;
/** The external host's TLS server, the TLSRoute's backend. */
const EXTERNAL_TLS_PORT = 9443;
const PASSTHROUGH_HOST = "secure.example";
const SITE_HOST = "site.example";

interface Answer {
  service: string;
  version: string;
  path: string;
  host: string;
}
interface Cond {
  type: string;
  status: string;
  reason: string;
}
interface GatewayObject {
  status?: {
    addresses?: { type: string; value: string }[];
    conditions?: Cond[];
    listeners?: { name: string; attachedRoutes: number; conditions: Cond[] }[];
  };
}

const versionOf = (a: Answer) => `${a.service}/${a.version}`;

function gatewayObjects(): Record<string, unknown>[] {
  const all = { namespaces: { from: "All" } };
  return [
    { apiVersion: `${G}/v1`, kind: "GatewayClass", metadata: { name: CLASS }, spec: { controllerName: "meshpilot.io/gateway-controller" } },
    {
      apiVersion: `${G}/v1`,
      kind: "Gateway",
      metadata: { name: GATEWAY, namespace: INFRA },
      spec: {
        gatewayClassName: CLASS,
        listeners: [
          { name: "http", port: 80, protocol: "HTTP", allowedRoutes: all },
          {
            name: "https",
            port: 443,
            protocol: "HTTPS",
            hostname: SITE_HOST,
            tls: { mode: "Terminate", certificateRefs: [{ kind: "Secret", name: "site-cert", namespace: CERTS }] },
            allowedRoutes: all,
          },
          { name: "tls", port: TLS_PORT, protocol: "TLS", tls: { mode: "Passthrough" }, allowedRoutes: all },
          { name: "tcp", port: TCP_PORT, protocol: "TCP", allowedRoutes: all },
        ],
      },
    },
  ];
}

function appObjects(image: string, externalIP: string): Record<string, unknown>[] {
  const app = (name: string, version: string, extra: string[] = []) =>
    testappDeployment(APP, `${name}-${version}`, { app: name, version }, name, ["-service", name, "-version", version, ...extra], image);
  const versioned = (name: string, version: string) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `${name}-${version}`, namespace: APP },
    spec: { selector: { app: name, version }, ports: [{ name: "http", port: APP_PORT, targetPort: APP_PORT }] },
  });
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: APP } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: INFRA } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: CERTS } },
    testappService(APP, "productpage"),
    app("productpage", "v1"),
    versioned("reviews", "v1"),
    versioned("reviews", "v2"),
    app("reviews", "v1"),
    app("reviews", "v2"),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "echo", namespace: APP },
      spec: { selector: { app: "echo" }, ports: [{ name: "tcp", port: TCP_PORT, targetPort: TCP_PORT }] },
    },
    app("echo", "v1", ["-tcp-echo-port", String(TCP_PORT)]),
    // The TLSRoute's backend terminates TLS itself, on the external host: a Service without
    // selector and the EndpointSlice a user writes for it.
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "secure-backend", namespace: APP },
      spec: { ports: [{ name: "tls", port: 443, targetPort: EXTERNAL_TLS_PORT }] },
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "secure-backend-external", namespace: APP, labels: { "kubernetes.io/service-name": "secure-backend" } },
      addressType: "IPv4",
      ports: [{ name: "tls", port: EXTERNAL_TLS_PORT, protocol: "TCP" }],
      endpoints: [{ addresses: [externalIP], conditions: { ready: true } }],
    },
  ];
}

function routeObjects(): Record<string, unknown>[] {
  const parent = (sectionName: string) => [{ name: GATEWAY, namespace: INFRA, sectionName }];
  const backend = (name: string, weight?: number) => ({ name, port: APP_PORT, ...(weight !== undefined ? { weight } : {}) });
  return [
    {
      apiVersion: `${G}/v1`,
      kind: "HTTPRoute",
      metadata: { name: "bookinfo", namespace: APP },
      spec: {
        parentRefs: parent("http"),
        hostnames: ["bookinfo.example"],
        rules: [
          {
            matches: [{ path: { type: "Exact", value: "/productpage" } }, { path: { type: "PathPrefix", value: "/static" } }],
            backendRefs: [backend("productpage")],
          },
          {
            matches: [{ path: { type: "PathPrefix", value: "/reviews" }, headers: [{ name: "end-user", value: "jason" }] }],
            backendRefs: [backend("reviews-v2")],
          },
          { matches: [{ path: { type: "PathPrefix", value: "/reviews" } }], backendRefs: [backend("reviews-v1", 80), backend("reviews-v2", 20)] },
          {
            matches: [{ path: { type: "PathPrefix", value: "/old" } }],
            filters: [{ type: "RequestRedirect", requestRedirect: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/new" }, statusCode: 301 } }],
          },
          {
            matches: [{ path: { type: "PathPrefix", value: "/api" } }],
            filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v1" } } }],
            backendRefs: [backend("productpage")],
          },
        ],
      },
    },
    {
      apiVersion: `${G}/v1`,
      kind: "HTTPRoute",
      metadata: { name: "site", namespace: APP },
      spec: { parentRefs: parent("https"), rules: [{ backendRefs: [backend("productpage")] }] },
    },
    {
      apiVersion: `${G}/v1`,
      kind: "TLSRoute",
      metadata: { name: "secure", namespace: APP },
      spec: { parentRefs: parent("tls"), hostnames: [PASSTHROUGH_HOST], rules: [{ backendRefs: [{ name: "secure-backend", port: 443 }] }] },
    },
    {
      apiVersion: `${G}/v1alpha2`,
      kind: "TCPRoute",
      metadata: { name: "echo", namespace: APP },
      spec: { parentRefs: parent("tcp"), rules: [{ backendRefs: [{ name: "echo", port: TCP_PORT }] }] },
    },
  ];
}

describe.skipIf(clusterTestsSkipped)("Kubernetes Gateway API: a Gateway deployed by meshpilot, HTTP/TLS/TCP routes", () => {
  let c: TestCluster;
  let gatewayIP = "";
  let gatewayPod = "";
  const certs = new TestCerts("mp-gwapi-");
  let tlsServer: TlsBackend | undefined;
  let listening: net.Server | undefined;
  const pem = (f: string) => readFileSync(certs.path(f), "utf8");

  const gatewayStatus = async () => (await c.json<GatewayObject>(["-n", INFRA, "get", "gateway", GATEWAY])).status ?? {};
  const listener = async (name: string) => {
    const l = (await gatewayStatus()).listeners?.find((x) => x.name === name);
    return Object.fromEntries((l?.conditions ?? []).map((x) => [x.type, `${x.status}/${x.reason}`]));
  };
  const http = (path: string, host = "bookinfo.example", headers: Record<string, string> = {}) =>
    requestFromExternal(c, gatewayIP, 80, path, { host, headers, timeoutMs: 5000 });
  const answer = (body: string) => JSON.parse(body) as Answer;

  beforeAll(async () => {
    c = await useCluster();
    certs.leaf("site", `DNS:${SITE_HOST}`).leaf("server", `DNS:${PASSTHROUGH_HOST}`);
    listening = await listenInNetns(c.cfg.netnsExternal, c.cfg.externalIP, EXTERNAL_TLS_PORT);
    tlsServer = await startTlsBackend(certs, c.cfg.externalIP, EXTERNAL_TLS_PORT, "external-tls", false, listening);

    await applyObjects(c, "gwapi-apps", appObjects(c.images.byName["testapp"]!, c.cfg.externalIP));
    // The certificate lives in its own namespace; no ReferenceGrant yet.
    await applyObjects(c, "gwapi-cert", [
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "site-cert", namespace: CERTS },
        type: "kubernetes.io/tls",
        data: { "tls.crt": certs.b64("site.pem"), "tls.key": certs.b64("site-key.pem") },
      },
    ]);
    await applyObjects(c, "gwapi-gateway", gatewayObjects());
    await applyObjects(c, "gwapi-routes", routeObjects());
    for (const d of ["productpage-v1", "reviews-v1", "reviews-v2", "echo-v1"]) await rollout(c, APP, d);
    // meshpilot (its status leader) creates the gateway's Deployment and Service.
    await eventually("meshpilot deploys the gateway", async () => (await podNames(c, INFRA, `${G}/gateway-name=${GATEWAY}`)).length > 0, 120_000, 1000);
    await rollout(c, INFRA, DEPLOYED);
    gatewayPod = (await podNames(c, INFRA, `${G}/gateway-name=${GATEWAY}`))[0]!;
    gatewayIP = await serviceIP(c, INFRA, DEPLOYED);
    let last = "";
    try {
      await eventually(
        "productpage through the gateway",
        async () => {
          const r = await http("/productpage");
          last = `${r.status} ${r.body.slice(0, 200)}`;
          return r.status === 200;
        },
        180_000,
        1000,
      );
    } catch (err) {
      // What the gateway holds and what meshpilot said, to tell a routing bug from a slow start.
      const show = async (what: string, f: () => Promise<string>) => console.error(`--- ${what}\n${await f().catch((e: Error) => e.message)}`);
      await show("last answer", async () => last);
      await show("gateway objects", () => c.kubectl(["-n", INFRA, "get", "pods,services,endpointslices", "-o", "wide"]));
      await show("gateway counters", () => envoyAdmin(c, INFRA, gatewayPod, "envoy", "/stats?filter=downstream_cx_total|downstream_rq_[0-9]xx"));
      await show("gateway listeners", () => envoyAdmin(c, INFRA, gatewayPod, "envoy", "/listeners"));
      await show("gateway clusters", async () => (await envoyAdmin(c, INFRA, gatewayPod, "envoy", "/clusters")).slice(0, 3000));
      await show("gateway routes", async () => (await envoyAdmin(c, INFRA, gatewayPod, "envoy", "/config_dump?resource=dynamic_route_configs")).slice(0, 6000));
      await show("gateway log", () => c.kubectl(["-n", INFRA, "logs", gatewayPod, "--tail=40"]));
      await show("meshpilot log", () => c.kubectl(["-n", "meshpilot-system", "logs", "deployment/meshpilot", "--tail=60"]));
      throw err;
    }
  });

  afterAll(async () => {
    await tlsServer?.close();
    listening?.close();
    certs.remove();
    if (c) {
      await c.kubectl(["delete", "namespace", APP, INFRA, CERTS, "--wait=false", "--ignore-not-found"]);
      await c.kubectl(["delete", "gatewayclass", CLASS, "--wait=false", "--ignore-not-found"]);
    }
  });

  it("deploys the gateway for the Gateway (owned by it) and writes its address and conditions", async () => {
    const deployment = await c.json<{ metadata: { ownerReferences?: { kind: string; name: string; controller?: boolean }[] } }>([
      "-n",
      INFRA,
      "get",
      "deployment",
      DEPLOYED,
    ]);
    expect(deployment.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Gateway", name: GATEWAY, controller: true })]);
    const st = await eventually(
      "the Gateway's address and Programmed",
      async () => {
        const s = await gatewayStatus();
        return s.addresses?.length && s.conditions?.some((x) => x.type === "Programmed" && x.status === "True") ? s : undefined;
      },
      60_000,
    );
    expect(st.addresses).toEqual([{ type: "IPAddress", value: gatewayIP }]);
    const klass = await c.json<{ status?: { conditions?: Cond[] } }>(["get", "gatewayclass", CLASS]);
    expect(klass.status?.conditions).toContainEqual(expect.objectContaining({ type: "Accepted", status: "True" }));
    expect(await listener("http")).toMatchObject({ Accepted: "True/Accepted", Programmed: "True/Programmed", ResolvedRefs: "True/ResolvedRefs" });
    expect(st.listeners?.find((l) => l.name === "http")?.attachedRoutes).toBe(1);
  });

  it("routes the bookinfo ingress: exact and segment-prefix paths, 404 for the rest", async () => {
    const page = await http("/productpage");
    expect(page.status).toBe(200);
    expect(versionOf(answer(page.body))).toBe("productpage/v1");
    const asset = await http("/static/style.css");
    expect(asset.status).toBe(200);
    expect(answer(asset.body).path).toBe("/static/style.css");
    // A PathPrefix matches whole segments: /staticky is not under /static.
    expect((await http("/staticky")).status).toBe(404);
    expect((await http("/productpage/more")).status).toBe(404);
    expect((await http("/nothing-here")).status).toBe(404);
    // Another host: no route.
    expect((await http("/productpage", "other.example")).status).toBe(404);
  });

  it("splits /reviews 80/20 between v1 and v2 (binomial band), and sends jason to v2 only", async () => {
    const n = 200;
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await http("/reviews");
      expect(r.status).toBe(200);
      const v = versionOf(answer(r.body));
      counts[v] = (counts[v] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(["reviews/v1", "reviews/v2"]);
    const band = binomialBand(n, 0.2);
    expect(counts["reviews/v2"]).toBeGreaterThanOrEqual(band.lo);
    expect(counts["reviews/v2"]).toBeLessThanOrEqual(band.hi);
    for (let i = 0; i < 20; i++) expect(versionOf(answer((await http("/reviews", "bookinfo.example", { "end-user": "jason" })).body))).toBe("reviews/v2");
  });

  it("redirects /old/… to /new/… (the matched prefix replaced) and rewrites /api/… to /v1/… for the backend", async () => {
    const moved = await http("/old/page?x=1");
    expect(moved.status).toBe(301);
    // The request's port is kept (spelled out or not, it is the scheme's default here).
    expect(new URL(moved.headers["location"]!).href).toBe("http://bookinfo.example/new/page?x=1");
    const rewritten = await http("/api/items");
    expect(rewritten.status).toBe(200);
    expect(answer(rewritten.body)).toMatchObject({ service: "productpage", path: "/v1/items" });
  });

  it("passes TLS through by SNI to a backend that terminates it (TLSRoute)", async () => {
    const r = await eventually("TLS passthrough", () =>
      requestFromExternal(c, gatewayIP, TLS_PORT, "/hello", {
        host: PASSTHROUGH_HOST,
        timeoutMs: 5000,
        tls: { servername: PASSTHROUGH_HOST, ca: pem("ca.pem") },
      }),
    );
    expect(r.status).toBe(200);
    // The backend answered, over a handshake verified for secure.example: only the backend holds
    // that certificate, so the gateway did not terminate.
    expect(r.headers["x-backend-version"]).toBe("external-tls");
    expect(tlsServer!.requests.some((q) => q.sni === PASSTHROUGH_HOST && q.path === "/hello")).toBe(true);
  });

  it("forwards a TCP connection to the echo backend (TCPRoute)", async () => {
    const line = await eventually("TCP echo through the gateway", async () => {
      const socket = await connectInNetns(c.cfg.netnsExternal, gatewayIP, TCP_PORT);
      try {
        return await new Promise<string>((resolve, reject) => {
          let got = "";
          socket.setTimeout(5000, () => reject(new Error("no echo within 5 s")));
          socket.on("data", (d: Buffer) => {
            got += d.toString();
            if (got.includes("\n")) resolve(got.trim());
          });
          socket.on("error", reject);
          socket.write("hello gateway\n");
        });
      } finally {
        socket.destroy();
      }
    });
    expect(line).toBe("echo/v1 hello gateway");
  });

  it("refuses a certificate in another namespace without a ReferenceGrant, and serves it with one", async () => {
    // Refused: the listener says why, and nothing is served on its port.
    expect(
      await eventually("https RefNotPermitted", async () => ((await listener("https"))["ResolvedRefs"] === "False/RefNotPermitted" ? true : undefined)),
    ).toBe(true);
    expect(await listener("https")).toMatchObject({ Programmed: "False/Invalid" });
    const site = () => requestFromExternal(c, gatewayIP, 443, "/", { host: SITE_HOST, timeoutMs: 5000, tls: { servername: SITE_HOST, ca: pem("ca.pem") } });
    await expect(site()).rejects.toThrow();
    const secrets = async () => envoyAdmin(c, INFRA, gatewayPod, "envoy", "/config_dump?resource=dynamic_active_secrets");
    expect(await secrets()).not.toContain(`kubernetes-gateway://${CERTS}/site-cert`);

    await applyObjects(c, "gwapi-grant", [
      {
        apiVersion: `${G}/v1`,
        kind: "ReferenceGrant",
        metadata: { name: "gateways-from-infra", namespace: CERTS },
        spec: { from: [{ group: G, kind: "Gateway", namespace: INFRA }], to: [{ group: "", kind: "Secret", name: "site-cert" }] },
      },
    ]);
    const served = await eventually("HTTPS with the granted certificate", async () => {
      const r = await site();
      return r.status === 200 ? r : undefined;
    });
    // The handshake was verified for site.example against the test CA: only site-cert carries it.
    expect(versionOf(answer(served.body))).toBe("productpage/v1");
    expect(await eventually("https ResolvedRefs", async () => ((await listener("https"))["ResolvedRefs"] === "True/ResolvedRefs" ? true : undefined))).toBe(
      true,
    );
    expect(await listener("https")).toMatchObject({ Programmed: "True/Programmed" });
    expect(await secrets()).toContain(`kubernetes-gateway://${CERTS}/site-cert`);
  });
});
