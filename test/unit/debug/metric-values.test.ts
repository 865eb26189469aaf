// meshpilot's own metrics are written without prom-client (loaded only at the first scrape, for
// the default process metrics): the text must be what prom-client writes for the same metrics.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { CounterValue, expositionText, GaugeValue, HistogramValue, ReadValue } from "../../../src/debug/metric-values.js";
import { Metrics } from "../../../src/debug/metrics.js";

describe("metric values", () => {
  it("write the exposition text prom-client writes for the same metrics and updates", async () => {
    const registry = new Registry();
    const bounds = [0.001, 0.5, 1, 1e3];
    const c = new Counter({ name: "c_total", help: "A counter.", registers: [registry] });
    const cl = new Counter({ name: "cl", help: 'Labelled "quotes" and \\ back\nslash.', labelNames: ["type"], registers: [registry] });
    const g = new Gauge({ name: "g", help: "A gauge.", registers: [registry] });
    const gl = new Gauge({ name: "gl", help: "Labelled gauge.", labelNames: ["severity"], registers: [registry] });
    const h = new Histogram({ name: "h", help: "A histogram.", labelNames: ["type"], buckets: bounds, registers: [registry] });
    const idle = new Histogram({ name: "idle", help: "Never observed.", labelNames: ["type"], buckets: bounds, registers: [registry] });
    void idle;
    new Gauge({
      name: "read",
      help: "Read when scraped.",
      registers: [registry],
      collect() {
        this.set(7);
      },
    });

    const mc = new CounterValue("c_total", "A counter.");
    const mcl = new CounterValue("cl", 'Labelled "quotes" and \\ back\nslash.', ["type"]);
    const mg = new GaugeValue("g", "A gauge.");
    const mgl = new GaugeValue("gl", "Labelled gauge.", ["severity"]);
    const mh = new HistogramValue("h", "A histogram.", ["type"], bounds);
    const midle = new HistogramValue("idle", "Never observed.", ["type"], bounds);
    const mread = new ReadValue("read", "Read when scraped.", "gauge", () => 7);

    c.inc();
    mc.inc();
    cl.inc({ type: 'a"b\\c' }, 3);
    mcl.inc({ type: 'a"b\\c' }, 3);
    cl.inc({ type: "cds" });
    mcl.inc({ type: "cds" });
    g.inc();
    g.inc();
    g.dec();
    mg.inc();
    mg.inc();
    mg.dec();
    gl.set({ severity: "error" }, 2);
    mgl.set({ severity: "error" }, 2);
    gl.set({ severity: "error" }, 5);
    mgl.set({ severity: "error" }, 5);
    for (const [type, v] of [
      ["cds", 0.0005],
      ["cds", 0.001],
      ["eds", 0.7],
      ["cds", 2000],
      ["eds", 0.25],
    ] as const) {
      h.observe({ type }, v);
      mh.observe({ type }, v);
    }
    expect(expositionText([mc, mcl, mg, mgl, mh, midle, mread]) + "\n").toBe(await registry.metrics());
  });

  it("are served with the process's default metrics", async () => {
    const m = new Metrics();
    m.rejectedConfigs.set(3);
    m.buildTime.observe({ path: "full" }, 0.02);
    const { text, contentType } = await m.exposition();
    expect(contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(text).toMatch(/^pilot_xds 0$/m);
    expect(text).toMatch(/^pilot_total_rejected_configs 3$/m);
    expect(text).toMatch(/^meshpilot_build_seconds_bucket\{le="0.05",path="full"\} 1$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total \S+$/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \S+$/m);
    expect(text.endsWith("\n") && !text.endsWith("\n\n")).toBe(true);
  });
});
