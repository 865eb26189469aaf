/**
 * The unmodified Istio agent (pilot-agent, built from the istio.io/istio Go module by
 * scripts/ensure-istio-agent.mjs) against meshpilot and a real kube-apiserver: with a
 * ServiceAccount token (audience istio-ca) it obtains its workload certificate from meshpilot's
 * CreateCertificate on the secure port (written out by the agent's OUTPUT_CERTS), and proxies its
 * Envoy's xDS to meshpilot's secure port, authenticated with the same token: the mesh's clusters
 * reach that Envoy (its admin's config dump).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureIstioAgent } from "../../scripts/ensure-istio-agent.mjs";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { resolveEnvoyPath } from "../support/envoy.js";
import { DEPLOY_DIR, freePort, kubeTestsSkipped, startKube, type KubeCluster } from "../support/kube.js";
import { until } from "../support/wait.js";

const MESHPILOT_NS = "meshpilot-system";
const SERVER_NAME = `meshpilot.${MESHPILOT_NS}.svc`;

describe.skipIf(kubeTestsSkipped)("the unmodified istio-agent against meshpilot", () => {
  let kube: KubeCluster;
  let server: RunningServer | undefined;
  let agent: ChildProcess | undefined;
  let agentOutput = "";
  let adminPort = 0;
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-istio-agent-"));
  const lines: string[] = [];
  const logger: Logger = pino({ level: "debug", base: { app: "meshpilot" } }, { write: (s: string) => void lines.push(s) });
  const admin = async (path: string): Promise<string> => {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
      return await res.text();
    } catch {
      return "";
    }
  };

  beforeAll(async () => {
    const { pilotAgent, bootstrapTemplate } = await ensureIstioAgent();
    if (!bootstrapTemplate) throw new Error("pilot-agent needs Envoy's bootstrap template (MESHPILOT_PILOT_AGENT gives none)");
    kube = await startKube({ name: "istio-agent" });
    await kube.installCrds();
    await kube.admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    await kube.admin.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
    await kube.admin.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "cart", namespace: "shop" } });
    await kube.admin.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "catalog", namespace: "shop" },
      spec: { ports: [{ name: "http", port: 8080, targetPort: 8080 }] },
    });
    server = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger,
      kube: { kubeConfig: kube.kubeConfig(await kube.serviceAccountToken(MESHPILOT_NS, "meshpilot"), "meshpilot"), leaseNamespace: MESHPILOT_NS },
      identity: { secureXdsAddress: "127.0.0.1:0", caNamespace: MESHPILOT_NS, dnsNames: [SERVER_NAME], ipAddresses: ["127.0.0.1"] },
    });
    // The agent reads its files relative to its working directory, as in a pod.
    mkdirSync(join(dir, "var/run/secrets/tokens"), { recursive: true });
    mkdirSync(join(dir, "var/run/secrets/istio"), { recursive: true });
    mkdirSync(join(dir, "etc/istio/proxy"), { recursive: true });
    mkdirSync(join(dir, "var/lib/istio/envoy"), { recursive: true });
    mkdirSync(join(dir, "out"), { recursive: true });
    copyFileSync(bootstrapTemplate, join(dir, "var/lib/istio/envoy/envoy_bootstrap_tmpl.json"));
    writeFileSync(join(dir, "var/run/secrets/tokens/istio-token"), await kube.serviceAccountToken("shop", "cart", 3600, ["istio-ca"]));
    const rootFile = join(dir, "var/run/secrets/istio/root-cert.pem");
    writeFileSync(rootFile, server.identity!.ca.rootPem);
    adminPort = await freePort();
    const secure = `127.0.0.1:${server.secureXdsPort}`;
    const proxyConfig = {
      discoveryAddress: secure,
      binaryPath: await resolveEnvoyPath(),
      configPath: join(dir, "etc/istio/proxy"),
      proxyAdminPort: adminPort,
      statusPort: await freePort(),
      drainDuration: "1s",
      terminationDrainDuration: "1s",
    };
    agent = spawn(pilotAgent, ["proxy", "sidecar", "--log_output_level", "default:info"], {
      cwd: dir,
      env: {
        PATH: process.env["PATH"] ?? "",
        POD_NAME: "cart-agent",
        POD_NAMESPACE: "shop",
        INSTANCE_IP: "127.0.0.1",
        SERVICE_ACCOUNT: "cart",
        ISTIO_META_CLUSTER_ID: "Kubernetes",
        ISTIO_META_INTERCEPTION_MODE: "NONE",
        CA_ADDR: secure,
        XDS_ROOT_CA: rootFile,
        CA_ROOT_CA: rootFile,
        PROXY_CONFIG: JSON.stringify(proxyConfig),
        OUTPUT_CERTS: join(dir, "out"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    agent.stdout!.on("data", (b: Buffer) => (agentOutput += b.toString()));
    agent.stderr!.on("data", (b: Buffer) => (agentOutput += b.toString()));
  }, 1_800_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 1500));
      if (agent.exitCode === null) agent.kill("SIGKILL");
    }
    await server?.stop();
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("obtains its workload certificate from meshpilot's CreateCertificate with its token", async () => {
    // OUTPUT_CERTS makes the agent write what its CA client got; the agent asks at start (it warms its SDS cache).
    const chainFile = join(dir, "out", "cert-chain.pem");
    try {
      await until(
        () => existsSync(chainFile) && readFileSync(chainFile, "utf8").includes("END CERTIFICATE"),
        "the certificate the agent obtained",
        45_000,
        500,
      );
    } catch (e) {
      const meshpilot = lines
        .filter((l) => /"level":(40|50)/.test(l))
        .slice(-20)
        .join("");
      throw new Error(`${(e as Error).message}\n--- pilot-agent ---\n${agentOutput.slice(-8000)}\n--- meshpilot warnings ---\n${meshpilot}`, { cause: e });
    }
    const leaf = new X509Certificate(readFileSync(chainFile, "utf8"));
    expect(leaf.subjectAltName).toBe("URI:spiffe://cluster.local/ns/shop/sa/cart");
    expect(leaf.verify(new X509Certificate(server!.identity!.ca.rootPem).publicKey)).toBe(true);
    expect(readFileSync(join(dir, "out", "root-cert.pem"), "utf8").trim()).toBe(server!.identity!.ca.rootPem.trim());
    expect(
      lines.some(
        (l) =>
          l.includes("issued a workload certificate") &&
          l.includes('"namespace":"shop"') &&
          l.includes('"serviceAccount":"cart"') &&
          l.includes('"via":"token"'),
      ),
    ).toBe(true);
  }, 90_000);

  it("proxies Envoy's xDS to meshpilot's secure port: the mesh's clusters reach Envoy", async () => {
    await until(
      async () => (await admin("/config_dump?resource=dynamic_active_clusters")).includes("outbound|8080||catalog.shop.svc.cluster.local"),
      "the catalog cluster via the agent",
      45_000,
      500,
    );
    const connected = lines.filter((l) => l.includes("proxy connected") && l.includes("cart-agent.shop"));
    expect(connected.length).toBeGreaterThan(0);
    expect(connected.every((l) => l.includes('"identity":"shop/cart"'))).toBe(true);
  }, 90_000);
});
