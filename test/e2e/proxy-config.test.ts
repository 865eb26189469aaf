/**
 * `meshpilot proxy-config` against a real Envoy fed by meshpilot over ADS: the tables read from
 * Envoy's admin, and `--diff` between meshpilot's intent and what Envoy holds — nothing while in
 * sync; the route configuration named, with the weights, while a relay between Envoy and
 * meshpilot holds a VirtualService edit back (and proxy-status then shows RDS STALE); nothing
 * again once the relay lets it through.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { proxyConfigCommand } from "../../src/cli/proxy-config.js";
import { proxyStatusCommand } from "../../src/cli/proxy-status.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { startSidecarEnvoy, stopAllEnvoys, type Envoy } from "../support/envoy.js";
import { startRelay, type Relay } from "../support/relay.js";
import { until } from "../support/wait.js";
import { copyExample, REVIEWS_FQDN, withWeights } from "./mesh-fixture.js";

afterAll(stopAllEnvoys);

interface Ctx {
  server: RunningServer;
  relay: Relay;
  envoy: Envoy;
  dir: string;
  port: number;
  nodeId: string;
  remove: () => void;
}
let ctx: Ctx | undefined;
const c = (): Ctx => ctx!;

beforeEach(async () => {
  const { dir, addrs, remove } = await copyExample("pconfig");
  const server = await startServer({
    configDir: dir,
    xdsAddress: "127.0.0.1:0",
    debugAddress: "127.0.0.1:0",
    logger: pino({ level: "silent" }),
    debounceMs: 20,
  });
  const relay = await startRelay({ host: "127.0.0.1", port: server.xdsPort });
  const nodeId = `sidecar~${addrs.productpageIp}~productpage-v1-1.default~default.svc.cluster.local`;
  ctx = { server, relay, dir, port: addrs.port, nodeId, remove, envoy: undefined as unknown as Envoy };
  ctx.envoy = await startSidecarEnvoy("pconfig", { nodeId, xdsAddress: `127.0.0.1:${relay.port}`, labels: { app: "productpage", version: "v1" } });
});

afterEach(async () => {
  await ctx?.envoy?.stop();
  await ctx?.relay.close();
  await ctx?.server.stop();
  ctx?.remove();
  ctx = undefined;
});

const serverUrl = () => `http://127.0.0.1:${c().server.debugPort}`;
const adminAddr = () => c().envoy.adminUrl.replace(/^http:\/\//, "");
const diff = (output = "text") => proxyConfigCommand({ type: "all", nodeId: c().nodeId, server: serverUrl(), envoyAdmin: adminAddr(), diff: true, output });
/** Where the routes stand: over delta, Envoy gets a VirtualService edit as VHDS virtual hosts. */
const rdsState = () => {
  const t = c().server.xds.syncStatus()[0]?.types;
  const states = [t?.rds?.state, t?.vhds?.state].filter((s) => s !== undefined && s !== "NOT SENT");
  return states.find((s) => s !== "SYNCED") ?? states[0];
};

describe("meshpilot proxy-config against a real Envoy", () => {
  it("prints Envoy's clusters, routes and endpoints as tables", async () => {
    await until(() => rdsState() === "SYNCED", "Envoy ACKs its routes", 20_000);
    const clusters = (await proxyConfigCommand({ type: "clusters", envoyAdmin: adminAddr(), output: "text" })).output;
    console.log(clusters);
    expect(clusters).toMatch(new RegExp(`${REVIEWS_FQDN.replace(/\./g, "\\.")}\\s+${c().port}\\s+v2\\s+outbound\\s+EDS\\s+reviews\\.default`));
    const routes = (await proxyConfigCommand({ type: "routes", envoyAdmin: adminAddr(), output: "text" })).output;
    console.log(routes);
    expect(routes).toMatch(new RegExp(`${c().port}\\s+${REVIEWS_FQDN.replace(/\./g, "\\.")}:${c().port}\\s+.*x-test-user=true\\s+reviews\\.default`));
    const endpoints = (await proxyConfigCommand({ type: "endpoints", envoyAdmin: adminAddr(), output: "text" })).output;
    console.log(endpoints);
    expect(endpoints).toMatch(new RegExp(`:${c().port}\\s+HEALTHY\\s+OK\\s+outbound\\|${c().port}\\|v1\\|`));
  });

  it("--diff: nothing while synced; names the held-back route configuration; nothing once it arrives", async () => {
    await until(async () => rdsState() === "SYNCED" && (await diff()).differences === 0, "Envoy in sync with meshpilot", 20_000).catch(async (e: unknown) => {
      console.log((await diff()).output.slice(0, 6000));
      throw e;
    });
    const synced = await diff();
    console.log(synced.output);
    expect(synced.output).toMatch(/^No differences: the proxy holds what meshpilot intends \(\d+ resources compared\)/);
    expect(synced.stderr).toBe("");

    c().relay.hold();
    const traffic = join(c().dir, "traffic.yaml");
    writeFileSync(traffic, withWeights(readFileSync(traffic, "utf8"), 40, 60));
    // meshpilot has sent the new routes; Envoy, behind the held relay, has not answered.
    await until(() => rdsState() === "STALE", "RDS STALE in meshpilot's stream state", 10_000);
    const status = await proxyStatusCommand({ server: serverUrl(), output: "text" });
    console.log(status);
    expect(status.split("\n")[1]).toMatch(/\bSTALE\b/);

    const held = await diff();
    console.log(held.output);
    expect(held.differences).toBe(1);
    expect(held.output).toContain(`ROUTES ${c().port}: differs`);
    // meshpilot (---) intends 40/60, Envoy (+++) still routes 90/10.
    expect(held.output).toMatch(/^-\s+weight: 40$/m);
    expect(held.output).toMatch(/^\+\s+weight: 90$/m);
    const json = JSON.parse((await diff("json")).output) as { type: string; name: string; change: string }[];
    expect(json.map((d) => [d.type, d.name, d.change])).toEqual([["routes", String(c().port), "differs"]]);

    c().relay.release();
    await until(async () => rdsState() === "SYNCED" && (await diff()).differences === 0, "Envoy catches up", 20_000);
  });
});
