/**
 * One private copy of the reviews-canary mesh for a behaviour test: meshpilot in-process (file
 * mode, ports 0), two reviews backends, and one real Envoy playing productpage's sidecar in NONE
 * interception mode, so its outbound listener binds 127.0.0.1:<service port> for real.
 *
 * Test files run in parallel, so nothing here is shared: each mesh gets its own temp copy of
 * examples/reviews-canary rewritten to a port of its own (below the kernel's ephemeral range, so
 * that port-0 listeners never take it) and loopback IPs of its own (127.A.B.10/11/12).
 *
 *   const mesh = await startMesh({ name: "canary-delta", sotw: false });
 *   afterEach(() => mesh.stop());
 *   await mesh.tally(1000);              // { v1: 903, v2: 97 }
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino, type Logger } from "pino";
import type { Diagnostic } from "../../src/api/diagnostics.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { httpRequest, startBackend, tally, type Backend, type HttpResponse } from "../support/backend.js";
import { startSidecarEnvoy, type Envoy, type Json } from "../support/envoy.js";
import { canBind, randomInt } from "../support/net.js";
import { until } from "../support/wait.js";

export const EXAMPLE_DIR = fileURLToPath(new URL("../../examples/reviews-canary/", import.meta.url));
const EXAMPLE_FILES = ["services.yaml", "workloads.yaml", "traffic.yaml"] as const;
const EXAMPLE_PORT = 9080;
const PRODUCTPAGE_POD = "productpage-v1-6b746f74dc-9stvs";
export const REVIEWS_FQDN = "reviews.default.svc.cluster.local";

/** Resolves true when `host:port` can be bound right now. */

export interface MeshAddresses {
  /** The reviews service port (also the backends' port and Envoy's outbound listener port). */
  readonly port: number;
  readonly productpageIp: string;
  readonly v1Ip: string;
  readonly v2Ip: string;
}

/**
 * A service port nobody uses and that port-0 binds never get: the kernel hands out ephemeral
 * ports from 32768 up, so pick below that, at random, and check it is free on every address the
 * mesh will bind it on.
 */
export async function pickMeshAddresses(): Promise<MeshAddresses> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(20_000, 32_000);
    const prefix = `127.${randomInt(100, 250)}.${randomInt(1, 254)}`;
    const ips = { productpageIp: `${prefix}.10`, v1Ip: `${prefix}.11`, v2Ip: `${prefix}.12` };
    const free = await Promise.all(["127.0.0.1", ips.v1Ip, ips.v2Ip].map((h) => canBind(h, port)));
    if (free.every(Boolean)) return { port, ...ips };
  }
  throw new Error("no free service port found in 50 attempts");
}

/** The example's text with its service port and pod IPs replaced. */
export function rewriteExample(text: string, a: MeshAddresses): string {
  return text
    .replace(new RegExp(`\\b${EXAMPLE_PORT}\\b`, "g"), String(a.port))
    .replace(/\b127\.0\.0\.10\b/g, a.productpageIp)
    .replace(/\b127\.0\.0\.11\b/g, a.v1Ip)
    .replace(/\b127\.0\.0\.12\b/g, a.v2Ip);
}

/** A temp copy of examples/reviews-canary on fresh addresses (`remove()` deletes it). */
export async function copyExample(name: string): Promise<{ dir: string; addrs: MeshAddresses; remove: () => void }> {
  const addrs = await pickMeshAddresses();
  const dir = mkdtempSync(join(tmpdir(), `meshpilot-${name}-`));
  for (const f of EXAMPLE_FILES) writeFileSync(join(dir, f), rewriteExample(readFileSync(join(EXAMPLE_DIR, f), "utf8"), addrs));
  return { dir, addrs, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** traffic.yaml with the split's weights replaced (a string may smuggle in extra YAML). */
export function withWeights(traffic: string, v1: number | string, v2: number | string): string {
  const out = traffic.replace(/^(\s+)weight: 90$/m, `$1weight: ${v1}`).replace(/^(\s+)weight: 10$/m, `$1weight: ${v2}`);
  if (out === traffic) throw new Error("traffic.yaml no longer has the 90/10 weights this test edits");
  return out;
}

/** The example plus a rule (before the split) that sends `x-canary: v3` to subset v3, which no DestinationRule defines. */
export function withV3Rule(traffic: string): string {
  const rule = [
    "    - name: canary-v3",
    "      match:",
    "        - headers:",
    "            x-canary:",
    "              exact: v3",
    "      route:",
    "        - destination:",
    "            host: reviews",
    "            subset: v3",
    "",
  ].join("\n");
  const out = traffic.replace(/^( {4}- name: canary-split)$/m, `${rule}$1`);
  if (out === traffic) throw new Error("traffic.yaml no longer has the canary-split rule this test extends");
  return out;
}

/** A route as Envoy's /config_dump shows it (snake_case proto JSON), reduced to what tests read. */
export interface DumpedRoute {
  readonly name?: string;
  readonly match?: { headers?: Array<{ name?: string }> };
  readonly route?: { cluster?: string; weighted_clusters?: { clusters?: Array<{ name?: string; weight?: number }> } };
}

export interface RouteConfigState {
  /** Envoy's version_info for the route configuration. */
  readonly version: string;
  /** Routes of the reviews virtual host, in order. */
  readonly routes: readonly DumpedRoute[];
}

export interface MeshFixture {
  readonly name: string;
  readonly sotw: boolean;
  readonly dir: string;
  readonly trafficPath: string;
  /** traffic.yaml as copied from the example (it has no ports or IPs to rewrite). */
  readonly originalTraffic: string;
  readonly port: number;
  readonly server: RunningServer;
  readonly envoy: Envoy;
  readonly v1: Backend;
  readonly v2: Backend;
  /** Envoy's outbound listener for reviews: http://127.0.0.1:<port>/ */
  readonly url: string;
  readonly debugUrl: string;
  /** Cluster name of a reviews subset (`outbound|<port>|v1|reviews.default.svc.cluster.local`). */
  subsetCluster(subset: string): string;
  /** One request through Envoy with `Host: reviews`. */
  request(headers?: Record<string, string>): Promise<HttpResponse>;
  /** `n` requests through Envoy, counted by backend version (`status:<code>` for other answers). */
  tally(n: number, headers?: Record<string, string>): Promise<Record<string, number>>;
  writeTraffic(text: string): void;
  /** What Envoy holds now for the reviews virtual host of route configuration `<port>`. */
  routeConfig(): Promise<RouteConfigState | undefined>;
  /** Weights per subset of the weighted route (`canary-split`), from Envoy's config dump. */
  splitWeights(): Promise<Record<string, number> | undefined>;
  diagnostics(): Diagnostic[];
  /** meshpilot's log lines (JSON), for assertions and for failure messages. */
  logs(): string[];
  stop(): Promise<void>;
}

export interface MeshOptions {
  readonly name: string;
  readonly sotw: boolean;
}

/** Starts a private mesh. On any failure everything started so far is stopped before rethrowing. */
export async function startMesh(opts: MeshOptions): Promise<MeshFixture> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const runCleanups = async () => {
    const errors: unknown[] = [];
    while (cleanups.length > 0) {
      try {
        await cleanups.pop()?.();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  };
  try {
    const { dir, addrs, remove } = await copyExample(opts.name);
    cleanups.push(remove);
    const trafficPath = join(dir, "traffic.yaml");
    const originalTraffic = readFileSync(trafficPath, "utf8");

    const lines: string[] = [];
    const logger: Logger = pino({ level: "info", base: { app: "meshpilot", mesh: opts.name } }, { write: (s: string) => void lines.push(s) });
    const server = await startServer({ configDir: dir, xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger });
    cleanups.push(() => server.stop());

    const v1 = await startBackend({ version: "v1", host: addrs.v1Ip, port: addrs.port });
    cleanups.push(() => v1.close());
    const v2 = await startBackend({ version: "v2", host: addrs.v2Ip, port: addrs.port });
    cleanups.push(() => v2.close());

    const envoy = await startSidecarEnvoy(opts.name, {
      nodeId: `sidecar~${addrs.productpageIp}~${PRODUCTPAGE_POD}.default~default.svc.cluster.local`,
      xdsAddress: `127.0.0.1:${server.xdsPort}`,
      labels: { app: "productpage", version: "v1" },
      sotw: opts.sotw,
      waitReady: false,
    });
    cleanups.push(() => envoy.stop());
    await envoy.waitReady(20_000);
    const listenerName = `127.0.0.1_${addrs.port}`;
    await envoy.waitFor(async () => (await envoy.listenerAddress(listenerName)).port === addrs.port, { timeoutMs: 20_000, what: `listener ${listenerName}` });

    const url = `http://127.0.0.1:${addrs.port}/`;
    const routeConfig = async (): Promise<RouteConfigState | undefined> => {
      const dump = await envoy.configDump("dynamic_route_configs");
      const entries = (dump["configs"] ?? []) as Json[];
      for (const e of entries) {
        const rc = e as { version_info?: string; route_config?: { name?: string; virtual_hosts?: Array<{ name?: string; routes?: DumpedRoute[] }> } };
        if (rc.route_config?.name !== String(addrs.port)) continue;
        // Over delta, Envoy holds the virtual host by its VHDS name, `<route configuration>/<virtual host>`.
        const vhName = `${REVIEWS_FQDN}:${addrs.port}`;
        const vh = rc.route_config.virtual_hosts?.find((v) => v.name === vhName || v.name === `${addrs.port}/${vhName}`);
        return { version: rc.version_info ?? "", routes: vh?.routes ?? [] };
      }
      return undefined;
    };
    const subsetCluster = (subset: string) => `outbound|${addrs.port}|${subset}|${REVIEWS_FQDN}`;

    const mesh: MeshFixture = {
      name: opts.name,
      sotw: opts.sotw,
      dir,
      trafficPath,
      originalTraffic,
      port: addrs.port,
      server,
      envoy,
      v1,
      v2,
      url,
      debugUrl: `http://127.0.0.1:${server.debugPort}`,
      subsetCluster,
      request: (headers = {}) => httpRequest(url, { host: "reviews", headers, timeoutMs: 5000 }),
      tally: (n, headers = {}) => tally(url, n, { host: "reviews", headers, concurrency: 4, timeoutMs: 5000 }),
      writeTraffic: (text) => writeFileSync(trafficPath, text),
      routeConfig,
      async splitWeights() {
        const rc = await routeConfig();
        const weighted = rc?.routes.find((r) => r.route?.weighted_clusters)?.route?.weighted_clusters?.clusters;
        if (!weighted) return undefined;
        const out: Record<string, number> = {};
        for (const c of weighted) out[(c.name ?? "").split("|")[2] ?? "?"] = c.weight ?? 0;
        return out;
      },
      diagnostics: () => server.controlPlane.diagnostics(),
      logs: () => lines,
      stop: runCleanups,
    };

    // The split route must be in Envoy and the backends reachable through it before a test starts.
    await envoy.waitFor(async () => (await mesh.splitWeights())?.["v1"] === 90, { timeoutMs: 20_000, what: "the 90/10 route" });
    await envoy.waitFor(async () => (await mesh.request({ "x-test-user": "true" })).status === 200, {
      timeoutMs: 20_000,
      what: "a first request to reach reviews v2",
    });
    return mesh;
  } catch (err) {
    await runCleanups().catch(() => undefined);
    throw err;
  }
}

/**
 * Polls `check` every `intervalMs` until it returns true; returns the time it took (ms, from
 * `since`). Throws after `timeoutMs`.
 */
export async function pollUntil(
  check: () => Promise<boolean> | boolean,
  opts: { since?: number; intervalMs?: number; timeoutMs: number; what: string },
): Promise<number> {
  const since = opts.since ?? performance.now();
  await until(check, opts.what, Math.max(0, since + opts.timeoutMs - performance.now()), opts.intervalMs ?? 20);
  return performance.now() - since;
}
