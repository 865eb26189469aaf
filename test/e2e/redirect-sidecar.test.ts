/**
 * A REDIRECT sidecar end to end without a cluster: a pod-like network namespace with the capture
 * rules the injected init container installs (the same script), an application (uid 1000) and a
 * real Envoy running as uid 1337 that gets its config from meshpilot on the host (through the
 * bridge's reverse direction), and a peer namespace holding the other workloads.
 *
 *   - the application's plain `http://<reviews cluster IP>:9080/` is captured to 15001, handed to
 *     `0.0.0.0_9080` and routed by the VirtualService (a header picks v2, the rest get v1);
 *   - a request from the peer to the pod's IP is captured to 15006 and reaches the application
 *     through `inbound|8080||` (Envoy's stats count it; the application sees 127.0.0.6);
 *   - a destination outside the registry is passed through under ALLOW_ANY and blocked under
 *     REGISTRY_ONLY (virtualOutbound's catch-all, and the `block_all` 502 for HTTP), while raw
 *     TCP to a service port that names no protocol still reaches the service (sniffing listener);
 *   - a Sidecar's ingress listeners replace the Service's port: 9000 goes to the application's
 *     loopback socket (`defaultEndpoint: 127.0.0.1:8081`), 9001 to the pod's own 8080
 *     (`0.0.0.0:8080`), and 8080 itself only passes through.
 *
 * Topology (both namespaces made here): "pod" 10.99.2.2 ⇄ veth ⇄ "peer" 10.99.2.1 (+ .11, .12).
 * The host's own network is never touched.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureConfig } from "../../src/inject/capture-config.js";
import { captureScript } from "../../src/inject/iptables.js";
import { DEFAULT_INJECTION_SETTINGS } from "../../src/inject/settings.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { buildBootstrap } from "../../src/translate/bootstrap.js";
import { Envoy } from "../support/envoy.js";
import { NetNs, netnsAvailable, type Bridge } from "../support/netns.js";
import { until } from "../support/wait.js";

const ci = process.env["CI"] === "true";
const available = netnsAvailable();
const PY = "/usr/bin/python3";
const PROXY_UID = 1337;
const APP_UID = 1000;

const POD_IP = "10.99.2.2";
const PEER_IP = "10.99.2.1";
const REVIEWS_V1 = "10.99.2.11";
const REVIEWS_V2 = "10.99.2.12";
const REVIEWS_VIP = "10.96.7.20";
const OUTSIDE_PORT = 7777;
const LEGACY_VIP = "10.96.7.40";

// An HTTP server per "name=host:port" argument; it answers "<name> <client address> <end-user>".
const SERVER = `
import http.server, socketserver, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s %s" % (self.server.name, self.client_address[0], self.headers.get("end-user", "-"))).encode()
        self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True
for spec in sys.argv[1:]:
    name, addr = spec.split("=")
    host, port = addr.rsplit(":", 1)
    s = S((host, int(port)), H); s.name = name
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
`;
// A raw TCP service (the client speaks first): answers "legacy <client address>" to whatever it gets.
const RAW_SERVER = `
import socketserver, sys
class H(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(100); self.request.sendall(("legacy %s" % self.client_address[0]).encode())
class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True; allow_reuse_address = True
host, port = sys.argv[1].rsplit(":", 1)
s = S((host, int(port)), H)
print("ready", flush=True)
s.serve_forever()
`;
// Raw bytes that are no HTTP to host:port; prints the answer, or "ERR <reason>".
const RAW_CLIENT = `
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
try:
    c = socket.create_connection((host, int(port)), timeout=5); c.sendall(b"\\x00\\x01 not http\\r\\n\\r\\n")
    print(c.recv(100).decode() or "ERR closed")
except Exception as e:
    print("ERR", type(e).__name__)
`;
// One GET; prints "<status> <body>", or "ERR <reason>" when no HTTP answer came.
const CLIENT = `
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers=dict(h.split(":", 1) for h in sys.argv[2:]))
try:
    r = urllib.request.urlopen(req, timeout=5); print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print("ERR", type(e).__name__)
`;

function mesh(): string {
  const pod = (name: string, ip: string, labels: Record<string, string>) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: shop, labels: ${JSON.stringify(labels)} }
spec: { containers: [{ name: app, image: example/app }] }
status: { phase: Running, podIP: ${ip}, podIPs: [{ ip: ${ip} }] }`;
  const endpoint = (ip: string, podName: string) => `
  - addresses: ["${ip}"]
    conditions: { ready: true, serving: true, terminating: false }
    targetRef: { kind: Pod, name: ${podName}, namespace: shop }`;
  return [
    `apiVersion: v1
kind: Namespace
metadata: { name: shop }`,
    `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: shop }
spec: { clusterIP: ${REVIEWS_VIP}, selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }`,
    `apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: shop }
spec: { clusterIP: ${LEGACY_VIP}, selector: { app: legacy }, ports: [{ port: 7000 }] }`,
    pod("legacy-1", REVIEWS_V1, { app: "legacy" }),
    `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: legacy-1, namespace: shop, labels: { kubernetes.io/service-name: legacy } }
addressType: IPv4
ports: [{ port: 7000, protocol: TCP }]
endpoints:${endpoint(REVIEWS_V1, "legacy-1")}`,
    `apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: shop }
spec: { clusterIP: 10.96.7.30, selector: { app: ratings }, ports: [{ name: http, port: 80, targetPort: 8080 }] }`,
    pod("reviews-v1", REVIEWS_V1, { app: "reviews", version: "v1" }),
    pod("reviews-v2", REVIEWS_V2, { app: "reviews", version: "v2" }),
    pod("ratings-1", POD_IP, { app: "ratings" }),
    `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: reviews-1, namespace: shop, labels: { kubernetes.io/service-name: reviews } }
addressType: IPv4
ports: [{ name: http, port: 9080, protocol: TCP }]
endpoints:${endpoint(REVIEWS_V1, "reviews-v1")}${endpoint(REVIEWS_V2, "reviews-v2")}`,
    `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ratings-1, namespace: shop, labels: { kubernetes.io/service-name: ratings } }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:${endpoint(POD_IP, "ratings-1")}`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: shop }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec:
  hosts: [reviews]
  http:
    - match: [{ headers: { end-user: { exact: jason } } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
    - route: [{ destination: { host: reviews, subset: v1 } }]`,
  ].join("\n---\n");
}

async function startPython(ns: NetNs, servers: string[], script = SERVER): Promise<void> {
  const child = ns.spawn(PY, ["-c", script, ...servers]);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  await until(() => out.includes("ready"), `servers ${servers.join(", ")} in ${ns.name}: ${out}`, 10_000);
}

/** A GET from inside `ns`, as `uid` (0: root). */
async function get(ns: NetNs, uid: number, url: string, headers: string[] = []): Promise<string> {
  const cmd = [PY, "-c", CLIENT, url, ...headers];
  const full = uid === 0 ? cmd : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", ...cmd];
  return (await ns.execAsync(full[0]!, full.slice(1), 15_000)).trim();
}

describe.skipIf(!available && !ci)("REDIRECT sidecar in a network namespace", () => {
  let pod: NetNs;
  let peer: NetNs;
  let dir: string;
  const servers: RunningServer[] = [];
  const bridges: Bridge[] = [];
  const envoys: Envoy[] = [];

  /** meshpilot with this outboundTrafficPolicy, and a sidecar Envoy (uid 1337) in the pod connected to it at 127.0.0.1:`xdsPort`. */
  async function sidecar(mode: "ALLOW_ANY" | "REGISTRY_ONLY", xdsPort: number): Promise<Envoy> {
    const server = await startServer({
      configDir: dir,
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger: pino({ level: "silent" }),
      meshConfig: { outboundTrafficPolicy: { mode } },
    });
    servers.push(server);
    bridges.push(await pod.bridge({ reverse: [{ host: "127.0.0.1", port: xdsPort, to: server.xdsPort }] }));
    const built = buildBootstrap({
      node: { ip: POD_IP, podName: "ratings-1", namespace: "shop" },
      xdsAddress: `127.0.0.1:${xdsPort}`,
      labels: { app: "ratings" },
    });
    if (!built.bootstrap) throw new Error(JSON.stringify(built.errors));
    const bootstrap = { ...(built.bootstrap as Record<string, unknown>) };
    delete bootstrap["admin"]; // the helper binds admin on an ephemeral port and bridges it to the host
    const envoy = await Envoy.start({ name: `sidecar-${mode}`, bootstrap, netns: pod, runAs: PROXY_UID });
    envoys.push(envoy);
    await envoy.waitReady();
    await envoy.waitFor(async () => JSON.stringify(await envoy.configDump("dynamic_listeners")).includes('"virtualInbound"'), {
      what: "virtualInbound from meshpilot",
    });
    return envoy;
  }

  beforeAll(async () => {
    if (ci && !available) throw new Error("CI=true but network namespaces cannot be created here (need root, iproute2, nsenter)");
    pod = NetNs.create("mp-redir-pod");
    peer = NetNs.create("mp-redir-peer");
    pod.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer.name);
    pod.ip("addr", "add", `${POD_IP}/24`, "dev", "eth0");
    for (const ip of [PEER_IP, REVIEWS_V1, REVIEWS_V2]) peer.ip("addr", "add", `${ip}/24`, "dev", "eth0");
    pod.ip("link", "set", "eth0", "up");
    peer.ip("link", "set", "eth0", "up");
    // The cluster IP is virtual: it only has to leave the pod, where the capture rules take it.
    pod.ip("route", "add", "10.96.0.0/16", "dev", "eth0");
    const cfg = captureConfig(DEFAULT_INJECTION_SETTINGS, {});
    if (!cfg.config) throw new Error(JSON.stringify(cfg.errors));
    pod.exec("busybox", ["sh", "-c", captureScript(cfg.config)]);
    await startPython(pod, [`ratings=0.0.0.0:8080`, `local=127.0.0.1:8081`]);
    await startPython(peer, [`${REVIEWS_V1}:7000`], RAW_SERVER);
    await startPython(peer, [`reviews-v1=${REVIEWS_V1}:9080`, `reviews-v2=${REVIEWS_V2}:9080`, `outside=${PEER_IP}:${OUTSIDE_PORT}`]);
    dir = mkdtempSync(join(tmpdir(), "meshpilot-redirect-"));
    writeFileSync(join(dir, "mesh.yaml"), mesh());
  }, 60_000);

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    for (const b of bridges) await b.close();
    for (const s of servers) await s.stop();
    pod?.destroy();
    peer?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("routes the application's captured calls by the VirtualService and brings inbound calls through 15006", async () => {
    const envoy = await sidecar("ALLOW_ANY", 15010);
    const url = `http://${REVIEWS_VIP}:9080/`;
    // Routes reach Envoy a little after its listeners: retry until the first answer.
    await until(async () => (await get(pod, APP_UID, url)).startsWith("200 "), "reviews through the sidecar", 20_000, 200);
    expect(await get(pod, APP_UID, url)).toBe(`200 reviews-v1 ${POD_IP} -`);
    expect(await get(pod, APP_UID, url, ["end-user:jason"])).toBe(`200 reviews-v2 ${POD_IP} jason`);
    expect(await envoy.stat("cluster.outbound|9080|v2|reviews.shop.svc.cluster.local.upstream_rq_total")).toBeGreaterThanOrEqual(1);

    // Inbound: the peer calls the pod's address; the application sees Envoy's 127.0.0.6.
    const before = (await envoy.stat("cluster.inbound|8080||.upstream_rq_total")) ?? 0;
    expect(await get(peer, 0, `http://${POD_IP}:8080/`)).toBe("200 ratings 127.0.0.6 -");
    expect(await envoy.stat("cluster.inbound|8080||.upstream_rq_total")).toBe(before + 1);

    // ALLOW_ANY: a destination outside the registry is passed through (virtualOutbound's catch-all).
    expect(await get(pod, APP_UID, `http://${PEER_IP}:${OUTSIDE_PORT}/`)).toBe(`200 outside ${POD_IP} -`);
    expect(await envoy.stat("cluster.PassthroughCluster.upstream_cx_total")).toBeGreaterThanOrEqual(1);
    await envoy.stop();
  }, 120_000);

  it("blocks destinations outside the registry under REGISTRY_ONLY", async () => {
    const envoy = await sidecar("REGISTRY_ONLY", 15011);
    const url = `http://${REVIEWS_VIP}:9080/`;
    await until(async () => (await get(pod, APP_UID, url)).startsWith("200 "), "reviews through the sidecar", 20_000, 200);
    // The registry still routes; the unknown IP gets no connection through.
    expect(await get(pod, APP_UID, url)).toBe(`200 reviews-v1 ${POD_IP} -`);
    expect(await get(pod, APP_UID, `http://${PEER_IP}:${OUTSIDE_PORT}/`)).toMatch(/^ERR /);
    expect(await envoy.stat("cluster.BlackHoleCluster.upstream_cx_none_healthy")).toBeGreaterThanOrEqual(1);
    // An unknown host on an HTTP port of the mesh meets the block_all virtual host.
    expect(await get(pod, APP_UID, `http://${PEER_IP}:9080/`)).toBe("502");
    // A port that names no protocol is sniffed on its service's own listener: what is not HTTP
    // still goes to the service (Istio's <VIP>_<port>), not to the blocked catch-all.
    const raw = await pod.execAsync(
      "setpriv",
      [`--reuid=${APP_UID}`, `--regid=${APP_UID}`, "--clear-groups", PY, "-c", RAW_CLIENT, `${LEGACY_VIP}:7000`],
      15_000,
    );
    expect(raw.trim()).toBe(`legacy ${POD_IP}`);
    expect(await envoy.stat("cluster.outbound|7000||legacy.shop.svc.cluster.local.upstream_cx_total")).toBeGreaterThanOrEqual(1);
    await envoy.stop();
  }, 120_000);

  it("sends a Sidecar's ingress ports to their defaultEndpoints instead of the Service's port", async () => {
    writeFileSync(
      join(dir, "sidecar.yaml"),
      `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ratings, namespace: shop }
spec:
  workloadSelector: { labels: { app: ratings } }
  ingress:
    - { port: { number: 9000, protocol: HTTP, name: http-local }, defaultEndpoint: "127.0.0.1:8081" }
    - { port: { number: 9001, protocol: HTTP, name: http-pod }, defaultEndpoint: "0.0.0.0:8080" }
`,
    );
    const envoy = await sidecar("ALLOW_ANY", 15012);
    await until(async () => (await get(peer, 0, `http://${POD_IP}:9000/`)).startsWith("200 local"), "the ingress port 9000", 20_000, 200);
    // The loopback endpoint is not captured, so Envoy connects from 127.0.0.1 itself.
    expect(await get(peer, 0, `http://${POD_IP}:9000/`)).toBe("200 local 127.0.0.1 -");
    expect(await envoy.stat("cluster.inbound|9000||.upstream_rq_total")).toBeGreaterThanOrEqual(1);
    // 0.0.0.0:8080 is the pod's own address on 8080, reached from 127.0.0.6 like any inbound port.
    expect(await get(peer, 0, `http://${POD_IP}:9001/`)).toBe("200 ratings 127.0.0.6 -");
    expect(await envoy.stat("cluster.inbound|9001||.upstream_rq_total")).toBe(1);
    // The Service's port has no chain of its own any more: it passes through.
    expect(await get(peer, 0, `http://${POD_IP}:8080/`)).toBe("200 ratings 127.0.0.6 -");
    expect(await envoy.stat("cluster.inbound|8080||.upstream_rq_total")).toBeUndefined();
    await envoy.stop();
  }, 120_000);
});
