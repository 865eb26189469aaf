// The push counters are kept per type and written when Prometheus reads them (metrics.ts): each
// read must show every push so far, once, and a series for every type pushed.
import { describe, expect, it } from "vitest";
import { Metrics } from "../../../src/debug/metrics.js";

function series(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{type="(\\w+)"\\} (\\S+)$`, "gm"))) out[m[1]!] = Number(m[2]);
  return out;
}

describe("push metrics", () => {
  it("count every push once across reads", async () => {
    const m = new Metrics();
    const o = m.observer();
    o.onPush?.("cds", "p1", 100, 3, 0.002, 0);
    o.onPush?.("eds", "p1", 50, 1, 0.02, 2);
    o.onPush?.("eds", "p2", 50, 1, 0.03, 0);
    let text = (await m.exposition()).text;
    expect(series(text, "pilot_xds_pushes")).toEqual({ cds: 1, eds: 2 });
    expect(series(text, "meshpilot_xds_resources_sent")).toEqual({ cds: 3, eds: 2 });
    expect(series(text, "meshpilot_xds_resources_removed")).toEqual({ cds: 0, eds: 2 });
    expect(text).toContain('pilot_xds_push_time_count{type="eds"} 2');
    expect(text).toContain('pilot_xds_config_size_bytes_bucket{le="1000",type="cds"} 1');

    o.onPush?.("eds", "p1", 50, 4, 0.02, 1);
    text = (await m.exposition()).text;
    expect(series(text, "pilot_xds_pushes")).toEqual({ cds: 1, eds: 3 });
    expect(series(text, "meshpilot_xds_resources_sent")).toEqual({ cds: 3, eds: 6 });
    expect(series(text, "meshpilot_xds_resources_removed")).toEqual({ cds: 0, eds: 3 });
    text = (await m.exposition()).text;
    expect(series(text, "pilot_xds_pushes")).toEqual({ cds: 1, eds: 3 });
  });
});
