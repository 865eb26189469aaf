/**
 * The load generator (`meshpilot loadgen`, src/loadgen/) against `meshpilot serve --config-dir`
 * run as a user runs them, each in its own process: it writes a mesh the server watches, opens a
 * mixed fleet of delta and SotW sidecar streams, churns endpoints and VirtualService splits, and
 * reports that every proxy converged on every change, what each received per type, and the
 * server's CPU and memory from /proc (found by the port it listens on). Also: a load proxy asks
 * for exactly what a real Envoy with the same node asks for, virtual hosts by VHDS included.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHORT_TYPES } from "../../src/loadgen/counts.js";
import { DeltaProxy } from "../../src/loadgen/delta-proxy.js";
import { DirDriver } from "../../src/loadgen/dir-driver.js";
import { LoadMesh } from "../../src/loadgen/mesh.js";
import { ENVOY_VERSION, istioNode, proxyWorkload } from "../../src/loadgen/node.js";
import type { LoadProxy } from "../../src/loadgen/proxy.js";
import { SotwProxy } from "../../src/loadgen/sotw-proxy.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import { reportOf, runLoadgen } from "../support/loadgen.js";
import { ensureBuilt, startServeProcess, type ServeProcess } from "../support/serve-process.js";
import { until } from "../support/wait.js";

describe("meshpilot loadgen against meshpilot serve --config-dir", () => {
  let dir = "";
  let server: ServeProcess | undefined;

  beforeAll(async () => {
    ensureBuilt("loadgen");
    dir = mkdtempSync(join(tmpdir(), "meshpilot-loadgen-"));
    server = await startServeProcess({ configDir: dir });
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a mixed fleet (50 delta, 20 SotW) converges on every change; per-type figures agree between proxies; the server's CPU and RSS are read", async () => {
    const changes = 6;
    const r = await runLoadgen(
      [
        ...["--target", `127.0.0.1:${server!.xdsPort}`, "--proxies", "50", "--protocol", "delta", "--sotw-proxies", "20"],
        ...["--services", "12", "--config-dir", dir, "--churn-rate", "3", "--duration", "10", "--changes", String(changes)],
        ...["--change-timeout", "30", "--sync-timeout", "60", "--json"],
      ],
      150_000,
    );
    const report = reportOf(r);
    expect(r.code, r.stderr).toBe(0);
    expect(report.errors).toEqual([]);
    expect(report.fleets.map((f) => [f.protocol, f.proxies, f.synced, f.failed, f.streamErrors])).toEqual([
      ["delta", 50, 50, 0, 0],
      ["sotw", 20, 20, 0, 0],
    ]);
    expect(report.fullSyncMs).toBeGreaterThan(0);

    // One view: every proxy got the same resources, whichever protocol; 12 services → 12 × 3 outbound clusters at least.
    // The proxies claim Envoy 1.40 (the default): delta streams get virtual hosts by VHDS, SotW streams whole route configurations.
    const [delta, sotw] = report.fleets;
    for (const t of SHORT_TYPES) {
      for (const f of report.fleets) {
        expect(f.syncResourcesPerProxy[t].min, `${f.protocol} ${t}`).toBe(f.syncResourcesPerProxy[t].max);
        expect(f.syncResourceBytesPerProxy[t].min, `${f.protocol} ${t}`).toBe(f.syncResourceBytesPerProxy[t].max);
        // The plaintext port sends no secrets, and the mesh's pods are not injected: nothing names any.
        if (t === "sds") expect(f.received[t].msgs, `${f.protocol} ${t}`).toBe(0);
        else if (t !== "vhds" || f.protocol === "delta") expect(f.syncReceived[t].bytes, `${f.protocol} ${t}`).toBeGreaterThan(0);
        expect(f.received[t].bytes).toBeGreaterThanOrEqual(f.syncReceived[t].bytes);
      }
      if (t !== "rds" && t !== "vhds") expect(sotw!.syncResourceBytesPerProxy[t].min, t).toBe(delta!.syncResourceBytesPerProxy[t].min);
    }
    expect(sotw!.received.vhds.msgs).toBe(0);
    // The route configuration without its virtual hosts, which come one per service (and both forms have the catch-all).
    expect(delta!.syncResourcesPerProxy.rds.min).toBe(sotw!.syncResourcesPerProxy.rds.min);
    expect(delta!.syncResourceBytesPerProxy.rds.min).toBeLessThan(sotw!.syncResourceBytesPerProxy.rds.min / 4);
    expect(delta!.syncResourcesPerProxy.vhds.min).toBe(12);
    expect(delta!.syncResourcesPerProxy.cds.min).toBeGreaterThanOrEqual(36);
    expect(delta!.syncResourcesPerProxy.eds.min).toBeGreaterThanOrEqual(36);

    // Every change reached every proxy; both kinds were made.
    expect(report.churn.changes).toHaveLength(changes);
    for (const c of report.churn.changes) {
      expect(c.missing, `change ${c.id} (${c.kind} ${c.marker})`).toBe(0);
      expect(c.converged).toBe(70);
      expect(c.max).toBeGreaterThanOrEqual(c.p50);
    }
    expect(report.churn.byKind.endpoint?.changes).toBe(changes / 2);
    expect(report.churn.byKind.weight?.changes).toBe(changes / 2);
    expect(report.churn.byKind.endpoint?.latency.count).toBe(70 * (changes / 2));
    // The churn moved EDS after the sync, and the weight edits VirtualHosts (delta, VHDS: not one route configuration) or RDS (SotW).
    expect(delta!.received.eds.msgs).toBeGreaterThan(delta!.syncReceived.eds.msgs);
    expect(delta!.received.vhds.msgs).toBeGreaterThan(delta!.syncReceived.vhds.msgs);
    expect(delta!.received.rds.msgs).toBe(delta!.syncReceived.rds.msgs);
    expect(sotw!.received.rds.msgs).toBeGreaterThan(sotw!.syncReceived.rds.msgs);

    // The server, found by its port.
    expect(report.server?.pid).toBe(server!.pid);
    expect(report.server?.error).toBeUndefined();
    expect(report.server!.cpuS).toBeGreaterThan(0);
    expect(report.server!.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    // Not ≥ the sampled peak: the kernel updates VmHWM lazily, so an RSS sampled earlier can exceed it.
    expect(report.server!.vmHwmBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(report.client.cpuS).toBeGreaterThan(0);

    // The human form has the same figures.
    const text = await runLoadgen(
      ["--target", `127.0.0.1:${server!.xdsPort}`, "--proxies", "3", "--services", "2", "--config-dir", dir, "--duration", "0"],
      60_000,
    );
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^delta +3 +3 /m);
    expect(text.stdout).toMatch(/server pid \d+: [\d.]+ CPU s/);
  });

  it("a load proxy subscribes the clusters, endpoints, listeners and routes a real Envoy with the same node subscribes, on delta and SotW", async () => {
    const mesh = new LoadMesh({ services: 5, variant: "basic" });
    const driver = new DirDriver(dir);
    const proxies: LoadProxy[] = [];
    let envoy: Envoy | undefined;
    await driver.setup(mesh);
    try {
      const w = proxyWorkload(0, { mode: "identical", namespace: "bench-0", name: "lg-envoy", groups: 1 });
      const node = istioNode(w, ENVOY_VERSION);
      // The test's Envoy binds real ports, so it captures nothing: both get INTERCEPTION_MODE NONE.
      const noCapture = { ...node, metadata: { ...node.metadata, INTERCEPTION_MODE: "NONE" } };
      const address = `127.0.0.1:${server!.xdsPort}`;
      const expectClusters = mesh.expectedClusters();
      proxies.push(
        new DeltaProxy({ address, index: 0, node: noCapture, expectClusters }),
        new SotwProxy({ address, index: 1, node: noCapture, expectClusters }),
      );
      await until(() => proxies.every((p) => p.synced), "the load proxies in sync", 30_000);
      envoy = await startSidecarEnvoy("loadgen-names", { nodeId: node.id, xdsAddress: address, labels: w.labels, namespace: w.namespace });
      const dump = await envoy.configDump(undefined, { includeEds: true });
      const configs = (dump as { configs: Array<Record<string, unknown>> }).configs;
      const of = (type: string): Record<string, unknown> => configs.find((c) => String(c["@type"]).endsWith(`.${type}`)) ?? {};
      const list = (x: unknown): Array<Record<string, Record<string, unknown>>> => (x as Array<Record<string, Record<string, unknown>>> | undefined) ?? [];
      const clusters = list(of("ClustersConfigDump")["dynamic_active_clusters"]).map((c) => c["cluster"]!);
      const edsName = (c: Record<string, unknown>): string =>
        String((c["eds_cluster_config"] as { service_name?: string } | undefined)?.service_name ?? c["name"]);
      const envoyNames = {
        clusters: clusters.map((c) => String(c["name"])).sort(),
        // What Envoy asks EDS for: its EDS clusters' service names (the endpoint dump also lists static clusters).
        eds: clusters
          .filter((c) => c["type"] === "EDS")
          .map(edsName)
          .sort(),
        listeners: list(of("ListenersConfigDump")["dynamic_listeners"])
          .map((l) => String(l["name"]))
          .sort(),
        rds: list(of("RoutesConfigDump")["dynamic_route_configs"])
          .map((r) => String(r["route_config"]!["name"]))
          .sort(),
        // Envoy's dump lists a route configuration's virtual hosts together; those it got by VHDS carry
        // their resource name, `<route configuration>/<virtual host>` (inline ones have no `/`).
        vhds: list(of("RoutesConfigDump")["dynamic_route_configs"])
          .flatMap((r) => ((r["route_config"]!["virtual_hosts"] ?? []) as { name: string }[]).map((v) => v.name))
          .filter((n) => n.includes("/"))
          .sort(),
        sds: list(of("SecretsConfigDump")["dynamic_active_secrets"])
          .map((s) => String(s["name"]))
          .sort(),
      };
      expect(envoyNames.clusters.length).toBeGreaterThan(15);
      expect(envoyNames.rds.length).toBeGreaterThan(0);
      expect(envoyNames.vhds.length).toBe(5);
      expect(proxies[0]!.names()).toEqual(envoyNames);
      // SotW gets route configurations whole: the same names, no VHDS.
      expect(proxies[1]!.names()).toEqual({ ...envoyNames, vhds: [] });
    } finally {
      for (const p of proxies) p.close();
      await envoy?.stop();
      await driver.teardown(mesh);
    }
  });
});
