/**
 * Push history of a running meshpilot (in-process serve, real gRPC clients as proxies): a
 * VirtualService edit is recorded as an RDS change for exactly the proxies whose view has that
 * VirtualService (a proxy in a namespace whose Sidecar hides it is not listed), an endpoint change
 * as EDS only; the diff of a changed route configuration is served on request. Also
 * `meshpilot translate --diff`, which shows the same change before it is applied.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { translateDiffCommand } from "../../src/cli/translate.js";
import type { PushRecord, ResourceDiff } from "../../src/debug/history.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { AdsClient, type DeltaStream } from "../support/xds-client.js";
import { until } from "../support/wait.js";
import { EXAMPLE_DIR, withWeights } from "./mesh-fixture.js";

const PRODUCTPAGE = "sidecar~127.0.0.10~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local";
const REVIEWS = "sidecar~127.0.0.11~reviews-v1-5b5d6494f4-ktlh8.default~default.svc.cluster.local";
const RATINGS = "sidecar~127.0.0.40~ratings-1.other~other.svc.cluster.local";

/** A namespace whose Sidecar lets its proxies see only their own namespace: reviews is hidden there. */
const OTHER_NAMESPACE = `apiVersion: v1
kind: Namespace
metadata:
  name: other
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: other
spec:
  egress:
    - hosts: ["./*"]
`;

let dir = "";
let server: RunningServer | undefined;
let client: AdsClient | undefined;
const streams: DeltaStream[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "meshpilot-history-"));
  cpSync(EXAMPLE_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "other.yaml"), OTHER_NAMESPACE);
  server = await startServer({ configDir: dir, xdsAddress: "127.0.0.1:0", debugAddress: "127.0.0.1:0", logger: pino({ level: "silent" }), debounceMs: 20 });
  client = new AdsClient(`127.0.0.1:${server.xdsPort}`);
});

afterEach(async () => {
  for (const s of streams.splice(0)) s.end();
  client?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A proxy that connects (its view is built) and ACKs what it is sent. */
async function connect(id: string): Promise<void> {
  const s = client!.delta();
  streams.push(s);
  s.send({ node: { id }, typeUrl: TYPE_URL.cluster });
  s.ack(await s.nextOf(TYPE_URL.cluster));
}

async function history(query = ""): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${server!.debugPort}/debug/history${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** The newest push after `afterId`, waited for. */
async function nextPush(afterId: number): Promise<PushRecord> {
  let found: PushRecord | undefined;
  await until(
    async () => {
      const { pushes } = (await history()) as { pushes: PushRecord[] };
      found = pushes.find((p) => p.id > afterId);
      return found !== undefined;
    },
    "a new push in /debug/history",
    10_000,
  );
  return found!;
}

const proxiesWith = (p: PushRecord, type: string): string[] => p.groups.filter((g) => g.types[type as "rds"] !== undefined).flatMap((g) => g.proxies);
const typesOf = (p: PushRecord): string[] => [...new Set(p.groups.flatMap((g) => Object.keys(g.types)))].sort();

describe("push history", () => {
  it("records a VirtualService edit as RDS for the proxies that see it, an endpoint change as EDS only", async () => {
    await Promise.all([connect(PRODUCTPAGE), connect(REVIEWS), connect(RATINGS)]);
    await until(() => server!.xds.syncStatus().length === 3, "three proxies connected", 5000);
    const start = ((await history()) as { pushes: PushRecord[] }).pushes[0]?.id ?? 0;

    const traffic = join(dir, "traffic.yaml");
    writeFileSync(traffic, withWeights(readFileSync(traffic, "utf8"), 60, 40));
    const vsPush = await nextPush(start);
    console.log(JSON.stringify(vsPush, null, 2));
    expect(vsPush.trigger).toEqual({ objects: ["VirtualService/default/reviews"], fastPath: false });
    expect(typesOf(vsPush)).toEqual(["rds"]);
    expect(proxiesWith(vsPush, "rds").sort()).toEqual([PRODUCTPAGE, REVIEWS]);
    for (const g of vsPush.groups) expect(g.types.rds).toEqual({ added: [], changed: ["9080"], removed: [] });

    // The diff of the route configuration, on request.
    const diffs = (await history(`?push=${vsPush.id}&resource=9080&type=rds`)) as ResourceDiff[];
    expect(diffs).toHaveLength(1);
    expect(diffs[0]!.diff).toMatch(/^-\s+weight: 90$/m);
    expect(diffs[0]!.diff).toMatch(/^\+\s+weight: 60$/m);

    const workloads = join(dir, "workloads.yaml");
    const text = readFileSync(workloads, "utf8");
    const notReady = text.replace(/(addresses: \["127\.0\.0\.12"\]\n\s+conditions:\n\s+ready:) true/, "$1 false");
    expect(notReady).not.toBe(text);
    writeFileSync(workloads, notReady);
    const epPush = await nextPush(vsPush.id);
    console.log(JSON.stringify(epPush, null, 2));
    expect(epPush.trigger).toEqual({ objects: ["EndpointSlice/default/reviews-x7k2m"], fastPath: true });
    expect(typesOf(epPush)).toEqual(["eds"]);
    expect(proxiesWith(epPush, "eds").sort()).toEqual([PRODUCTPAGE, REVIEWS]);
    const changed = epPush.groups[0]!.types.eds!.changed;
    expect(changed).toContain("outbound|9080|v2|reviews.default.svc.cluster.local");
    expect(changed).not.toContain("outbound|9080|v1|reviews.default.svc.cluster.local");

    // Unknown pushes and resources are answered with reasons.
    const res = await fetch(`http://127.0.0.1:${server!.debugPort}/debug/history?push=${vsPush.id}&resource=nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toContain("did not change a resource named nope");
  });

  it("translate --diff shows what an edit would change for a proxy, before it is applied", async () => {
    const other = mkdtempSync(join(tmpdir(), "meshpilot-history-b-"));
    try {
      cpSync(dir, other, { recursive: true });
      writeFileSync(join(other, "traffic.yaml"), withWeights(readFileSync(join(other, "traffic.yaml"), "utf8"), 60, 40));
      const forProductpage = await translateDiffCommand({ configDir: dir, otherDir: other, proxy: PRODUCTPAGE, output: "text" });
      if ("error" in forProductpage) throw new Error(forProductpage.error);
      console.log(forProductpage.output);
      expect(forProductpage.changes).toBe(1);
      expect(forProductpage.output).toContain("ROUTES 9080: changed");
      expect(forProductpage.output).toMatch(/^\+\s+weight: 60$/m);
      const forRatings = await translateDiffCommand({ configDir: dir, otherDir: other, proxy: RATINGS, output: "text" });
      if ("error" in forRatings) throw new Error(forRatings.error);
      expect(forRatings.changes).toBe(0);
      expect(forRatings.output).toMatch(/^No change for /);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
