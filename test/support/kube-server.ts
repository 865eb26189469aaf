/**
 * meshpilot serving from a test's own kube-apiserver, as deployed: with deploy/meshpilot.yaml's
 * ServiceAccount token (so its RBAC is what is tested), status leader election on short timings,
 * and a wait until `/ready` answers 200 (the log's tail in the error otherwise).
 */
import type { Logger } from "pino";
import type { KubeServeOptions } from "../../src/runtime/kube.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import type { KubeCluster } from "./kube.js";
import { until } from "./wait.js";

export async function serveFromKube(
  kube: KubeCluster,
  o: { readonly identity: string; readonly logger: Logger; readonly lines: readonly string[]; readonly tuning?: Partial<KubeServeOptions> },
): Promise<RunningServer> {
  const saToken = await kube.serviceAccountToken("meshpilot-system", "meshpilot");
  const server = await startServer({
    xdsAddress: "127.0.0.1:0",
    debugAddress: "127.0.0.1:0",
    logger: o.logger,
    kube: {
      kubeConfig: kube.kubeConfig(saToken, "meshpilot"),
      leaseNamespace: "meshpilot-system",
      leaseDurationSeconds: 3,
      leaseRetryPeriodMs: 300,
      identity: o.identity,
      ...o.tuning,
    },
  });
  await until(async () => (await fetch(`http://127.0.0.1:${server.debugPort}/ready`)).status === 200, "meshpilot ready", 60_000).catch(async (err: Error) => {
    await server.stop();
    throw new Error(`${err.message}\n${o.lines.slice(-30).join("")}`);
  });
  return server;
}
