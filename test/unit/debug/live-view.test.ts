// The live view's data and feed against an in-process `serve` (no browser: test/e2e/live-view.test.ts
// drives the page in Chromium): TCP splits read from the listeners, the page's assets with their
// Content-Security-Policy, and the event stream sending a new state after a file edit.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { LiveState } from "../../../src/debug/live-view/state.js";
import { startServer, type RunningServer } from "../../../src/runtime/serve.js";
import { EXAMPLE_DIR, REVIEWS_FQDN, withWeights } from "../../e2e/mesh-fixture.js";

const TCP_CASE = fileURLToPath(new URL("../../golden/vs-tcp-tls/input.yaml", import.meta.url));

let dir = "";
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function serve(files: Record<string, string> | string): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), "meshpilot-live-view-"));
  if (typeof files === "string") cpSync(files, dir, { recursive: true });
  else for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  server = await startServer({ configDir: dir, xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger: pino({ level: "silent" }), debounceMs: 20 });
  return `http://127.0.0.1:${server.debugPort}`;
}

/** Reads `count` `state` events from the stream, then closes it. */
async function readEvents(url: string, count: number, between: (n: number) => void): Promise<LiveState[]> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const states: LiveState[] = [];
  let buffer = "";
  const deadline = setTimeout(() => ac.abort(), 20_000);
  try {
    while (states.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split("\n").find((l) => l.startsWith("data: "));
        if (!event.split("\n").includes("event: state") || !data) continue;
        states.push(JSON.parse(data.slice("data: ".length)) as LiveState);
        between(states.length);
      }
    }
  } finally {
    clearTimeout(deadline);
    ac.abort();
  }
  return states;
}

const splitOf = (s: LiveState, route: string): Record<string, number> =>
  Object.fromEntries(
    s.services
      .find((x) => x.hostname === REVIEWS_FQDN)!
      .ports[0]!.routes.find((r) => r.name === route)!
      .destinations.map((d) => [d.subset ?? "", d.weight]),
  );

describe("live view data", () => {
  it("shows a TCP split from the listener's tcp_proxy, with the chain that matches", async () => {
    const base = await serve({ "input.yaml": readFileSync(TCP_CASE, "utf8") });
    const state = (await (await fetch(`${base}/ui/state`)).json()) as LiveState;
    const db = state.services.find((s) => s.hostname === "db.default.svc.cluster.local")!;
    expect(db.ports.map((p) => p.protocol)).toEqual(["TCP"]);
    const routes = db.ports[0]!.routes;
    expect(routes.map((r) => r.destinations.map((d) => `${d.subset}:${d.weight}`))).toEqual([["primary:1"], ["primary:80", "replica:20"]]);
    expect(routes[0]!.match).toContain("10.96.5.0/24");
    expect(routes[1]!.destinations.map((d) => d.percent)).toEqual([80, 20]);
  });

  it("serves the page with a policy that keeps it to its own origin", async () => {
    const base = await serve(EXAMPLE_DIR);
    const root = await fetch(`${base}/`, { redirect: "manual" });
    expect([root.status, root.headers.get("location")]).toEqual([302, "/ui/"]);
    for (const [path, type] of [
      ["/ui/", "text/html"],
      ["/ui/app.js", "text/javascript"],
      ["/ui/style.css", "text/css"],
    ] as const) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    }
    expect(await (await fetch(`${base}/ui/index.html`)).text()).toContain("unknown path");
  });

  it("streams the state on connect and again after a file edit", async () => {
    const base = await serve(EXAMPLE_DIR);
    const trafficPath = join(dir, "traffic.yaml");
    const traffic = readFileSync(trafficPath, "utf8");
    const states = await readEvents(`${base}/ui/events`, 2, (n) => {
      if (n === 1) writeFileSync(trafficPath, withWeights(traffic, 30, 70));
    });
    expect(splitOf(states[0]!, "canary-split")).toEqual({ v1: 90, v2: 10 });
    expect(splitOf(states[1]!, "canary-split")).toEqual({ v1: 30, v2: 70 });
  });
});
