/**
 * Memory under churn (issue 12: RSS flat over a soak with churn). An in-process server on a
 * config directory, real delta streams of the load generator's sidecars, and the load
 * generator's own edits: 200 changes (pods replaced at new names and addresses, VirtualService
 * splits edited), each written as a file rewrite and waited for until the server recorded its
 * push. Two facts must hold after the first half:
 * - every input object the store held and no longer holds is collected (old readings, replaced
 *   pods), except the few the endpoint indexes still hold until they fold (OVERLAY_HELD): nothing
 *   keeps them per change;
 * - the heap after GC (JS objects and buffers, V8's code left out) grows by less than a bound between change 100 and
 *   change 200 — a holder that keeps even 10 KiB per change would exceed it.
 * Counts and bytes only, never times.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHeapCodeStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { planChange } from "../../src/loadgen/churn.js";
import { clearResponseMemo, DeltaProxy } from "../../src/loadgen/delta-proxy.js";
import { DirDriver } from "../../src/loadgen/dir-driver.js";
import { LoadMesh } from "../../src/loadgen/mesh.js";
import { ENVOY_VERSION, istioNode, proxyWorkload, type FleetShape } from "../../src/loadgen/node.js";
import type { LoadProxy } from "../../src/loadgen/proxy.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { until } from "../support/wait.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const SERVICES = 20;
const PROXIES = 4;
const CHANGES = 200;
const HISTORY = 10;
/**
 * Replaced objects that may still be live: the endpoint indexes (pods by key, slices by service)
 * and the store's maps of each kind lay changed keys over a shared base and keep the values they
 * replaced until the changes fold into a new base, past 64 keys at this size
 * (src/store/kind-map.ts). A holder that keeps one object per change
 * would keep 200.
 */
const OVERLAY_HELD = 2 * 64;
/** Heap growth allowed over the second 100 changes: 10 KiB a change. */
const GROWTH_BOUND = 100 * 10 * 1024;

let dir = "";
let server: RunningServer | undefined;
const proxies: LoadProxy[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "meshpilot-soak-"));
});

afterEach(async () => {
  for (const p of proxies.splice(0)) p.close();
  await server?.stop();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Objects of the store that were collected, counted by a finalization registry. */
class Released {
  private readonly seen = new WeakSet<object>();
  private readonly registry = new FinalizationRegistry<void>(() => this.released++);
  tracked = 0;
  released = 0;

  track(objects: Iterable<object>): void {
    for (const o of objects) {
      if (this.seen.has(o)) continue;
      this.seen.add(o);
      this.registry.register(o);
      this.tracked++;
    }
  }
}

/**
 * Heap after full collections (JS heap and array buffers), once finalizers had their turn, less
 * V8's code (machine code, bytecode and their metadata): the JIT still compiles past change 100
 * (a heap snapshot diff showed ~650 code objects, ~350 KB, of ~450 KB growth). The load clients
 * run in this process: their response memo, which keeps every response it read (up to its byte
 * budget), is emptied first, so that what is measured is the server's data.
 */
async function settledHeap(): Promise<number> {
  clearResponseMemo();
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  await new Promise((r) => setImmediate(r)); // finalization callbacks run after the collection
  const m = process.memoryUsage();
  const code = getHeapCodeStatistics();
  return m.heapUsed + m.arrayBuffers - code.code_and_metadata_size - code.bytecode_and_metadata_size;
}

it("releases replaced input objects and keeps the heap flat over 200 changes", async () => {
  const mesh = new LoadMesh({ services: SERVICES, variant: "basic" });
  const driver = new DirDriver(dir);
  await driver.setup(mesh);
  server = await startServer({
    configDir: dir,
    xdsAddress: "127.0.0.1:0",
    debugAddress: "127.0.0.1:0",
    logger: pino({ level: "silent" }),
    debounceMs: 5,
    historySize: HISTORY,
  });
  const shape: FleetShape = { mode: "workloads", namespace: "bench-0", name: "loadgen", groups: 1, workloadOf: (k) => mesh.workloadOf(k) };
  const expectClusters = mesh.expectedClusters();
  for (let k = 0; k < PROXIES; k++)
    // resume: false — the heap measured is the server's; the clients' resume versions would add to it.
    proxies.push(
      new DeltaProxy({
        address: `127.0.0.1:${server.xdsPort}`,
        index: k,
        node: istioNode(proxyWorkload(k, shape), ENVOY_VERSION),
        expectClusters,
        resume: false,
      }),
    );
  await until(() => proxies.every((p) => p.synced), "every proxy synced", 60_000);

  const store = server.store;
  const released = new Released();
  let heapAtHalf = 0;
  let trackedAtHalf = 0;
  for (let n = 0; n < CHANGES; n++) {
    const plan = planChange(n, SERVICES, ["endpoint", "weight"], "soak");
    if (plan.kind === "endpoint") mesh.moveEndpoint(plan.service, plan.endpoint, { pod: plan.pod, ip: plan.ip });
    else mesh.editSplit(plan.service, plan.v1Weight, plan.mark);
    const revision = store.revision;
    const pushed = server.history.list()[0]?.id ?? 0;
    await driver.apply(mesh, plan);
    await until(() => store.revision > revision && (server!.history.list()[0]?.id ?? 0) > pushed, `change ${n} applied and pushed`);
    released.track(store.snapshot().objects());
    if (n === CHANGES / 2 - 1) {
      heapAtHalf = await settledHeap();
      trackedAtHalf = released.tracked;
    }
  }
  // the proxies got the last change: the server did its work for every change
  await until(() => proxies.every((p) => p.synced && p.error === undefined), "proxies still in sync");

  const heapAtEnd = await settledHeap();
  const live = store.snapshot().size;
  // Each change replaced at least one object, so far more than the live set was tracked.
  expect(released.tracked - trackedAtHalf).toBeGreaterThanOrEqual(CHANGES / 2);
  expect(released.tracked - released.released, `of ${released.tracked} objects the store held, ${live} are live`).toBeLessThanOrEqual(live + OVERLAY_HELD);
  expect(heapAtEnd - heapAtHalf, `heap after GC: ${heapAtHalf} bytes at change ${CHANGES / 2}, ${heapAtEnd} at ${CHANGES}`).toBeLessThan(GROWTH_BOUND);
}, 240_000);
