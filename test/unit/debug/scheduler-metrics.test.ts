// The push scheduler's and the view builds' counters, as Prometheus scrapes them from /metrics of
// a real server (file mode, the reviews-canary example) after delta proxies of three workloads
// connected: each of their views is built across turns, and each response was a flush of the
// scheduler.
import { describe, expect, it } from "vitest";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { useExampleServer } from "../../support/example-server.js";

const CDS = TYPE_URL.cluster;
const LDS = TYPE_URL.listener;

/** Sidecars of three workloads (each its own view: a Service selects each by `app`). */
const NODES = [
  { id: "sidecar~10.244.0.11~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local", labels: { app: "productpage", version: "v1" } },
  { id: "sidecar~10.244.0.12~reviews-v1-5b5d6494f4-ktlh8.default~default.svc.cluster.local", labels: { app: "reviews", version: "v1" } },
  { id: "sidecar~10.244.0.13~reviews-v2-5b667bcbf8-4c5vn.default~default.svc.cluster.local", labels: { app: "reviews", version: "v2" } },
];

const example = useExampleServer();

/** `name value` lines of the Prometheus text format (metrics without labels). */
async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${example.server.debugPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe("push scheduler metrics", () => {
  it("count the turns, flushes and view builds of proxies connecting", async () => {
    const before = await scrape();
    let responses = 0;
    const streams = NODES.map((n) => {
      const s = example.client.delta();
      s.send({ node: { id: n.id, cluster: n.labels.app, metadata: { LABELS: n.labels } as never }, typeUrl: CDS, resourceNamesSubscribe: ["*"] });
      s.send({ typeUrl: LDS, resourceNamesSubscribe: ["*"] });
      return s;
    });
    for (const s of streams) {
      await s.nextOf(CDS);
      await s.nextOf(LDS);
      responses += 2;
    }
    const m = await scrape();
    for (const s of streams) s.cancel();

    const grew = (name: string): number => (m.get(name) ?? NaN) - (before.get(name) ?? NaN);
    // Every response written was one stream's flush on one of the scheduler's turns.
    expect(grew("meshpilot_xds_push_flushes_total")).toBeGreaterThanOrEqual(responses);
    expect(grew("meshpilot_xds_push_turns_total")).toBeGreaterThan(0);
    expect(grew("meshpilot_xds_push_turns_total")).toBeLessThanOrEqual(grew("meshpilot_xds_push_flushes_total"));
    expect(m.get("meshpilot_xds_push_longest_turn_seconds")).toBeGreaterThan(0);
    expect(m.get("meshpilot_xds_push_queue_streams")).toBe(0);
    // A tiny mesh never reaches the 32 MiB cap.
    expect(m.get("meshpilot_xds_push_deferred_total")).toBe(0);
    expect(m.get("meshpilot_xds_push_abandoned_total")).toBe(0);
    expect(m.has("meshpilot_xds_push_inflight_bytes")).toBe(true);
    // Three views, each built across turns: a translation step and a step per resource at least.
    expect(grew("meshpilot_view_build_steps_total")).toBeGreaterThan(NODES.length * 2);
    expect(grew("meshpilot_view_build_turns_total")).toBeGreaterThan(0);
    expect(m.get("meshpilot_view_build_longest_turn_seconds")).toBeGreaterThan(0);
    expect(m.get("meshpilot_view_builds_waiting")).toBe(0);
  });
});
