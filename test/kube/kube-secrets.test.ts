/**
 * DestinationRule `tls.credentialName` against a real kube-apiserver, with a real Envoy over
 * state-of-the-world ADS: meshpilot runs with the ServiceAccount and RBAC of deploy/, reads a
 * kubernetes.io/tls Secret created through the API and serves it over SDS; the backends accept
 * only clients with a certificate from the test CA. Updating the Secret through the API rotates
 * the client certificate of new connections without a restart; an invalid Secret is reported
 * (object, field, reason, never the value) and the last valid one stays; deleting the Secret puts
 * the finding into the DestinationRule's status. No private key reaches meshpilot's logs or its
 * debug endpoints.
 *
 * The tests in this file share one API server and run in order.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/api/diagnostics.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { httpRequest } from "../support/backend.js";
import { startTlsBackend, TestCerts, type TlsBackend } from "../support/certs.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster, type KubeTestClient } from "../support/kube.js";
import { createCanary, pickAddresses, PRODUCTPAGE_POD, stopKubeMesh, type KubeMeshNet } from "../support/kube-mesh.js";
import { until } from "../support/wait.js";

const NS = "secrets";
const SECRET = "reviews-client";
const MARKER = "not-a-key-but-secret-7f3c9a";

describe.skipIf(kubeTestsSkipped)("DestinationRule credentialName with a real kube-apiserver", () => {
  let kube: KubeCluster;
  let admin: KubeTestClient;
  let a: KubeMeshNet;
  let server: RunningServer | undefined;
  let envoy: Envoy | undefined;
  const certs = new TestCerts("meshpilot-kube-secrets-");
  const backends: TlsBackend[] = [];
  const lines: string[] = [];
  const logger: Logger = pino({ level: "debug", base: { app: "meshpilot" } }, { write: (s: string) => void lines.push(s) });
  const ask = () => httpRequest(`http://127.0.0.1:${a.port}/`, { host: "reviews", timeoutMs: 3000 });
  /** The client certificate (CN) the backend saw on a new connection from Envoy, or the status when none got through. */
  const presented = async (): Promise<string> => {
    for (const b of backends) b.dropConnections();
    const before = backends[0]!.requests.length;
    const res = await ask();
    if (res.status !== 200) return `HTTP ${res.status}`;
    expect(res.headers["x-backend-version"]).toBe("v1");
    expect(backends[0]!.requests.length).toBe(before + 1);
    return backends[0]!.requests.at(-1)?.clientCn ?? "none";
  };
  const secretRef = { apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS } };
  const tlsSecret = (client: string, data: Record<string, string> = {}) => ({
    ...secretRef,
    type: "kubernetes.io/tls",
    data: { "tls.crt": certs.b64(`${client}.pem`), "tls.key": certs.b64(`${client}-key.pem`), "ca.crt": certs.b64("ca.pem"), ...data },
  });
  const drStatus = async () =>
    (
      (await admin.get({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "reviews", namespace: NS } })) as
        { status?: { conditions?: Array<{ message: string }>; validationMessages?: Array<{ type: { code: string } }> } } | undefined
    )?.status;

  beforeAll(async () => {
    certs.leaf("server", "DNS:secure.example").leaf("client", "DNS:client.example").leaf("client2", "DNS:client2.example");
    kube = await startKube({ name: "secrets" });
    admin = kube.admin;
    await kube.installCrds();
    await admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    const saToken = await kube.serviceAccountToken("meshpilot-system", "meshpilot");
    a = await pickAddresses();
    await createCanary(admin, NS, a);
    // The canary's rule, for productpage only (Istio honours credentialName for sidecars only
    // with a workloadSelector), with mutual TLS from the Secret.
    await admin.apply(tlsSecret("client"));
    await admin.apply({
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "reviews", namespace: NS },
      spec: {
        host: "reviews",
        workloadSelector: { matchLabels: { app: "productpage" } },
        subsets: [
          { name: "v1", labels: { version: "v1" } },
          { name: "v2", labels: { version: "v2" } },
        ],
        trafficPolicy: { tls: { mode: "MUTUAL", sni: "secure.example", subjectAltNames: ["secure.example"], credentialName: SECRET } },
      },
    });
    backends.push(await startTlsBackend(certs, a.v1Ip, a.port, "v1", true, await a.listen(a.v1Ip)));
    backends.push(await startTlsBackend(certs, a.v2Ip, a.port, "v2", true, await a.listen(a.v2Ip)));
    server = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger,
      // The Envoy connects over plaintext xDS, which sends no Secrets by default.
      allowPlaintextSecrets: true,
      kube: { kubeConfig: kube.kubeConfig(saToken, "meshpilot"), leaseNamespace: "meshpilot-system" },
    });
    envoy = await startSidecarEnvoy("kube-secrets", {
      nodeId: `sidecar~${a.productpageIp}~${PRODUCTPAGE_POD}.${NS}~${NS}.svc.cluster.local`,
      xdsAddress: await a.hostAddress(server.xdsPort),
      netns: a.netns,
      labels: { app: "productpage", version: "v1" },
      sotw: true,
    });
  }, 1_800_000); // a cold build of the binaries takes ~10 min on 2 cores

  afterAll(async () => {
    await stopKubeMesh({ envoy, server, backends, kube, addresses: a });
    certs.remove();
  });

  it("presents the client certificate of the Secret created through the API (SDS over SotW ADS)", async () => {
    await until(async () => (await presented()) === "client", "a request with the Secret's client certificate");
    expect(backends[0]!.requests.at(-1)).toMatchObject({ sni: "secure.example", clientCn: "client" });
    const dump = JSON.stringify(await envoy!.configDump("dynamic_active_secrets"));
    expect(dump).toContain(`"kubernetes://${SECRET}"`);
    expect(dump).toContain(`"kubernetes://${SECRET}-cacert"`);
    expect(await envoy!.stat("cluster_manager.warming_clusters")).toBe(0);
    expect((await drStatus())?.validationMessages).toBeUndefined();
  });

  it("a Secret updated through the API rotates the certificate of new connections, without a restart or a cluster update", async () => {
    const clustersBefore = await envoy!.stat("cluster_manager.cds.update_success");
    expect(clustersBefore).toBeGreaterThan(0);
    await admin.apply(tlsSecret("client2"));
    await until(async () => (await presented()) === "client2", "a request with the rotated client certificate");
    expect(await envoy!.stat("cluster_manager.cds.update_success")).toBe(clustersBefore);
  });

  it("an invalid Secret is reported by object, field and reason, never its value; the last valid one stays", async () => {
    // Bad base64 never gets past the API server (Secret data is bytes): nothing for meshpilot to see.
    await expect(admin.apply(tlsSecret("client", { "tls.key": "not base64!" }))).rejects.toThrow(/base64/i);
    // Base64 of something that is not a PEM key does.
    const notPem = Buffer.from(`-----BEGIN NOTHING-----\n${MARKER}\n-----END NOTHING-----\n`).toString("base64");
    await admin.apply(tlsSecret("client", { "tls.key": notPem }));
    const isOurs = (d: Diagnostic) => d.object?.kind === "Secret" && d.object.namespace === NS && d.object.name === SECRET;
    await until(() => server!.controlPlane.diagnostics().some(isOurs), "the Secret's error");
    const found = server!.controlPlane.diagnostics().filter(isOurs);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: "error", path: 'data["tls.key"]' });
    expect(found[0]!.message).toMatch(/tls\.key is not a PEM private key/);
    expect(JSON.stringify(found)).not.toContain(MARKER);
    expect(JSON.stringify(found)).not.toContain(notPem);
    // meshpilot keeps serving the last valid version (client2), not the refused one (client)
    for (let i = 0; i < 3; i++) expect(await presented()).toBe("client2");
  });

  it("a deleted Secret is reported in the DestinationRule's status; creating it again clears the status", async () => {
    await admin.delete(secretRef);
    await until(async () => (await drStatus())?.validationMessages?.some((m) => m.type.code === "MP0407") === true, "MP0407 in the DestinationRule's status");
    const st = (await drStatus())!;
    expect(st.conditions?.[0]?.message).toContain(`Secret ${NS}/${SECRET} not found`);
    // The refused version's finding went with the Secret.
    expect(server!.controlPlane.diagnostics().filter((d) => d.object?.kind === "Secret")).toEqual([]);
    // As with istiod over SotW: the Secret is no longer sent, and Envoy keeps the last one it got
    // (a state-of-the-world SDS response that leaves a name out does not remove it).
    for (let i = 0; i < 3; i++) expect(await presented()).toBe("client2");

    await admin.apply(tlsSecret("client"));
    await until(async () => (await drStatus())?.validationMessages === undefined, "the DestinationRule's status to clear");
    await until(async () => (await presented()) === "client", "the re-created Secret's certificate");
  });

  it("no private key material reaches meshpilot's logs or debug endpoints", async () => {
    const debug = `http://127.0.0.1:${server!.debugPort}`;
    const dumped = await (await fetch(`${debug}/debug/config_dump?proxyID=${PRODUCTPAGE_POD}.${NS}`)).text();
    expect(dumped).toContain(`kubernetes://${SECRET}`);
    const text = [lines.join("\n"), dumped, await (await fetch(`${debug}/debug/diagnostics`)).text()].join("\n");
    expect(lines.length).toBeGreaterThan(10);
    expect(text).toMatch(/not a PEM private key/); // the invalid Secret was logged, by field and reason
    for (const key of ["client-key.pem", "client2-key.pem"]) {
      const pem = readFileSync(certs.path(key), "utf8");
      const body = pem.split("\n").filter((l) => l && !l.startsWith("-----"));
      expect(body.length).toBeGreaterThan(0);
      for (const l of body) expect(text, key).not.toContain(l);
      expect(text, key).not.toContain(certs.b64(key));
    }
    expect(text).not.toContain(MARKER);
  });
});
