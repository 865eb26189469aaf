// The load generator's process of the targets section: runLoad (src/loadgen) against the server
// the section started, with the options in argv[2]; the report goes to the parent over IPC. At two
// moments it also measures the server's heap after GC (targets-gc-probe.mjs), waiting for the
// answer synchronously so that the churn does not run meanwhile: before the fleet opens its
// streams and once the fleet is in sync. Log lines go to the parent with their time.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { readCpuSeconds } from "../../src/loadgen/proc.js";
import type { LoadReport } from "../../src/loadgen/report.js";
import { runLoad, type LoadOptions } from "../../src/loadgen/run.js";

export interface LoadParams {
  readonly options: Omit<LoadOptions, "log">;
  readonly serverPid: number;
  readonly heapFile: string;
}

export interface Heap {
  readonly heap: number;
  readonly buffers: number;
}

export type LoadMessage =
  | { readonly event: "log"; readonly at: number; readonly line: string }
  | {
      readonly event: "report";
      readonly report: LoadReport;
      /** Heap without the fleet, and with the fleet in sync. */
      readonly heapBefore?: Heap;
      readonly heapSynced?: Heap;
      /** Heap after the churn (the soak's: what the changes left behind, against heapSynced). */
      readonly heapChurned?: Heap;
      /** Server CPU seconds since its start when the fleet was in sync, less what the heap probe spent before. */
      readonly cpuAtSync?: number;
      /** Server CPU seconds since its start when the load generator began writing the mesh (the server ready on an empty directory). */
      readonly cpuAtSetup?: number;
      /** Server CPU seconds since its start once it served the whole mesh to the load generator's probe proxy. */
      readonly cpuAtServed?: number;
      /** Epoch ms of the churn's start. */
      readonly churnAt?: number;
    }
  | { readonly event: "error"; readonly message: string };

const now = (): number => performance.timeOrigin + performance.now();
const pause = new Int32Array(new SharedArrayBuffer(4));

/** The server's heap after GC, and the CPU seconds its probe spent collecting (the bench's work, not the server's). */
function heapNow(p: LoadParams, settleMs: number): { heap: Heap; probeCpuS: number } | undefined {
  Atomics.wait(pause, 0, 0, settleMs); // let the server notice closed streams first
  rmSync(p.heapFile, { force: true });
  const cpu0 = readCpuSeconds(p.serverPid);
  process.kill(p.serverPid, "SIGUSR2");
  const deadline = performance.now() + 60_000;
  while (!existsSync(p.heapFile)) {
    if (performance.now() > deadline) return undefined;
    Atomics.wait(pause, 0, 0, 10);
  }
  return { heap: JSON.parse(readFileSync(p.heapFile, "utf8")) as Heap, probeCpuS: readCpuSeconds(p.serverPid) - cpu0 };
}

const p = JSON.parse(process.argv[2] ?? "{}") as LoadParams;
const found: {
  heapBefore?: Heap;
  heapSynced?: Heap;
  heapChurned?: Heap;
  cpuAtSync?: number;
  cpuAtSetup?: number;
  cpuAtServed?: number;
  churnAt?: number;
} = {};
/** Server CPU spent in the heap probe before the sync: three forced full GCs, 0.2 s at 50 services on a busy machine. */
let probeCpuBeforeSync = 0;
const log = (line: string): void => {
  const at = now();
  process.send?.({ event: "log", at, line } satisfies LoadMessage);
  if (line.startsWith("writing ")) found.cpuAtSetup = readCpuSeconds(p.serverPid);
  else if (line === "the server serves the mesh") found.cpuAtServed = readCpuSeconds(p.serverPid);
  else if (line.startsWith("opening ")) {
    const h = heapNow(p, 1_000);
    if (h) {
      found.heapBefore = h.heap;
      probeCpuBeforeSync += h.probeCpuS;
    }
  } else if (line.startsWith("full sync: ")) {
    found.cpuAtSync = readCpuSeconds(p.serverPid) - probeCpuBeforeSync;
    const h = heapNow(p, 0);
    if (h) found.heapSynced = h.heap;
  } else if (line.startsWith("churn: ")) found.churnAt = at;
  else if (line.startsWith("churn done: ")) {
    const h = heapNow(p, 0);
    if (h) found.heapChurned = h.heap;
  } else if (line.startsWith("full sync incomplete")) {
    // Churning a fleet that is not in sync measures nothing: report what was reached and stop.
    // runLoad's line: "full sync incomplete: N proxies not in sync; the first: <diagnosis> || ..." (targets-scenario.ts splits it).
    const [head, first] = line.split("; the first: ");
    const message = `${head} within ${p.options.syncTimeoutMs ?? "the load generator's default"} ms${first ? `; the first: ${first}` : ""}`;
    process.send?.({ event: "error", message } satisfies LoadMessage, () => process.exit(1));
  }
};
runLoad({ ...p.options, log }).then(
  (report) => void process.send?.({ event: "report", report, ...found } satisfies LoadMessage, () => process.exit(0)),
  (e: unknown) => void process.send?.({ event: "error", message: (e as Error).stack ?? String(e) } satisfies LoadMessage, () => process.exit(1)),
);
