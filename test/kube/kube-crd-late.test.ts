/**
 * A CRD installed after meshpilot started: the Gateway API's, as when a team installs it into a
 * running mesh. meshpilot looks for the kinds it did not find again (here every 300 ms; 30 s by
 * default) and serves them without a restart: the GatewayClass of its controller gets Accepted.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/runtime/serve.js";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster } from "../support/kube.js";
import { serveFromKube } from "../support/kube-server.js";
import { until } from "../support/wait.js";

const gatewayClass = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "GatewayClass",
  metadata: { name: "meshpilot" },
  spec: { controllerName: "meshpilot.io/gateway-controller" },
};

describe.skipIf(kubeTestsSkipped)("a CRD installed after meshpilot started", () => {
  let kube: KubeCluster;
  let server: RunningServer | undefined;
  const lines: string[] = [];
  const logger: Logger = pino({ level: "info" }, { write: (s: string) => void lines.push(s) });
  const logged = (msg: string) => lines.map((l) => JSON.parse(l) as { msg?: string; watched?: string[]; kinds?: string[] }).filter((l) => l.msg === msg);

  beforeAll(async () => {
    kube = await startKube({ name: "crd-late" });
    await kube.installCrds();
    await kube.admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    server = await serveFromKube(kube, { identity: "crd-late-test", logger, lines, tuning: { rediscoverMs: 300 } });
  }, 600_000);

  afterAll(async () => {
    await server?.stop();
    await kube?.stop();
  });

  it("watches the Gateway API once its CRDs exist, and accepts its GatewayClass", async () => {
    const missing = logged("these kinds are not served by the cluster (apply deploy/crds.yaml); they are watched once their CRD is installed");
    expect(missing.flatMap((l) => l.kinds ?? [])).toContain("gatewayclasses.gateway.networking.k8s.io");
    await kube.installGatewayApiCrds();
    await kube.admin.apply(gatewayClass);
    await until(
      async () => {
        const gc = (await kube.admin.get(gatewayClass)) as { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined;
        return gc?.status?.conditions?.some((c) => c.type === "Accepted" && c.status === "True") === true;
      },
      "GatewayClass Accepted",
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${lines.slice(-20).join("")}`);
    });
    // Watched in the preferred version even when the CRD's versions appear in discovery one by one.
    const watched = logged("these kinds are now served by the cluster; watching").flatMap((l) => l.watched ?? []);
    expect(watched, watched.join(", ")).toContain("GatewayClass gateway.networking.k8s.io/v1");
  });
});
