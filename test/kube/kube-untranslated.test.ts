/**
 * Istio kinds that meshpilot reads but does not translate yet, against a real kube-apiserver with
 * deploy/'s CRDs and RBAC (meshpilot runs with its ServiceAccount token): a ProxyConfig
 * gets its "not translated" warning in its status and in /debug/diagnostics, objects of other
 * groups and versions are read too, and a deleted one's warning goes away.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/api/diagnostics.js";
import type { RunningServer } from "../../src/runtime/serve.js";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster } from "../support/kube.js";
import { namespace, service } from "../support/kube-mesh.js";
import { serveFromKube } from "../support/kube-server.js";
import { until } from "../support/wait.js";

const NS = "untranslated";
const EFFECT = "not translated: proxy settings (concurrency, environment variables, image) are not applied";

interface IstioStatus {
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  validationMessages?: Array<{ type: { code: string }; level: string }>;
  observedGeneration?: number;
}

const proxyConfig = {
  apiVersion: "networking.istio.io/v1beta1",
  kind: "ProxyConfig",
  metadata: { name: "default", namespace: NS },
  spec: { concurrency: 2 },
};
const workloadGroup = {
  apiVersion: "networking.istio.io/v1beta1",
  kind: "WorkloadGroup",
  metadata: { name: "vms", namespace: NS },
  spec: { metadata: { labels: { app: "vm" } }, template: { serviceAccount: "vm" } },
};
const telemetry = {
  apiVersion: "telemetry.istio.io/v1alpha1",
  kind: "Telemetry",
  metadata: { name: "logs", namespace: NS },
  // Its access logging is translated; tracing is not, and is reported.
  spec: { tracing: [{ randomSamplingPercentage: 10 }] },
};

describe.skipIf(kubeTestsSkipped)("Istio kinds that are read but not translated, with a real kube-apiserver", () => {
  let kube: KubeCluster;
  let server: RunningServer | undefined;
  const lines: string[] = [];
  const logger: Logger = pino({ level: "info" }, { write: (s: string) => void lines.push(s) });

  const statusOf = async (o: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } }) =>
    ((await kube.admin.get(o)) as { status?: IstioStatus } | undefined)?.status;
  const diagnostics = async (): Promise<Diagnostic[]> =>
    (await (await fetch(`http://127.0.0.1:${server!.debugPort}/debug/diagnostics`)).json()) as Diagnostic[];
  const findingsFor = async (kind: string, name: string) =>
    (await diagnostics()).filter((d) => d.code === "MP0010" && d.object?.kind === kind && d.object.name === name && d.object.namespace === NS);

  beforeAll(async () => {
    kube = await startKube({ name: "untranslated" });
    await kube.installCrds();
    await kube.admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    await kube.admin.apply(namespace(NS));
    await kube.admin.apply(service(NS, "web", 8080));
    await kube.admin.apply(proxyConfig);
    await kube.admin.apply(telemetry);
    server = await serveFromKube(kube, { identity: "untranslated-test", logger, lines });
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    await kube?.stop();
  });

  it("a ProxyConfig shows its warning in /debug/diagnostics", async () => {
    await until(async () => (await findingsFor("ProxyConfig", "default")).length === 1, "the ProxyConfig's MP0010 finding");
    const [d] = await findingsFor("ProxyConfig", "default");
    expect(d).toMatchObject({ severity: "warning", code: "MP0010" });
    expect(d!.message).toContain(EFFECT);
    expect(d!.source).toBeUndefined();
  });

  it("and in its status, written by the leader with the ServiceAccount's RBAC", async () => {
    await until(async () => (await statusOf(proxyConfig))?.validationMessages?.length === 1, "the warning in the ProxyConfig's status", 30_000).catch(
      (err: Error) => {
        throw new Error(
          `${err.message}\n${lines
            .filter((l) => l.includes("status"))
            .slice(-10)
            .join("")}`,
        );
      },
    );
    const st = (await statusOf(proxyConfig))!;
    expect(st.validationMessages).toEqual([{ type: { code: "MP0010" }, level: "WARNING" }]);
    expect(st.conditions).toHaveLength(1);
    expect(st.conditions![0]).toMatchObject({ type: "PassedAnalysis", status: "True", reason: "WarningsFound" });
    expect(st.conditions![0]!.message).toContain(EFFECT);
    expect(st.observedGeneration).toBe(1);
  });

  it("reads other groups and versions: a Telemetry (v1alpha1) from the start, a WorkloadGroup (v1beta1) created later", async () => {
    await until(async () => (await statusOf(telemetry))?.validationMessages?.length === 1, "the Telemetry's status");
    expect((await findingsFor("Telemetry", "logs"))[0]!.message).toContain("tracing is not configured");

    await kube.admin.apply(workloadGroup);
    await until(async () => (await findingsFor("WorkloadGroup", "vms")).length === 1, "the WorkloadGroup's finding");
    expect((await findingsFor("WorkloadGroup", "vms"))[0]!.message).toContain("not translated: no workload is registered from its template");
    await until(
      async () => (await statusOf(workloadGroup))?.conditions?.[0]?.message.includes("no workload is registered") === true,
      "the WorkloadGroup's status",
    );
  });

  it("a deleted ProxyConfig's warning goes away", async () => {
    await kube.admin.delete(proxyConfig);
    await until(async () => (await findingsFor("ProxyConfig", "default")).length === 0, "the finding gone");
    expect(await findingsFor("WorkloadGroup", "vms")).toHaveLength(1);
  });
});
