/**
 * The load generator driving a real kube-apiserver: `meshpilot loadgen --kubeconfig` creates the
 * generated mesh (namespaces, Services, Pods with their status, EndpointSlices, VirtualServices,
 * DestinationRules) through the REST API and churns it there (pods replaced at new addresses,
 * splits edited); `meshpilot serve` reads only Kubernetes (with the ServiceAccount and RBAC of
 * deploy/), so every change a proxy converges on went API → informer → xDS. Afterwards the
 * generated objects are gone again.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster } from "../support/kube.js";
import { reportOf, runLoadgen } from "../support/loadgen.js";
import { ensureBuilt, startServeProcess, type ServeProcess } from "../support/serve-process.js";

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
});
