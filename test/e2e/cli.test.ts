/**
 * The built command line (`node dist/cli/main.js`) as a user runs it: `translate`, `analyze`,
 * `bootstrap` (checked by Envoy's own validator) and `serve` as a real process that a real Envoy,
 * started from `bootstrap`'s output, connects to.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { resolveEnvoyPath, startEnvoy, stopAllEnvoys, type Envoy } from "../support/envoy.js";
import { ensureBuilt } from "../support/serve-process.js";
import { freePort } from "../support/net.js";
import { copyExample, EXAMPLE_DIR, pollUntil, withV3Rule } from "./mesh-fixture.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "dist/cli/main.js");
const PROXY = "sidecar~127.0.0.10~productpage-v1.default~default.svc.cluster.local";
const V1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
const V2 = "outbound|9080|v2|reviews.default.svc.cluster.local";
const NO_SUBSET = "outbound|9080||reviews.default.svc.cluster.local";

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion (killed after `timeoutMs`). Never rejects on a non-zero exit. */
function runCli(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [MAIN, ...args], { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as { killed?: boolean }).killed) reject(new Error(`meshpilot ${args.join(" ")}: killed after ${timeoutMs} ms\n${stderr}`));
      else resolve({ code: child.exitCode, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

beforeAll(() => ensureBuilt("cli.test"), 300_000);

afterAll(stopAllEnvoys);

describe("meshpilot translate", () => {
  it("prints every resource type as JSON, with Istio's cluster names", async () => {
    const r = await runCli(["translate", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, Array<{ name?: string; clusterName?: string }>>;
    expect(Object.keys(out).sort()).toEqual(["clusters", "endpoints", "listeners", "routes"]);
    const clusters = (out["clusters"] ?? []).map((c) => c.name);
    expect(clusters).toEqual(expect.arrayContaining([V1, V2, NO_SUBSET]));
    expect((out["endpoints"] ?? []).map((e) => e.clusterName)).toEqual(expect.arrayContaining([V1, V2]));
    expect((out["routes"] ?? []).map((rc) => rc.name)).toContain("9080");
  });

  it("--type prints only that type", async () => {
    const r = await runCli(["translate", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY, "--type", "clusters"]);
    expect(r.code).toBe(0);
    const clusters = JSON.parse(r.stdout) as Array<{ name?: string; type?: string }>;
    expect(Array.isArray(clusters)).toBe(true);
    expect(clusters.map((c) => c.name)).toEqual(expect.arrayContaining([V1, V2, NO_SUBSET]));
    // Clusters only: no listener or route slipped in.
    expect(r.stdout).not.toContain("virtualHosts");
    expect(r.stdout).not.toContain("filterChains");
  });

  it("-o yaml prints the same resources as YAML (the 90/10 route among them)", async () => {
    const r = await runCli(["translate", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY, "--type", "routes", "-o", "yaml", "--interception", "NONE"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trimStart().startsWith("[") || r.stdout.trimStart().startsWith("{")).toBe(false);
    const routes = parseYaml(r.stdout) as Array<{
      name: string;
      virtualHosts: Array<{ name: string; routes: Array<{ route?: { weightedClusters?: { clusters: Array<{ name: string; weight: number }> } } }> }>;
    }>;
    const vh = routes.find((rc) => rc.name === "9080")?.virtualHosts.find((v) => v.name === "reviews.default.svc.cluster.local:9080");
    const weighted = vh?.routes.find((x) => x.route?.weightedClusters)?.route?.weightedClusters?.clusters;
    expect(weighted).toEqual([
      { name: V1, weight: 90 },
      { name: V2, weight: 10 },
    ]);
  });

  it("refuses a malformed --proxy id with exit code 2 and says what the id should look like", async () => {
    const r = await runCli(["translate", "--config-dir", EXAMPLE_DIR, "--proxy", "productpage"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^meshpilot: --proxy: /);
    expect(r.stderr).toContain('"productpage"');
    expect(r.stderr).toContain("type~ip~pod.namespace~namespace.svc.cluster.local");
  });
});

describe("meshpilot analyze", () => {
  let remove: (() => void) | undefined;
  afterEach(() => {
    remove?.();
    remove = undefined;
  });

  it("finds nothing wrong in the bundled example (exit 0)", async () => {
    const r = await runCli(["analyze", "--config-dir", EXAMPLE_DIR]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("No validation issues found");
  });

  it("reports a route to an undefined subset as IST0101 with file and line (exit 1)", async () => {
    const copy = await copyExample("analyze");
    remove = copy.remove;
    const traffic = join(copy.dir, "traffic.yaml");
    writeFileSync(traffic, withV3Rule(readFileSync(traffic, "utf8")));

    const r = await runCli(["analyze", "--config-dir", copy.dir]);
    expect(r.code).toBe(1);
    const line = r.stdout.split("\n").find((l) => l.includes("IST0101"));
    expect(line, r.stdout).toBeDefined();
    // e.g. error IST0101 /tmp/…/traffic.yaml (document 2, line 21) VirtualService default/reviews spec.http[1].route[0].destination.subset: subset "v3" …
    expect(line).toMatch(/^error IST0101 /);
    expect(line).toContain(`${traffic} (document 2, line `);
    expect(line).toMatch(/line \d+\)/);
    expect(line).toContain("VirtualService default/reviews spec.http[1].route[0].destination.subset");
    expect(line).toContain('subset "v3"');

    const json = await runCli(["analyze", "--config-dir", copy.dir, "-o", "json"]);
    expect(json.code).toBe(1);
    const found = (JSON.parse(json.stdout) as Array<{ code: string; source?: { file?: string; line?: number } }>).find((d) => d.code === "IST0101");
    expect(found?.source?.file).toBe(traffic);
    expect(found?.source?.line).toBeGreaterThan(0);

    const yaml = await runCli(["analyze", "--config-dir", copy.dir, "-o", "yaml"]);
    expect(yaml.code).toBe(1);
    expect(parseYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
  });

  it("warns that a Telemetry and a ProxyConfig are not translated, with file and line (exit 0)", async () => {
    const copy = await copyExample("analyze-untranslated");
    remove = copy.remove;
    const security = join(copy.dir, "security.yaml");
    writeFileSync(
      security,
      [
        "apiVersion: telemetry.istio.io/v1",
        "kind: Telemetry",
        "metadata: { name: default, namespace: default }",
        "spec:",
        "  tracing: [{ randomSamplingPercentage: 10 }]",
        "---",
        "apiVersion: networking.istio.io/v1beta1",
        "kind: ProxyConfig",
        "metadata: { name: proxies, namespace: default }",
        "spec:",
        "  concurrency: 2",
        "",
      ].join("\n"),
    );
    const r = await runCli(["analyze", "--config-dir", copy.dir]);
    expect(r.code, r.stdout).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => l.includes("MP0010"));
    expect(lines).toEqual([
      `warning MP0010 ${security} (document 1, line 5) Telemetry default/default spec.tracing: not translated yet: tracing is not configured on any proxy: no spans are reported`,
      `warning MP0010 ${security} (document 2, line 7) ProxyConfig default/proxies: not translated: proxy settings (concurrency, environment variables, image) are not applied`,
    ]);
  });
  it("reads the mesh config: the root namespace decides which PeerAuthentication is mesh-wide", async () => {
    const copy = await copyExample("analyze-mesh-config");
    remove = copy.remove;
    writeFileSync(
      join(copy.dir, "mesh-policy.yaml"),
      [
        "apiVersion: security.istio.io/v1",
        "kind: PeerAuthentication",
        "metadata: { name: strict-reviews, namespace: mesh-root }",
        "spec:",
        "  selector: { matchLabels: { app: reviews } }",
        "  mtls: { mode: STRICT }",
        "",
      ].join("\n"),
    );
    const meshConfig = join(copy.dir, "..", `mesh-config-${process.pid}.yaml`);
    writeFileSync(meshConfig, "rootNamespace: mesh-root\n");
    try {
      const plain = await runCli(["analyze", "--config-dir", copy.dir]);
      expect(plain.stdout, plain.stdout).not.toContain("root namespace");
      for (const args of [
        ["--mesh-config", meshConfig],
        ["--root-namespace", "mesh-root"],
      ]) {
        const r = await runCli(["analyze", "--config-dir", copy.dir, ...args]);
        const line = r.stdout.split("\n").find((l) => l.includes("PeerAuthentication mesh-root/strict-reviews"));
        expect(line, r.stdout).toContain("selector in the root namespace mesh-root applies to no workload");
      }
    } finally {
      rmSync(meshConfig, { force: true });
    }
  });
});

describe("meshpilot bootstrap", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function envoyValidate(file: string): Promise<{ ok: boolean; output: string }> {
    const envoy = await resolveEnvoyPath();
    return new Promise((resolve) => {
      execFile(
        envoy,
        ["--mode", "validate", "-c", file, "--log-level", "warn", "--use-dynamic-base-id", "--concurrency", "1"],
        { timeout: 60_000 },
        (err, stdout, stderr) => {
          resolve({ ok: !err, output: `${stdout}${stderr}`.trim() || (err?.message ?? "") });
        },
      );
    });
  }

  it.each([{ sotw: false }, { sotw: true }])("prints JSON that `envoy --mode validate` accepts (sotw: $sotw)", async ({ sotw }) => {
    const r = await runCli([
      "bootstrap",
      "--node-id",
      PROXY,
      "--xds-address",
      "127.0.0.1:15010",
      "--admin-address",
      "127.0.0.1:15000",
      "--interception",
      "NONE",
      "--label",
      "app=productpage",
      ...(sotw ? ["--sotw"] : []),
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const bootstrap = JSON.parse(r.stdout) as { node: { id: string; metadata: Record<string, unknown> }; dynamicResources: { adsConfig: { apiType: string } } };
    expect(bootstrap.node.id).toBe(PROXY);
    expect(bootstrap.node.metadata["INTERCEPTION_MODE"]).toBe("NONE");
    expect(bootstrap.dynamicResources.adsConfig.apiType).toBe(sotw ? "GRPC" : "DELTA_GRPC");

    dir = mkdtempSync(join(tmpdir(), "meshpilot-cli-bootstrap-"));
    const file = join(dir, "bootstrap.json");
    writeFileSync(file, r.stdout); // the exact bytes the CLI printed
    const valid = await envoyValidate(file);
    expect(valid.ok, valid.output).toBe(true);

    // The validator has teeth: the same bootstrap with a bad enum value is refused.
    const broken = join(dir, "broken.json");
    writeFileSync(broken, r.stdout.replace(/"apiType": "[A-Z_]+"/, '"apiType": "NOT_AN_API_TYPE"'));
    expect((await envoyValidate(broken)).ok).toBe(false);
  });

  it.each([
    { args: ["--node-id", "productpage", "--xds-address", "127.0.0.1:15010", "--admin-address", "127.0.0.1:15000"], says: /--node-id: node id "productpage"/ },
    { args: ["--node-id", PROXY, "--xds-address", "nowhere", "--admin-address", "127.0.0.1:15000"], says: /--xds-address: "nowhere" must be host:port/ },
    { args: ["--node-id", PROXY, "--xds-address", "127.0.0.1:99999", "--admin-address", "127.0.0.1:15000"], says: /--xds-address: port 99999/ },
    {
      args: ["--node-id", PROXY, "--xds-address", "127.0.0.1:15010", "--admin-address", "127.0.0.1:15000", "--label", "novalue"],
      says: /--label "novalue" must be key=value/,
    },
  ])("refuses bad arguments with exit code 2: $args", async ({ args, says }) => {
    const r = await runCli(["bootstrap", ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(says);
  });
});

describe("meshpilot serve, as a real process", () => {
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  let envoy: Envoy | undefined;
  let remove: (() => void) | undefined;

  afterEach(async () => {
    await envoy?.stop();
    envoy = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    child = undefined;
    remove?.();
    remove = undefined;
  });

  it("logs its ports when ready, serves /ready and /metrics, syncs a real Envoy, and exits 0 on SIGTERM", async () => {
    const copy = await copyExample("cli-serve");
    remove = copy.remove;
    const { port, productpageIp } = copy.addrs;

    const proc = spawn(process.execPath, [MAIN, "serve", "--config-dir", copy.dir, "--xds-address", "127.0.0.1:0", "--debug-address", "127.0.0.1:0"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
    let stderr = "";
    let stdout = "";
    proc.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    proc.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    const logLines = () =>
      stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);

    await pollUntil(() => logLines().some((l) => l["msg"] === "meshpilot ready") || proc.exitCode !== null, {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `"meshpilot ready" on stderr`,
    });
    const ready = logLines().find((l) => l["msg"] === "meshpilot ready");
    expect(ready, `serve exited early (${proc.exitCode}): ${stderr}`).toBeDefined();
    const xdsPort = ready?.["xdsPort"];
    const debugPort = ready?.["debugPort"];
    expect(xdsPort).toEqual(expect.any(Number));
    expect(debugPort).toEqual(expect.any(Number));
    expect(xdsPort).not.toBe(0);
    expect(debugPort).not.toBe(0);
    const debug = `http://127.0.0.1:${String(debugPort)}`;

    const readyRes = await fetch(`${debug}/ready`);
    expect(readyRes.status).toBe(200);
    const metrics = await (await fetch(`${debug}/metrics`)).text();
    expect(metrics).toMatch(/^pilot_xds 0$/m);

    // An Envoy started from what `meshpilot bootstrap` prints, with readiness on a health port.
    const nodeId = `sidecar~${productpageIp}~productpage-v1.default~default.svc.cluster.local`;
    const [healthPort, adminPort] = [await freePort(), await freePort()];
    const b = await runCli([
      "bootstrap",
      "--node-id",
      nodeId,
      "--xds-address",
      `127.0.0.1:${String(xdsPort)}`,
      "--admin-address",
      `127.0.0.1:${adminPort}`,
      "--interception",
      "NONE",
      "--label",
      "app=productpage",
      "--label",
      "version=v1",
      "--health-port",
      String(healthPort),
    ]);
    expect(b.code, b.stderr).toBe(0);
    // Free ports: the health listener reaches Envoy's admin at the address the bootstrap names.
    const bootstrap = JSON.parse(b.stdout) as Record<string, unknown>;
    envoy = await startEnvoy({ name: "cli-serve", bootstrap });
    await envoy.waitReady(20_000);
    // Istio's readiness path answers from Envoy's own state once it holds its configuration.
    const health = await fetch(`http://127.0.0.1:${healthPort}/healthz/ready`);
    expect(health.status).toBe(200);

    // Sync status: the proxy is listed, each type ACKed at the version sent.
    type Syncz = Array<{ id: string; transport: string; types: Record<string, { versionSent: string; versionAcked: string; nacks: number }> }>;
    let syncz: Syncz = [];
    await pollUntil(
      async () => {
        syncz = (await (await fetch(`${debug}/debug/syncz`)).json()) as Syncz;
        const me = syncz.find((s) => s.id === nodeId);
        return ["cds", "eds", "lds", "rds"].every((t) => {
          const st = me?.types[t];
          return st !== undefined && st.versionAcked !== "" && st.versionAcked === st.versionSent;
        });
      },
      { timeoutMs: 20_000, intervalMs: 50, what: "/debug/syncz to show the Envoy ACKed cds, eds, lds and rds" },
    );
    expect(syncz).toHaveLength(1);
    expect(syncz[0]?.transport).toBe("delta");
    expect(Object.values(syncz[0]?.types ?? {}).every((t) => t.nacks === 0)).toBe(true);
    expect(await (await fetch(`${debug}/metrics`)).text()).toMatch(/^pilot_xds 1$/m);

    // meshpilot's view of the proxy's config, and Envoy's own, name the same clusters.
    const dumpRes = await fetch(`${debug}/debug/config_dump?proxyID=productpage-v1.default`);
    expect(dumpRes.status).toBe(200);
    const dump = (await dumpRes.json()) as { configs: Array<{ "@type": string; dynamicActiveClusters?: Array<{ cluster: { name: string } }> }> };
    const ours = dump.configs.find((c) => c["@type"].endsWith("ClustersConfigDump"))?.dynamicActiveClusters?.map((c) => c.cluster.name) ?? [];
    expect(ours).toEqual(
      expect.arrayContaining([`outbound|${port}|v1|reviews.default.svc.cluster.local`, `outbound|${port}|v2|reviews.default.svc.cluster.local`]),
    );
    const envoyDump = await envoy.configDump("dynamic_active_clusters");
    const theirs = ((envoyDump["configs"] ?? []) as Array<{ cluster?: { name?: string } }>).map((c) => c.cluster?.name);
    expect([...theirs].sort()).toEqual([...ours].sort());
    expect((await fetch(`${debug}/debug/config_dump?proxyID=nobody.default`)).status).toBe(404);

    // SIGTERM with the Envoy still connected: a clean exit.
    const t0 = performance.now();
    proc.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 10_000))]);
    console.log(`[cli.test] serve exited ${String(code)} ${(performance.now() - t0).toFixed(0)} ms after SIGTERM`);
    expect(code, `serve did not exit 0 within 10 s of SIGTERM; stderr:\n${stderr.slice(-2000)}`).toBe(0);
    expect(logLines().some((l) => l["msg"] === "shutting down" && l["signal"] === "SIGTERM")).toBe(true);
    expect(stdout).toBe("");
  });
});

describe("meshpilot explain", () => {
  it("offline: names the rule, the weights and the endpoints, as text and as JSON", async () => {
    const args = ["explain", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY, "--request", "GET http://reviews:9080/ -H x-test-user:true"];
    const text = await runCli(args);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Outcome: forwarded to outbound\|9080\|v2\|reviews\.default\.svc\.cluster\.local \(1 endpoint, version v2\)$/m);
    expect(text.stdout).toMatch(/^Route: #0 testers-to-v2 from VirtualService default\/reviews spec\.http\[0\]\.match\[0\]$/m);
    const json = await runCli([...args.slice(0, -1), "GET http://reviews:9080/", "-o", "json"]);
    expect(json.code).toBe(0);
    const e = JSON.parse(json.stdout) as { http?: { action?: { clusters?: Array<{ cluster: string; percent: number }> } } };
    expect(e.http?.action?.clusters).toEqual([
      { cluster: V1, weight: 90, percent: 90 },
      { cluster: V2, weight: 10, percent: 10 },
    ]);
  });

  it("a bad request or a missing source is a usage error with the reason", async () => {
    const bad = await runCli(["explain", "--config-dir", EXAMPLE_DIR, "--proxy", PROXY, "--request", "GET http://reviews/ -H nocolon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--request: header "nocolon" must be name:value/);
    const none = await runCli(["explain", "--proxy", PROXY, "--request", "GET http://reviews/"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/exactly one of --config-dir .* and --server/);
  });
});
