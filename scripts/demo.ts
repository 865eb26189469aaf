/**
 * `npm run demo`: the reviews canary on one machine, end to end.
 *
 * meshpilot serves a copy of examples/reviews-canary; two small backends play reviews v1
 * (127.0.0.11:9080) and v2 (127.0.0.12:9080); one real Envoy plays productpage's sidecar
 * (INTERCEPTION_MODE NONE, so its outbound listener really binds 127.0.0.1:9080). The demo sends
 * traffic through that Envoy, shows the split, edits the VirtualService to 50/50 and shows the
 * split again. Exit code 0 when everything behaved, 1 otherwise.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, type RunningServer } from "../src/runtime/serve.js";
import { createLogger } from "../src/log.js";
import { buildBootstrap } from "../src/translate/bootstrap.js";
import { binomialBand, startBackend, tally, type Backend } from "../test/support/backend.js";
import { startEnvoy, type Envoy } from "../test/support/envoy.js";
import { ensureEnvoy, envoyVersion } from "./ensure-envoy.mjs";

const EXAMPLE = fileURLToPath(new URL("../examples/reviews-canary/", import.meta.url));
const PORT = 9080;
const V1_IP = "127.0.0.11";
const V2_IP = "127.0.0.12";
const NODE_ID = "sidecar~127.0.0.10~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local";
const FQDN = "reviews.default.svc.cluster.local";
const N = 1000;
const TESTERS = 50;
/** The whole demo gives up after this. */
const DEMO_TIMEOUT_MS = 180_000;

class DemoError extends Error {}

const say = (s = "") => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rejects with a friendly reason when host:port cannot be bound. */
function checkFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        reject(
          new DemoError(`port ${port} is already in use on ${host}. Is another demo, Envoy or service running? Find it with: ss -ltnp 'sport = :${port}'`),
        );
      } else if (err.code === "EADDRNOTAVAIL") {
        reject(new DemoError(`cannot use ${host}: this demo gives each pod its own loopback address (127.0.0.0/8), which Linux provides without setup`));
      } else reject(new DemoError(`cannot bind ${host}:${port}: ${err.message}`));
    });
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve()));
  });
}

/** Envoy's current weights for the reviews split, by subset (from its admin /config_dump). */
async function envoyWeights(envoy: Envoy): Promise<Record<string, number> | undefined> {
  const dump = await envoy.configDump("dynamic_route_configs");
  type Rc = {
    route_config?: {
      name?: string;
      virtual_hosts?: Array<{ name?: string; routes?: Array<{ route?: { weighted_clusters?: { clusters?: Array<{ name?: string; weight?: number }> } } }> }>;
    };
  };
  for (const e of (dump["configs"] ?? []) as Rc[]) {
    if (e.route_config?.name !== String(PORT)) continue;
    const vh = e.route_config.virtual_hosts?.find((v) => v.name === `${FQDN}:${PORT}`);
    const clusters = vh?.routes?.find((r) => r.route?.weighted_clusters)?.route?.weighted_clusters?.clusters;
    if (!clusters) return undefined;
    return Object.fromEntries(clusters.map((c) => [(c.name ?? "").split("|")[2] ?? "?", c.weight ?? 0]));
  }
  return undefined;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      if (await check()) return performance.now() - t0;
    } catch {
      // not there yet
    }
    if (performance.now() - t0 > timeoutMs) throw new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Sends `n` requests and prints a table. Returns false when the split is outside the band that a
 * correct 100·p % split stays in except with probability ~1e-6, or when any request failed.
 */
async function showSplit(url: string, n: number, expected: Record<string, number>, headers: Record<string, string> = {}): Promise<boolean> {
  const counts = await tally(url, n, { host: "reviews", headers, concurrency: 4, timeoutMs: 5000 });
  let ok = true;
  say("     version   requests   share   expected");
  for (const [version, p] of Object.entries(expected)) {
    const got = counts[version] ?? 0;
    const band = binomialBand(n, p);
    const inBand = got >= band.lo && got <= band.hi;
    ok &&= inBand;
    say(
      `     ${version.padEnd(9)} ${String(got).padStart(8)}   ${((100 * got) / n).toFixed(1).padStart(5)}%   ${String(Math.round(p * 100)).padStart(3)}%  ${inBand ? "✓" : `✗ (expected ${band.lo}–${band.hi})`}`,
    );
  }
  const others = Object.entries(counts).filter(([k]) => !(k in expected));
  if (others.length > 0) {
    ok = false;
    say(`     unexpected answers: ${others.map(([k, v]) => `${k} ×${v}`).join(", ")}`);
  }
  return ok;
}

async function main(): Promise<void> {
  const cleanups: Array<() => Promise<void> | void> = [];
  let cleaningUp: Promise<void> | undefined;
  const cleanup = () =>
    (cleaningUp ??= (async () => {
      while (cleanups.length > 0) {
        try {
          await cleanups.pop()?.();
        } catch {
          // keep going: everything else must still stop
        }
      }
    })());
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      interrupted = true;
      say(`\n${signal}: stopping…`);
      void cleanup().then(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(() => {
    process.stderr.write(`demo: gave up after ${DEMO_TIMEOUT_MS / 1000} s\n`);
    void cleanup().then(() => process.exit(1));
  }, DEMO_TIMEOUT_MS);

  let ok = true;
  try {
    say("meshpilot demo: a canary release of reviews (examples/reviews-canary)");
    say();
    for (const host of ["127.0.0.1", V1_IP, V2_IP]) await checkFree(host, PORT);

    const envoyPath = await ensureEnvoy({ log: (m) => say(`  (installing Envoy, first run only) ${m}`) });
    const version = (await envoyVersion(envoyPath)).split("/")[1] ?? "";

    // A copy, because the demo edits the VirtualService.
    const dir = mkdtempSync(join(tmpdir(), "meshpilot-demo-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(EXAMPLE, dir, { recursive: true });
    const trafficPath = join(dir, "traffic.yaml");

    const server: RunningServer = await startServer({
      configDir: dir,
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger: createLogger(process.env["MESHPILOT_LOG_LEVEL"] ?? "warn"),
    });
    cleanups.push(() => server.stop());
    say(`  ✓ meshpilot serves a copy of the example from ${dir} (xDS on 127.0.0.1:${server.xdsPort})`);

    const v1: Backend = await startBackend({ version: "v1", host: V1_IP, port: PORT });
    cleanups.push(() => v1.close());
    const v2: Backend = await startBackend({ version: "v2", host: V2_IP, port: PORT });
    cleanups.push(() => v2.close());
    say(`  ✓ reviews v1 answers on ${V1_IP}:${PORT}, reviews v2 on ${V2_IP}:${PORT}`);

    const built = buildBootstrap({
      nodeId: NODE_ID,
      xdsAddress: `127.0.0.1:${server.xdsPort}`,
      interception: "NONE",
      labels: { app: "productpage", version: "v1" },
    });
    if (!built.bootstrap) throw new DemoError(`bootstrap: ${built.errors.map((e) => e.message).join("; ")}`);
    const { admin: _admin, ...bootstrap } = built.bootstrap; // admin on a free port rather than 15000
    const envoy = await startEnvoy({ name: "demo", bootstrap, envoyPath });
    cleanups.push(() => envoy.stop());
    await envoy.waitReady(30_000);
    await waitFor("Envoy's 90/10 route", 30_000, async () => (await envoyWeights(envoy))?.["v1"] === 90);
    say(`  ✓ Envoy ${version} plays productpage's sidecar: it got its config from meshpilot (delta ADS) and listens on 127.0.0.1:${PORT}`);

    const url = `http://127.0.0.1:${PORT}/`;
    say();
    say(`1. ${N} requests to reviews through Envoy (VirtualService: 90 % v1, 10 % v2):`);
    ok = (await showSplit(url, N, { v1: 0.9, v2: 0.1 })) && ok;

    say();
    const testers = await tally(url, TESTERS, { host: "reviews", headers: { "x-test-user": "true" }, concurrency: 4, timeoutMs: 5000 });
    const testersOk = testers["v2"] === TESTERS;
    ok &&= testersOk;
    say(`2. ${TESTERS} requests with header x-test-user: true (the testers' rule sends them to v2):`);
    say(`     v2 answered ${testers["v2"] ?? 0} of ${TESTERS}  ${testersOk ? "✓" : `✗ ${JSON.stringify(testers)}`}`);

    say();
    say("3. Editing traffic.yaml on disk: weights 90/10 → 50/50 (nothing is restarted)");
    const text = readFileSync(trafficPath, "utf8");
    const edited = text.replace(/^(\s+)weight: 90$/m, "$1weight: 50").replace(/^(\s+)weight: 10$/m, "$1weight: 50");
    if (edited === text) throw new DemoError("traffic.yaml has no 90/10 weights to edit");
    writeFileSync(trafficPath, edited);
    const ms = await waitFor("Envoy to get the 50/50 route", 10_000, async () => {
      const w = await envoyWeights(envoy);
      return w?.["v1"] === 50 && w["v2"] === 50;
    });
    say(`     Envoy had the new weights ${ms.toFixed(0)} ms after the file was saved`);
    say(`   ${N} requests again:`);
    ok = (await showSplit(url, N, { v1: 0.5, v2: 0.5 })) && ok;

    say();
    say(ok ? "All good: the split, the testers' route and the live edit behaved as configured." : "Something was off: see the ✗ above.");
    say("To run it yourself and send requests with curl, see examples/reviews-canary/README.md.");
  } catch (err) {
    ok = false;
    if (interrupted) return; // the signal handler cleans up and exits
    say();
    process.stderr.write(`demo failed: ${err instanceof DemoError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
  process.exit(ok ? 0 : 1);
}

void main();
