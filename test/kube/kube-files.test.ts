/**
 * `--config-dir` together with Kubernetes: the directory's objects are added to the cluster's.
 * Services, Pods, EndpointSlices and the DestinationRule come from a real kube-apiserver; the
 * VirtualService comes from a file. Editing the file, and changing the cluster, both reach a
 * real Envoy; a broken file is reported and leaves the cluster's config and the file's last
 * valid version in place.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { httpRequest, startBackend, tally, type Backend } from "../support/backend.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster } from "../support/kube.js";
import { createCanary, destinationRule, pickAddresses, PRODUCTPAGE_POD, stopKubeMesh, virtualService, type KubeMeshNet } from "../support/kube-mesh.js";
import { until } from "../support/wait.js";

const NS = "mixed";

describe.skipIf(kubeTestsSkipped)("--config-dir adds to the cluster's config", () => {
  let kube: KubeCluster;
  let a: KubeMeshNet;
  let server: RunningServer | undefined;
  let envoy: Envoy | undefined;
  const backends: Backend[] = [];
  const lines: string[] = [];
  const logger: Logger = pino({ level: "info" }, { write: (s: string) => void lines.push(s) });
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-kube-files-"));
  const vsFile = join(dir, "reviews-vs.yaml");
  const versionOf = async (headers: Record<string, string> = {}) =>
    (await httpRequest(`http://127.0.0.1:${a.port}/`, { host: "reviews", headers, timeoutMs: 3000 })).headers["x-backend-version"] ?? "none";

  beforeAll(async () => {
    kube = await startKube({ name: "files" });
    await kube.installCrds();
    await kube.admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    const saToken = await kube.serviceAccountToken("meshpilot-system", "meshpilot");
    a = await pickAddresses();
    await createCanary(kube.admin, NS, a);
    // The cluster keeps its DestinationRule; the VirtualService moves to a file.
    await kube.admin.delete({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "reviews", namespace: NS } });
    for (const [version, host] of [
      ["v1", a.v1Ip],
      ["v2", a.v2Ip],
    ] as const) {
      backends.push(await startBackend({ version, host, port: a.port, listening: await a.listen(host) }));
    }
    writeFileSync(vsFile, stringify(virtualService(NS, "v1", "v2")));
    server = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger,
      configDir: dir,
      kube: { kubeConfig: kube.kubeConfig(saToken, "meshpilot"), writeStatus: false },
    });
    envoy = await startSidecarEnvoy("kube-files", {
      nodeId: `sidecar~${a.productpageIp}~${PRODUCTPAGE_POD}.${NS}~${NS}.svc.cluster.local`,
      xdsAddress: await a.hostAddress(server.xdsPort),
      netns: a.netns,
      labels: { app: "productpage", version: "v1" },
      sotw: false,
    });
  });

  afterAll(async () => {
    await stopKubeMesh({ envoy, server, backends, kube, addresses: a });
    rmSync(dir, { recursive: true, force: true });
  });

  it("routes the cluster's services by the file's VirtualService", async () => {
    await until(async () => (await versionOf()) === "v2", "the file's default route to v2");
    expect(await versionOf({ "x-canary": "v1" })).toBe("v1");
    expect(await tally(`http://127.0.0.1:${a.port}/`, 30, { host: "reviews", concurrency: 3, timeoutMs: 3000 })).toEqual({ v2: 30 });
  });

  it("a file edit and a cluster change both reach Envoy", async () => {
    writeFileSync(vsFile, stringify(virtualService(NS, "v2", "v1")));
    await until(async () => (await versionOf()) === "v1", "the edited file's default route to v1");
    expect(await versionOf({ "x-canary": "v2" })).toBe("v2");

    // The cluster drops subset v2 from its DestinationRule: the file's route to it now has no
    // cluster, so Envoy answers 503 for it and meshpilot names the missing subset.
    await kube.admin.apply(destinationRule(NS, ["v1"]));
    await until(
      async () => (await httpRequest(`http://127.0.0.1:${a.port}/`, { host: "reviews", headers: { "x-canary": "v2" }, timeoutMs: 3000 })).status === 503,
      "the route to the dropped subset to fail",
    );
    const findings = server!.controlPlane.diagnostics().filter((d) => d.code === "IST0101");
    expect(findings.map((d) => d.message).join("\n")).toMatch(/subset.*v2/);
    expect(await versionOf()).toBe("v1");
    await kube.admin.apply(destinationRule(NS, ["v1", "v2"]));
    await until(async () => (await versionOf({ "x-canary": "v2" })) === "v2", "subset v2 to come back");
  });

  it("a broken file is reported; the cluster's config and the file's last valid version stay", async () => {
    writeFileSync(vsFile, stringify(virtualService(NS, "v2", "v1")).replace("subset: v1", "subset: [not, a, string]"));
    await until(() => server!.controlPlane.diagnostics().some((d) => d.severity === "error" && d.source?.file === vsFile), "the file's error to be reported");
    const err = server!.controlPlane.diagnostics().find((d) => d.severity === "error" && d.source?.file === vsFile)!;
    expect(err.path).toMatch(/^spec\.http\[\d\]\.route\[0\]\.destination\.subset$/);
    expect(`${err.object?.kind}/${err.object?.namespace}/${err.object?.name}`).toBe(`VirtualService/${NS}/reviews`);
    expect(await versionOf()).toBe("v1");
    expect(await versionOf({ "x-canary": "v2" })).toBe("v2");
  });
});
