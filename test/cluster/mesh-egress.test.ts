/**
 * Egress of injected pods in the local cluster: a namespace-scoping Sidecar (egress `./*`,
 * REGISTRY_ONLY) takes other namespaces' services away from its proxies and blocks hosts outside
 * the registry; a ServiceEntry opens the cluster's external host again, and one with DNS
 * resolution plus a DestinationRule's TLS origination reaches an HTTPS server the test starts on
 * that host (in the cluster's external network namespace, which the run created). Who answered
 * says where a request went; Envoy's cluster list says what a proxy received.
 */
import type net from "node:net";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { APP_PORT, testappDeployment, testappService } from "../support/bookinfo.js";
import { TestCerts, startTlsBackend, type TlsBackend } from "../support/certs.js";
import { clusterTestsSkipped, eventually, useCluster, type TestCluster } from "../support/cluster.js";
import { listenInNetns } from "../support/netns.js";

const SCOPED = "egress-scoped";
const OTHER = "egress-other";
const TLS_PORT = 8443;

interface One {
  status?: number;
  body?: { service: string; version: string };
  text?: string;
  error?: string;
}

const workload = (ns: string, name: string, image: string) => [
  testappService(ns, name),
  testappDeployment(ns, name, { app: name }, "app", ["-service", name], image),
];

describe.skipIf(clusterTestsSkipped)("egress of injected pods: Sidecar scope, REGISTRY_ONLY, ServiceEntry", () => {
  let c: TestCluster;
  let caller: string;
  let certs: TestCerts | undefined;
  let https: TlsBackend | undefined;
  let listening: net.Server | undefined;

  const apply = async (name: string, objects: Record<string, unknown>[]) => {
    const file = c.cfg.path("manifests", `egress-${name}.yaml`);
    writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
    await c.kubectl(["apply", "-f", file]);
  };
  /** `n` requests from the caller's application container: its traffic is captured by its sidecar. */
  const send = async (url: string, n = 1): Promise<One[]> => {
    const out = await c.exec(SCOPED, caller, "app", ["testapp", "client", "-each", "-n", String(n), "-timeout-ms", "5000", url], { timeoutMs: 120_000 });
    return out
      .trim()
      .split("\n")
      .slice(0, -1)
      .map((l) => JSON.parse(l) as One);
  };
  const answeredBy = (ones: One[]) => ones.map((o) => o.body?.service ?? o.text?.trim() ?? `status ${o.status ?? o.error}`);
  /** The names of the clusters the caller's Envoy has. */
  const envoyClusters = async () =>
    new Set(
      (await c.exec(SCOPED, caller, "istio-proxy", ["wget", "-qO-", "http://127.0.0.1:15000/clusters"]))
        .split("\n")
        .map((l) => l.split("::")[0]!)
        .filter(Boolean),
    );
  /** The caller's Envoy's active config of one cluster, as its admin port dumps it. */
  const envoyCluster = (name: string) =>
    c.exec(SCOPED, caller, "istio-proxy", [
      "wget",
      "-qO-",
      `http://127.0.0.1:15000/config_dump?resource=dynamic_active_clusters&name_regex=${encodeURIComponent(name.replace(/[|.]/g, "\\$&"))}`,
    ]);
  const svcCluster = (name: string, ns: string, port = APP_PORT) => `outbound|${port}||${name}.${ns}.svc.${c.cfg.clusterDomain}`;
  const external = () => `http://${c.cfg.externalHost}/`;

  beforeAll(async () => {
    c = await useCluster();
    const image = c.images.byName["testapp"]!;
    await apply("workloads", [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: SCOPED, labels: { "istio-injection": "enabled" } } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: OTHER, labels: { "istio-injection": "enabled" } } },
      ...workload(SCOPED, "caller", image),
      ...workload(SCOPED, "local", image),
      ...workload(OTHER, "far", image),
    ]);
    for (const [ns, d] of [
      [SCOPED, "caller"],
      [SCOPED, "local"],
      [OTHER, "far"],
    ] as const) {
      await c.kubectl(["-n", ns, "rollout", "status", `deployment/${d}`, "--timeout=240s"], { timeoutMs: 260_000 });
    }
    const pods = await c.json<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>(["-n", SCOPED, "get", "pods", "-l", "app=caller"]);
    caller = pods.items.find((p) => !p.metadata.deletionTimestamp)!.metadata.name;
    await eventually(
      "the caller's sidecar routes to far",
      async () => answeredBy(await send(`http://far.${OTHER}:${APP_PORT}/`)).join() === "far",
      120_000,
      1000,
    );
  });

  afterAll(async () => {
    await https?.close();
    listening?.close();
    certs?.remove();
    if (c) await c.kubectl(["delete", "namespace", SCOPED, OTHER, "--wait=false", "--ignore-not-found"]);
  });

  it("without a Sidecar (ALLOW_ANY), reaches other namespaces' services and the external host", async () => {
    expect((await envoyClusters()).has(svcCluster("far", OTHER))).toBe(true);
    expect(answeredBy(await send(`http://far.${OTHER}:${APP_PORT}/`, 3))).toEqual(["far", "far", "far"]);
    // Not in the registry: through PassthroughCluster to the address the application dialled.
    expect(answeredBy(await send(external()))).toEqual([`external host of cluster ${c.cfg.name}`]);
  });

  it("with a namespace-scoping REGISTRY_ONLY Sidecar, neither receives nor reaches other namespaces' services, nor the external host", async () => {
    await apply("sidecar", [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "Sidecar",
        metadata: { name: "default", namespace: SCOPED },
        spec: { egress: [{ hosts: ["./*"] }], outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } },
      },
    ]);
    const clusters = await eventually("far's cluster gone from the caller's Envoy", async () => {
      const now = await envoyClusters();
      return now.has(svcCluster("far", OTHER)) ? undefined : now;
    });
    // It keeps its own namespace, and nothing of another one.
    expect(clusters.has(svcCluster("local", SCOPED))).toBe(true);
    const domain = `.svc.${c.cfg.clusterDomain}`;
    expect([...clusters].filter((n) => n.startsWith("outbound|") && n.endsWith(domain) && !n.endsWith(`.${SCOPED}${domain}`))).toEqual([]);
    expect(clusters.has("BlackHoleCluster")).toBe(true);

    expect(answeredBy(await send(`http://local.${SCOPED}:${APP_PORT}/`, 3))).toEqual(["local", "local", "local"]);
    const far = await send(`http://far.${OTHER}:${APP_PORT}/`, 3);
    for (const one of far) expect(one.body?.service, JSON.stringify(one)).toBeUndefined();
    // The external host is in no registry entry: blocked.
    const ext = await send(external(), 3);
    for (const one of ext) expect(one.text ?? "", JSON.stringify(one)).not.toContain("external host");
    // The far pod's own proxy is not scoped by a Sidecar in another namespace.
    const farPod = (await c.json<{ items: { metadata: { name: string } }[] }>(["-n", OTHER, "get", "pods", "-l", "app=far"])).items[0]!.metadata.name;
    const farClusters = await c.exec(OTHER, farPod, "istio-proxy", ["wget", "-qO-", "http://127.0.0.1:15000/clusters"]);
    expect(farClusters).toContain(`${svcCluster("caller", SCOPED)}::`);
  });

  it("opens the external host's port 80 to the scoped namespace with a ServiceEntry", async () => {
    await apply("serviceentry", [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "ServiceEntry",
        metadata: { name: "external", namespace: SCOPED },
        spec: { hosts: [c.cfg.externalHost], location: "MESH_EXTERNAL", resolution: "DNS", ports: [{ number: 80, name: "http", protocol: "HTTP" }] },
      },
    ]);
    const ones = await eventually("the external host through its ServiceEntry", async () => {
      const r = await send(external(), 3);
      return r.every((o) => o.status === 200) ? r : undefined;
    });
    expect(answeredBy(ones)).toEqual(Array(3).fill(`external host of cluster ${c.cfg.name}`));
    expect((await envoyClusters()).has(`outbound|80||${c.cfg.externalHost}`)).toBe(true);
  });

  it("originates TLS to the external host for a DNS ServiceEntry's port (DestinationRule tls SIMPLE)", async () => {
    certs = new TestCerts("mp-egress-");
    certs.leaf("server", `DNS:${c.cfg.externalHost}`);
    listening = await listenInNetns(c.cfg.netnsExternal, c.cfg.externalIP, TLS_PORT);
    https = await startTlsBackend(certs, c.cfg.externalIP, TLS_PORT, "external-tls", false, listening);
    await apply("serviceentry", [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "ServiceEntry",
        metadata: { name: "external", namespace: SCOPED },
        spec: {
          hosts: [c.cfg.externalHost],
          location: "MESH_EXTERNAL",
          resolution: "DNS",
          ports: [
            { number: 80, name: "http", protocol: "HTTP" },
            // The application speaks plain HTTP to this port; its sidecar speaks TLS to the host.
            { number: TLS_PORT, name: "http-tls-origination", protocol: "HTTP" },
          ],
        },
      },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name: "external", namespace: SCOPED },
        spec: {
          host: c.cfg.externalHost,
          trafficPolicy: {
            portLevelSettings: [
              // The test's CA is not in the sidecar image: skipping verification is said, as Istio requires.
              { port: { number: TLS_PORT }, tls: { mode: "SIMPLE", sni: c.cfg.externalHost, insecureSkipVerify: true } },
            ],
          },
        },
      },
    ]);
    const ones = await eventually("the HTTPS server through the sidecar", async () => {
      const r = await send(`http://${c.cfg.externalHost}:${TLS_PORT}/tls`, 3);
      return r.every((o) => o.status === 200) ? r : undefined;
    });
    expect(ones.map((o) => o.text)).toEqual(["ok\n", "ok\n", "ok\n"]);
    // The server got TLS, with the SNI the DestinationRule set. Should it not, the message carries
    // what the caller's Envoy holds for that cluster, to tell a translation fault from Envoy's.
    expect(https.requests.length).toBeGreaterThanOrEqual(3);
    const last = https.requests.slice(-3);
    const sniSeen = last.every((r) => r.sni === c.cfg.externalHost);
    const held = sniSeen ? "" : await envoyCluster(`outbound|${TLS_PORT}||${c.cfg.externalHost}`);
    expect(last, held).toEqual(Array(3).fill({ path: "/tls", sni: c.cfg.externalHost }));
  });
});
