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
