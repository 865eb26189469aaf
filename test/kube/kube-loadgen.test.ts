/**
 * The load generator driving a real kube-apiserver: `meshpilot loadgen --kubeconfig` creates the
 * generated mesh (namespaces, Services, Pods with their status, EndpointSlices, VirtualServices,
 * DestinationRules) through the REST API and churns it there (pods replaced at new addresses,
 * splits edited); `meshpilot serve` reads only Kubernetes (with the ServiceAccount and RBAC of
 * deploy/), so every change a proxy converges on went API → informer → xDS. Afterwards the
 * generated objects are gone again. Then the same against meshpilot's secure port (in this
 * process, with the mesh CA and token review): the proxies present a ServiceAccount token
 * (audience istio-ca) as istio-proxy does, verify the server against the mesh root, claim the
 * token's namespace and ServiceAccount, and get their `default` and `ROOTCA` secrets over SDS;
 * a token of another audience is refused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { pino } from "pino";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster } from "../support/kube.js";
import { reportOf, runLoadgen } from "../support/loadgen.js";
import { ensureBuilt, startServeProcess, type ServeProcess } from "../support/serve-process.js";
import { startServer } from "../../src/runtime/serve.js";

describe.skipIf(kubeTestsSkipped)("meshpilot loadgen through a real kube-apiserver", () => {
  let kube: KubeCluster;
  let server: ServeProcess | undefined;
  let emptyDir = "";
  let adminKubeconfig = "";

  beforeAll(async () => {
    ensureBuilt("kube-loadgen");
    kube = await startKube({ name: "loadgen" });
    await kube.installCrds();
    await kube.admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    // The RBAC of deploy/, not its injection webhook: no server answers it here, and the generated namespaces ask for injection.
    await kube.admin.delete({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: "meshpilot-sidecar-injector" },
    });
    const token = await kube.serviceAccountToken("meshpilot-system", "meshpilot");
    adminKubeconfig = join(kube.dir, "kubeconfig-loadgen-admin");
    writeFileSync(adminKubeconfig, kube.admin.config.exportConfig());
    // No files: everything the proxies get comes from the API.
    emptyDir = mkdtempSync(join(tmpdir(), "meshpilot-kube-loadgen-"));
    server = await startServeProcess({
      configDir: emptyDir,
      extraArgs: ["--kubeconfig", kube.kubeconfigFile(token, "meshpilot"), "--no-status"],
      readyTimeoutMs: 60_000,
    });
  }, 1_800_000); // a cold build of the kube binaries takes ~10 min on 2 cores

  afterAll(async () => {
    await server?.stop();
    await kube?.stop();
    if (emptyDir) rmSync(emptyDir, { recursive: true, force: true });
  });

  it("creates the mesh and churns it through the API; every change reaches every proxy; the objects are removed after", async () => {
    const changes = 4;
    const run = await runLoadgen(
      [
        ...["--target", `127.0.0.1:${server!.xdsPort}`, "--kubeconfig", adminKubeconfig, "--proxies", "20", "--sotw-proxies", "5"],
        ...["--services", "6", "--churn-rate", "2", "--duration", "10", "--changes", String(changes), "--change-timeout", "30", "--json"],
      ],
      240_000,
    );
    const report = reportOf(run);
    expect(run.code, run.stderr).toBe(0);
    expect(report.driver).toContain(kube.server);
    expect(report.errors).toEqual([]);
    expect(report.fleets.map((f) => [f.protocol, f.synced, f.failed])).toEqual([
      ["delta", 20, 0],
      ["sotw", 5, 0],
    ]);
    // 6 services × (no subset, v1, v2) outbound clusters, each with its endpoints.
    for (const f of report.fleets) expect(f.syncResourcesPerProxy.eds.min).toBeGreaterThanOrEqual(18);
    expect(report.churn.changes).toHaveLength(changes);
    for (const c of report.churn.changes) expect([c.kind, c.marker, c.missing, c.converged]).toEqual([c.kind, c.marker, 0, 25]);
    expect(new Set(report.churn.changes.map((c) => c.kind))).toEqual(new Set(["endpoint", "weight"]));
    expect(report.server?.pid).toBe(server!.pid);

    // Torn down: the generated objects are gone from the API.
    for (let i = 0; i < 6; i++) {
      const ns = `bench-${i % 4}`;
      expect(await kube.admin.get({ apiVersion: "v1", kind: "Service", metadata: { name: `svc-${i}`, namespace: ns } })).toBeUndefined();
      expect(
        await kube.admin.get({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: `svc-${i}`, namespace: ns } }),
      ).toBeUndefined();
    }
  });

  it("on the secure port with a ServiceAccount token: TLS from the mesh root, the token's identity, default and ROOTCA over SDS; a wrong token is refused", async () => {
    const serverName = "meshpilot.meshpilot-system.svc";
    await kube.admin.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
    await kube.admin.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "cart", namespace: "shop" } });
    const meshpilotToken = await kube.serviceAccountToken("meshpilot-system", "meshpilot");
    const secure = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger: pino({ level: "warn" }),
      kube: { kubeConfig: kube.kubeConfig(meshpilotToken, "meshpilot"), leaseNamespace: "meshpilot-system", writeStatus: false },
      identity: { secureXdsAddress: "127.0.0.1:0", caNamespace: "meshpilot-system", dnsNames: [serverName] },
    });
    try {
      const files = mkdtempSync(join(tmpdir(), "meshpilot-kube-loadgen-secure-"));
      writeFileSync(join(files, "root-cert.pem"), secure.identity!.ca.rootPem);
      writeFileSync(join(files, "token"), await kube.serviceAccountToken("shop", "cart", 3600, ["istio-ca"]));
      writeFileSync(join(files, "api-token"), await kube.serviceAccountToken("shop", "cart")); // the API server's audience, not istio-ca
      const args = (token: string, changes: number) => [
        ...["--target", `127.0.0.1:${secure.secureXdsPort}`, "--ca-cert", join(files, "root-cert.pem"), "--server-name", serverName],
        ...["--token-file", join(files, token), "--kubeconfig", adminKubeconfig, "--proxies", "8", "--sotw-proxies", "4", "--services", "4"],
        ...["--churn-rate", "2", "--duration", "10", "--changes", String(changes), "--change-timeout", "30", "--sync-timeout", "60", "--json"],
        ...["--server-pid", String(process.pid)],
      ];
      const run = await runLoadgen([...args("token", 2), "--drop-streams"], 240_000);
      const report = reportOf(run);
      expect(run.code, run.stderr).toBe(0);
      expect(report.errors).toEqual([]);
      expect(report.transport).toBe("TLS with a bearer token");
      expect(report.fleets.map((f) => [f.protocol, f.synced, f.failed, f.streamErrors])).toEqual([
        ["delta", 8, 0, 0],
        ["sotw", 4, 0, 0],
      ]);
      for (const f of report.fleets) expect(f.syncResourcesPerProxy.sds, f.protocol).toEqual({ min: 2, max: 2 });
      for (const c of report.churn.changes) expect([c.missing, c.converged]).toEqual([0, 12]);
      expect(report.resume).toMatchObject({ dropped: 12, answered: 12 });
      expect(report.fleets[0]!.resumed.cds.resources).toBe(0);
      expect(report.fleets[0]!.resumed.eds.unchanged).toBe(0);
      expect(run.stdout + run.stderr).not.toMatch(/BEGIN|PRIVATE KEY/);
      // The token of the wrong audience: every stream is refused, and the run says why.
      const refused = await runLoadgen([...args("api-token", 0), "--no-reconnect", "--ready-timeout", "20"], 120_000);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/UNAUTHENTICATED|16|authentication failed/);
      rmSync(files, { recursive: true, force: true });
    } finally {
      await secure.stop();
    }
  });
});
