/**
 * The injected istio-proxy container, run for real: its --config-yaml bootstrap (with the
 * kubelet's $(VAR) expansion done here) starts a stock Envoy that connects to a running
 * meshpilot, answers /healthz/ready on the health port only once it has its first config, and
 * forwards rewritten application probes to the original path on the application's port, and
 * answers rewritten tcpSocket and grpc probes from its health checks of the application's port.
 * Addresses are moved from 0.0.0.0 to 127.0.0.1 and ports to free ones, so the test listens on
 * loopback only and runs beside others.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { injectPod } from "../../src/inject/inject.js";
import { DEFAULT_INJECTION_SETTINGS, type InjectionSettings } from "../../src/inject/settings.js";
import { httpRequest, startBackend, type Backend } from "../support/backend.js";
import { startEnvoy, stopAllEnvoys, type Envoy } from "../support/envoy.js";
import { NOT_SERVING, SERVING, startGrpcHealth, type GrpcHealthServer } from "../support/grpc-health.js";
import { freePort } from "../support/net.js";
import { until } from "../support/wait.js";

/** What the kubelet does with $(VAR) in args, from the downward-API env. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\(([A-Z_]+)\)/g, (m, name: string) => env[name] ?? m);
}

describe("injected sidecar Envoy", () => {
  let server: RunningServer;
  let app: Backend;
  let envoy: Envoy;
  let dir: string;
  let settings: InjectionSettings;
  let tcp: Server;
  let tcpPort: number;
  let grpcApp: GrpcHealthServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meshpilot-inject-"));
    server = await startServer({ configDir: dir, xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger: pino({ level: "silent" }) });
    app = await startBackend({ version: "v1", name: "web" });
    tcp = createServer((socket) => socket.destroy());
    tcpPort = await new Promise<number>((resolve) => tcp.listen(0, "127.0.0.1", () => resolve((tcp.address() as { port: number }).port)));
    grpcApp = await startGrpcHealth();
    settings = {
      ...DEFAULT_INJECTION_SETTINGS,
      xdsAddress: `127.0.0.1:${server.xdsPort}`,
      adminPort: await freePort(),
      healthPort: await freePort(),
      appProbePort: await freePort(),
    };
    const r = injectPod(
      {
        metadata: { name: "web-1", namespace: "shop", labels: { app: "web" } },
        spec: {
          containers: [
            {
              name: "web",
              ports: [{ name: "http", containerPort: app.port }],
              readinessProbe: { httpGet: { path: "/ready?deep=1", port: "http" } },
              livenessProbe: { httpGet: { path: "/live", port: app.port } },
            },
            { name: "db", ports: [{ name: "pg", containerPort: tcpPort }], livenessProbe: { tcpSocket: { port: "pg" } } },
            { name: "api", readinessProbe: { grpc: { port: grpcApp.port, service: "ready" } }, livenessProbe: { grpc: { port: grpcApp.port } } },
          ],
        },
      },
      "shop",
      { "istio-injection": "enabled" },
      settings,
    );
    if (r.kind !== "patch") throw new Error(JSON.stringify(r));
    const proxy = (r.patch[0]!.value as Record<string, unknown>[])[1]!;
    const args = proxy["args"] as string[];
    const text = expand(args[1]!, { INSTANCE_IP: "10.1.2.3", POD_NAME: "web-1", POD_NAMESPACE: "shop" }).replaceAll('"0.0.0.0"', '"127.0.0.1"');
    envoy = await startEnvoy({ name: "injected", bootstrap: JSON.parse(text) as object });
  });

  afterAll(async () => {
    await stopAllEnvoys();
    await server?.stop();
    await app?.close();
    await grpcApp?.close();
    if (tcp?.listening) await new Promise((resolve) => tcp.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("connects to meshpilot with the pod's node id and turns ready", async () => {
    await until(
      async () => (await httpRequest(`http://127.0.0.1:${settings.healthPort}/healthz/ready`).catch(() => ({ status: 0 }))).status === 200,
      "/healthz/ready",
      30_000,
    );
    expect(JSON.stringify(server.xds.syncStatus())).toContain("sidecar~10.1.2.3~web-1.shop~shop.svc.cluster.local");
  });

  it("forwards rewritten probes to the application's original path and reports its status", async () => {
    const ready = await httpRequest(`http://127.0.0.1:${settings.appProbePort}/app-health/web/readyz`);
    expect(ready.status).toBe(200);
    expect(app.requests.at(-1)?.path).toBe("/ready?deep=1");
    app.failNext(1, 503);
    const live = await httpRequest(`http://127.0.0.1:${settings.appProbePort}/app-health/web/livez`);
    expect(live.status).toBe(503);
    expect(app.requests.at(-1)?.path).toBe("/live");
    expect((await httpRequest(`http://127.0.0.1:${settings.appProbePort}/app-health/other/livez`)).status).toBe(404);
  });

  it("answers a rewritten tcpSocket probe by whether the application's port accepts connections", async () => {
    const status = async () => (await httpRequest(`http://127.0.0.1:${settings.appProbePort}/app-health/db/livez`)).status;
    await until(async () => (await status()) === 200, "tcpSocket probe passes while the port listens", 15_000);
    await new Promise((resolve) => tcp.close(resolve));
    await until(async () => (await status()) === 503, "tcpSocket probe fails once the port is closed", 15_000);
  });

  it("answers a rewritten grpc probe by the application's gRPC health status, per service", async () => {
    const status = async (kind: string) => (await httpRequest(`http://127.0.0.1:${settings.appProbePort}/app-health/api/${kind}`)).status;
    grpcApp.setStatus("ready", SERVING);
    await until(async () => (await status("readyz")) === 200, "grpc readiness (service ready) passes", 15_000);
    await until(async () => (await status("livez")) === 200, "grpc liveness (whole server) passes", 15_000);
    grpcApp.setStatus("ready", NOT_SERVING);
    await until(async () => (await status("readyz")) === 503, "grpc readiness fails once NOT_SERVING", 15_000);
    expect(await status("livez")).toBe(200);
  });

  it("the admin port stays on loopback of the pod", () => {
    expect(envoy.adminAddress).toEqual({ host: "127.0.0.1", port: settings.adminPort });
  });
});
