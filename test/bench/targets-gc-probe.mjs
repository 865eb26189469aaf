// Preloaded (`node --expose-gc --import`) into the `meshpilot serve` process the targets bench
// measures: on SIGUSR2 it collects garbage and writes what stays to $MESHPILOT_BENCH_HEAP_FILE,
// so that the heap per connected proxy is measured in the real server process. A signal and a
// file, not IPC: the load generator's process asks, and waits for the answer synchronously, so
// that nothing else it does (the churn) runs while the server collects.
import { renameSync, writeFileSync } from "node:fs";

const file = process.env["MESHPILOT_BENCH_HEAP_FILE"];
if (file && typeof globalThis.gc === "function") {
  process.on("SIGUSR2", () => {
    for (let i = 0; i < 3; i++) globalThis.gc();
    const u = process.memoryUsage();
    writeFileSync(`${file}.tmp`, JSON.stringify({ heap: u.heapUsed, buffers: u.arrayBuffers }));
    renameSync(`${file}.tmp`, file);
  });
}

// With $MESHPILOT_BENCH_MEM_LOG: a line every 2 s of what the process's memory is made of (V8's
// spaces, array buffers, the rest of RSS) and the GC pauses since the last line, to tell a growing
// heap from V8's room for garbage and from memory outside the JS heap.
const memLog = process.env["MESHPILOT_BENCH_MEM_LOG"];
if (memLog) {
  const { appendFileSync } = await import("node:fs");
  const { PerformanceObserver, constants } = await import("node:perf_hooks");
  const v8 = await import("node:v8");
  const pauses = { minor: 0, minorMs: 0, major: 0, majorMs: 0, afterMajor: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const major = e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
      pauses[major ? "major" : "minor"]++;
      pauses[major ? "majorMs" : "minorMs"] += e.duration;
      // Told just after the collection: close to what it left alive.
      if (major) pauses.afterMajor = v8.getHeapStatistics().used_heap_size;
    }
  }).observe({ entryTypes: ["gc"] });
  const t0 = Date.now();
  setInterval(() => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ""), [s.space_size, s.space_used_size]]));
    const cpu = process.cpuUsage();
    appendFileSync(
      memLog,
      `${JSON.stringify({ t: Date.now() - t0, cpu: (cpu.user + cpu.system) / 1e6, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, spaces, ...pauses })}\n`,
    );
  }, 2000).unref();
}
