/**
 * The live view in a real browser: `meshpilot serve` (the built CLI, so the page comes from
 * dist/ as it ships) on a copy of the reviews canary, Debian's Chromium driven headless through
 * playwright-core. The page shows the canary's weights, follows an edit of the VirtualService
 * file, lists a connected proxy (a real gRPC ADS client) with its sync state as it ACKs and NACKs,
 * records the push, lists the finding for a broken subset, and never shows key material.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureChromium } from "../../scripts/ensure-chromium.mjs";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { AdsClient, type DeltaStream } from "../support/xds-client.js";
import { EXAMPLE_DIR, REVIEWS_FQDN, withWeights } from "./mesh-fixture.js";

const ci = process.env.CI === "true";
const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const PROXY = "sidecar~127.0.0.10~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local";
/** Generous: the page must follow an edit; the time it took is printed, not asserted. */
const WAIT_MS = 20_000;

// A TLS Secret in the config: its key must appear nowhere on the page or in its data.
const KEY_TEXT = "live-view-test-private-key-material";
const KEY_B64 = Buffer.from(`-----BEGIN PRIVATE KEY-----\n${KEY_TEXT}\n-----END PRIVATE KEY-----\n`).toString("base64");
const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: reviews-client
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n").toString("base64")}
  tls.key: ${KEY_B64}
`;

let chromiumPath: string | undefined;
let unavailable = "";
let dir = "";
let serve: ChildProcess | undefined;
let serveLog = "";
let debugPort = 0;
let xdsPort = 0;
let browser: Browser | undefined;
let page: Page | undefined;
let client: AdsClient | undefined;
let stream: DeltaStream | undefined;

/** Starts `meshpilot serve` and resolves the ports its "meshpilot ready" log line names. */
function startServe(configDir: string): Promise<{ debugPort: number; xdsPort: number }> {
  const child = spawn(process.execPath, [CLI, "serve", "--config-dir", configDir, "--xds-address", "127.0.0.1:0", "--debug-address", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  serve = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`meshpilot serve did not become ready in ${WAIT_MS} ms:\n${serveLog}`)), WAIT_MS);
    child.once("exit", (code) => reject(new Error(`meshpilot serve exited with ${code}:\n${serveLog}`)));
    // pino writes to stderr; read both.
    for (const output of [child.stdout!, child.stderr!]) {
      createInterface({ input: output }).on("line", (line) => {
        serveLog += `${line}\n`;
        try {
          const entry = JSON.parse(line) as { msg?: string; debugPort?: number; xdsPort?: number };
          if (entry.msg === "meshpilot ready" && entry.debugPort && entry.xdsPort) {
            clearTimeout(timer);
            resolve({ debugPort: entry.debugPort, xdsPort: entry.xdsPort });
          }
        } catch {
          // not a log line of ours
        }
      });
    }
  });
}

/** Weight and endpoint count per subset of a route of reviews, as the page shows them (read in one go). */
function pageWeights(p: Page, route: string): Promise<Record<string, { weight: number; endpoints: number | null }>> {
  return p.locator(`article.service[data-host="${REVIEWS_FQDN}"] tr.route[data-route="${route}"] li.dest`).evaluateAll((lis) => {
    const out: Record<string, { weight: number; endpoints: number | null }> = {};
    for (const li of lis) {
      const e = li.getAttribute("data-endpoints");
      out[li.getAttribute("data-subset") ?? ""] = { weight: Number(li.getAttribute("data-weight")), endpoints: e === null ? null : Number(e) };
    }
    return out;
  });
}

/** Waits until `check` holds on the page; returns the milliseconds it took. */
async function pageUntil(p: Page, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > WAIT_MS) throw new Error(`the page did not show ${what} within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const proxyState = (p: Page, type: string): Promise<string | null> =>
  p
    .locator(`tr.proxy[data-proxy="${PROXY}"] td[data-type="${type}"]`)
    .getAttribute("data-state", { timeout: 1000 })
    .catch(() => null);

beforeAll(async () => {
  try {
    chromiumPath = await ensureChromium({ log: (m) => console.log(`[live-view] ${m}`) });
  } catch (err) {
    if (ci) throw new Error(`CI=true but Chromium could not be installed: ${(err as Error).message}`);
    unavailable = (err as Error).message;
    return;
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), "meshpilot-live-view-"));
  cpSync(EXAMPLE_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "secret.yaml"), SECRET);
  ({ debugPort, xdsPort } = await startServe(dir));
  // Root (CI) cannot use Chromium's sandbox; the page is our own and local.
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  page = await browser.newPage();
}, 600_000);

afterAll(async () => {
  stream?.end();
  client?.close();
  await browser?.close();
  if (serve && serve.exitCode === null) {
    const exited = new Promise((r) => serve!.once("exit", r));
    serve.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (serve.exitCode === null) serve.kill("SIGKILL");
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("live view in headless Chromium", () => {
  it("shows the canary's weights, follows edits, proxies' sync states, pushes and findings", async (ctx) => {
    if (unavailable) ctx.skip(`Chromium is not available: ${unavailable}`);
    const p = page!;
    const errors: string[] = [];
    const requests: string[] = [];
    p.on("pageerror", (e) => errors.push(e.message));
    p.on("request", (r) => requests.push(r.url()));

    const response = await p.goto(`http://127.0.0.1:${debugPort}/`);
    expect(response?.url()).toBe(`http://127.0.0.1:${debugPort}/ui/`);
    await p.locator(`article.service[data-host="${REVIEWS_FQDN}"] tr.route[data-route="canary-split"] li.dest`).first().waitFor({ timeout: WAIT_MS });
    expect(await pageWeights(p, "canary-split")).toEqual({ v1: { weight: 90, endpoints: 1 }, v2: { weight: 10, endpoints: 1 } });
    expect(await pageWeights(p, "testers-to-v2")).toEqual({ v2: { weight: 1, endpoints: 1 } });
    const split = p.locator(`article.service[data-host="${REVIEWS_FQDN}"] tr.route[data-route="canary-split"]`);
    expect(await split.getAttribute("data-origin")).toBe("VirtualService default/reviews spec.http[1]");
    expect(await p.locator("#connection").getAttribute("data-state")).toBe("live");
    expect(await p.locator("tr.finding").count()).toBe(0);

    // A proxy connects and ACKs CDS and RDS: the page lists it, SYNCED.
    client = new AdsClient(`127.0.0.1:${xdsPort}`);
    stream = client.delta();
    stream.send({ node: { id: PROXY }, typeUrl: TYPE_URL.cluster });
    stream.ack(await stream.nextOf(TYPE_URL.cluster));
    stream.send({ typeUrl: TYPE_URL.route, resourceNamesSubscribe: ["9080"] });
    stream.ack(await stream.nextOf(TYPE_URL.route));
    await pageUntil(p, "the proxy as SYNCED", async () => (await proxyState(p, "cds")) === "SYNCED" && (await proxyState(p, "rds")) === "SYNCED");

    // Edit the VirtualService file: the page follows.
    const trafficPath = join(dir, "traffic.yaml");
    const traffic = readFileSync(trafficPath, "utf8");
    writeFileSync(trafficPath, withWeights(traffic, 50, 50));
    const editToPage = await pageUntil(p, "the 50/50 weights", async () => {
      const w = await pageWeights(p, "canary-split");
      return w["v1"]?.weight === 50 && w["v2"]?.weight === 50;
    });
    console.log(`[live-view] file edit → weights on the page: ${editToPage.toFixed(0)} ms`);

    // The push that carried it, and the proxy refusing that route update.
    await pageUntil(p, "the push of the VirtualService edit", async () =>
      (await p.locator("tr.push").allTextContents()).some((t) => t.includes("VirtualService/default/reviews") && t.includes("RDS ~9080")),
    );
    const rds = await stream.nextOf(TYPE_URL.route);
    stream.nack(rds, "live-view test: route 9080 refused");
    await pageUntil(p, "the NACK", async () => (await proxyState(p, "rds")) === "NACKED");
    expect(await p.locator(`tr.proxy[data-proxy="${PROXY}"] td[data-type="rds"]`).textContent()).toContain("live-view test: route 9080 refused");
    expect(await proxyState(p, "cds")).toBe("SYNCED");

    // Break subset v2 (its labels select no pod): the finding is listed, the destination has no endpoints.
    writeFileSync(trafficPath, withWeights(traffic, 50, 50).replace(/^(\s+)version: v2$/m, "$1version: v9"));
    const breakToPage = await pageUntil(p, "the IST0173 finding", async () => (await p.locator('tr.finding[data-code="IST0173"]').count()) === 1);
    console.log(`[live-view] file edit → finding on the page: ${breakToPage.toFixed(0)} ms`);
    const finding = await p.locator('tr.finding[data-code="IST0173"]').textContent();
    expect(finding).toContain("DestinationRule default/reviews");
    expect(finding).toContain('subset "v2"');
    await pageUntil(p, "subset v2 without endpoints", async () => (await pageWeights(p, "canary-split"))["v2"]?.endpoints === 0);

    // Nothing of the Secret's key reaches the page or its data.
    const html = await p.content();
    const state = await (await fetch(`http://127.0.0.1:${debugPort}/ui/state`)).text();
    for (const text of [html, state]) {
      expect(text).not.toContain(KEY_TEXT);
      expect(text).not.toContain(KEY_B64);
      expect(text).not.toContain("PRIVATE KEY");
    }
    expect(errors).toEqual([]);
    // Bundled: the page loads nothing from anywhere but this server.
    expect(requests.filter((u) => !u.startsWith(`http://127.0.0.1:${debugPort}/`) && !u.startsWith("data:"))).toEqual([]);
  });
});
