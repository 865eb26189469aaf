/**
 * `meshpilot proxy-status` against a running meshpilot (in-process serve, real gRPC): protocol
 * test clients built on grpc-js play Envoy and answer as the test needs — one NACKs a route
 * configuration and then ACKs the fixed one, one holds its ACK. The command's output is what is
 * checked, as a user reads it.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { proxyStatusCommand } from "../../src/cli/proxy-status.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { AdsClient, type SotwStream } from "../support/xds-client.js";
import type { DiscoveryResponse } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { until } from "../support/wait.js";
import { EXAMPLE_DIR, withWeights } from "./mesh-fixture.js";

const PRODUCTPAGE = "sidecar~127.0.0.10~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local";
const RATINGS = "sidecar~127.0.0.40~ratings-v1-1.default~default.svc.cluster.local";
const NACK_MESSAGE = "Error adding/updating route configuration 9080: test client refuses this version";

let dir = "";
let server: RunningServer | undefined;
let client: AdsClient | undefined;
const debugUrl = () => `http://127.0.0.1:${server!.debugPort}`;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "meshpilot-pstatus-"));
  cpSync(EXAMPLE_DIR, dir, { recursive: true });
  server = await startServer({ configDir: dir, xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger: pino({ level: "silent" }), debounceMs: 20 });
  client = new AdsClient(`127.0.0.1:${server.xdsPort}`);
});

afterEach(async () => {
  client?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const node = (id: string) => ({
  id,
  cluster: "default",
  userAgentName: "envoy",
  userAgentVersionType: { case: "userAgentVersion" as const, value: "1.40.0-test" },
});

/** The next response of `type`, ACKing any other type that arrives first. */
async function nextOf(s: SotwStream, type: string, names: Record<string, string[]> = {}): Promise<DiscoveryResponse> {
  for (let i = 0; i < 10; i++) {
    const r = await s.next();
    if (r.typeUrl === type) return r;
    s.ack(r, names[r.typeUrl] ?? []);
  }
  throw new Error(`no ${type} response among 10`);
}

/** A SotW stream that has CDS and LDS ACKed and has asked for route configuration 9080. */
async function subscribed(id: string): Promise<{ s: SotwStream; rds: DiscoveryResponse }> {
  const s = client!.sotw();
  s.send({ node: node(id), typeUrl: TYPE_URL.cluster });
  s.ack(await nextOf(s, TYPE_URL.cluster));
  s.send({ typeUrl: TYPE_URL.listener });
  s.ack(await nextOf(s, TYPE_URL.listener));
  s.send({ typeUrl: TYPE_URL.route, resourceNames: ["9080"] });
  return { s, rds: await nextOf(s, TYPE_URL.route) };
}

const row = (out: string, name: string): string[] => {
  const line = out.split("\n").find((l) => l.startsWith(name + " "));
  if (!line) throw new Error(`no row for ${name} in:\n${out}`);
  return line.split(/\s{2,}/);
};
// Columns: NAME CLUSTER TRANSPORT CDS LDS EDS RDS SDS CONTROL PLANE VERSION
const col = { transport: 2, cds: 3, lds: 4, eds: 5, rds: 6, sds: 7, version: 9 } as const;

describe("meshpilot proxy-status", () => {
  it("shows a NACK with Envoy's message, and SYNCED once a fixed version is ACKed", async () => {
    const { s, rds } = await subscribed(PRODUCTPAGE);
    s.nack(rds, NACK_MESSAGE, "", ["9080"]);
    await until(() => server!.xds.syncStatus()[0]?.types.rds?.state === "NACKED", "the NACK recorded", 5000);

    const out = await proxyStatusCommand({ server: debugUrl(), output: "text" });
    console.log(out);
    const r = row(out, "productpage-v1-6b746f74dc-9stvs.default");
    expect(r[col.transport]).toBe("SOTW");
    expect(r[col.cds]).toMatch(/^SYNCED/);
    expect(r[col.lds]).toMatch(/^SYNCED/);
    expect(r[col.rds]).toBe("NACKED");
    expect(r[col.eds]).toBe("NOT SENT"); // never asked for
    expect(r[col.version]).toBe("1.40.0-test");
    expect(out).toContain(`productpage-v1-6b746f74dc-9stvs.default RDS: ${NACK_MESSAGE}`);

    const detail = await proxyStatusCommand({ server: debugUrl(), output: "text", proxy: "productpage-v1-6b746f74dc-9stvs.default" });
    console.log(detail);
    expect(detail).toContain(`RDS NACK at`);
    expect(detail).toContain(`version ${rds.versionInfo}, nonce ${rds.nonce}`);
    expect(detail).toContain(NACK_MESSAGE);

    // The fix: a new version of the route configuration, which the client accepts.
    writeFileSync(join(dir, "traffic.yaml"), withWeights(readFileSync(join(dir, "traffic.yaml"), "utf8"), 50, 50));
    const fixed = await nextOf(s, TYPE_URL.route);
    expect(fixed.versionInfo).not.toBe(rds.versionInfo);
    s.ack(fixed, ["9080"]);
    await until(() => server!.xds.syncStatus()[0]?.types.rds?.state === "SYNCED", "the ACK recorded", 5000);
    const after = await proxyStatusCommand({ server: debugUrl(), output: "text" });
    expect(row(after, "productpage-v1-6b746f74dc-9stvs.default")[col.rds]).toMatch(/^SYNCED \(\d+s\)$/);
    expect(after).not.toContain("Rejected by the proxy");
    // The detail keeps the superseded NACK for the record.
    const detailAfter = await proxyStatusCommand({ server: debugUrl(), output: "text", proxy: PRODUCTPAGE });
    expect(detailAfter).toContain("RDS last NACK (since superseded)");
    s.end();
  });

  it("shows STALE while a proxy holds its ACK, per proxy and type, for SotW and delta alike", async () => {
    const { s, rds } = await subscribed(PRODUCTPAGE);
    s.ack(rds, ["9080"]);
    // A delta proxy that never answers its route configuration.
    const d = client!.delta();
    d.send({ node: node(RATINGS), typeUrl: TYPE_URL.cluster });
    d.ack(await d.nextOf(TYPE_URL.cluster));
    d.send({ typeUrl: TYPE_URL.route, resourceNamesSubscribe: ["9080"] });
    for (let r = await d.next(); ; r = await d.next()) {
      if (r.typeUrl === TYPE_URL.route) break; // held: no ACK
      d.ack(r);
    }
    await until(() => server!.xds.syncStatus().length === 2, "both proxies connected", 5000);
    await until(() => server!.xds.syncStatus().find((p) => p.id === PRODUCTPAGE)?.types.rds?.state === "SYNCED", "productpage's ACK", 5000);

    const out = await proxyStatusCommand({ server: debugUrl(), output: "text" });
    console.log(out);
    expect(row(out, "ratings-v1-1.default")[col.transport]).toBe("DELTA");
    expect(row(out, "ratings-v1-1.default")[col.cds]).toMatch(/^SYNCED/);
    expect(row(out, "ratings-v1-1.default")[col.rds]).toBe("STALE");
    expect(row(out, "productpage-v1-6b746f74dc-9stvs.default")[col.rds]).toMatch(/^SYNCED/);

    // An edit: productpage is sent the new version and holds it too.
    writeFileSync(join(dir, "traffic.yaml"), withWeights(readFileSync(join(dir, "traffic.yaml"), "utf8"), 70, 30));
    const held = await nextOf(s, TYPE_URL.route);
    await until(() => server!.xds.syncStatus().find((p) => p.id === PRODUCTPAGE)?.types.rds?.nonceSent === held.nonce, "the push recorded", 5000);
    const json = JSON.parse(await proxyStatusCommand({ server: debugUrl(), output: "json", proxy: PRODUCTPAGE })) as {
      types: Record<string, { state: string; versionSent: string; versionAcked: string }>;
    };
    expect(json.types["rds"]).toMatchObject({ state: "STALE", versionSent: held.versionInfo, versionAcked: rds.versionInfo });
    s.ack(held, ["9080"]);
    await until(() => server!.xds.syncStatus().find((p) => p.id === PRODUCTPAGE)?.types.rds?.state === "SYNCED", "the late ACK", 5000);
    s.end();
    d.end();
  });

  it("names the proxies it knows when asked for one that is not connected", async () => {
    const { s } = await subscribed(PRODUCTPAGE);
    await expect(proxyStatusCommand({ server: debugUrl(), output: "text", proxy: "nope.default" })).rejects.toThrow(
      /no proxy nope\.default is connected .*productpage-v1-6b746f74dc-9stvs\.default/,
    );
    s.end();
  });
});
