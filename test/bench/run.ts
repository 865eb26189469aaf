// `npm run bench`: translation scaling, push over real gRPC streams, heap. Tables go to stdout,
// progress to stderr. Timing is reported, never asserted; what is asserted is behaviour the
// numbers depend on (valid input, the EDS fast path sending only EDS, every client in sync).
//
// Knobs (environment):
//   BENCH_QUICK=1     smaller sizes, for working on the bench itself (about 1 minute)
//   BENCH_CLIENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p"  extra node flags for the client process
//   BENCH_ONLY=kube   only section 4 (Kubernetes: API write → Envoy latency, informer memory; test/bench/kube.ts)
//   BENCH_ONLY=sidecar  only section 1b (bytes a proxy receives with and without a namespace-scoping Sidecar)
//   BENCH_ONLY=edit   only section 1c (CPU of the rebuild after one VirtualService or DestinationRule edit or a replaced pod; test/bench/edit-rebuild.ts)
//   BENCH_ONLY=startup  only section 7 (start-up: --help, translate, serve at 50 services / 10 proxies; test/bench/startup.ts)
//   BENCH_SERVE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p"  extra node flags for the `meshpilot serve` of sections 6 and 7
//   BENCH_MESHPILOT_MAIN=/path/to/dist/cli/main.js  the build sections 6 and 7 start (A/B against another build)
//   BENCH_LOAD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p"  extra node flags for section 6's load generator process
//   BENCH_ONLY=workloads  only section 5 (distinct workloads: alike / distinct / 10 groups of client labels)
//   BENCH_WORKLOAD_CLIENTS=100,200  the client counts of section 5 (default 100,200,1000; quick: 100)
//   BENCH_WORKLOAD_REPEAT=3  rounds of section 5 per client count (medians; default 1)
//   BENCH_WORKLOAD_MODES=identical,workloads  the label modes of section 5 (default all: identical,distinct,groups,workloads)
//   BENCH_ONLY=targets  only section 6 (issue 12's targets: figure, target, ratio; test/bench/targets.ts)
//   BENCH_TARGETS_*   section 6's sizes, churn, soak, scaling rows, label modes and parts (test/bench/targets-plan.ts KNOBS;
//                     e.g. BENCH_TARGETS_PARTS=scaling BENCH_TARGETS_SERVICE_STEPS=100,1000 for scaling rows only)
//   BENCH_ONLY=reconnect  only section 7 (N proxies reconnecting at once: stall, errors; test/bench/reconnect-storm.ts)
//   BENCH_RECONNECT_CLIENTS=2000  the proxies of section 7 (default 2000; quick: 500)
//   MESHPILOT_SKIP_KUBE=1  skip section 4 (it needs root and the kube binaries, built once before anything is timed)
// Everything is bounded: each wait has a timeout and a watchdog ends the run after BUDGET_MS.
import { runEditRebuild } from "./edit-rebuild.js";
import { cpus, loadavg } from "node:os";
import { HEAP_HEADER, heapRowCells, measureHeap, total, type HeapRow } from "./heap.js";
import { pushTable, runPush, type PushResult } from "./push.js";
import { bytes, formatTable, hasGc, markdownTable, ms, ratio, type Table } from "./report.js";
import { featureRatios, runTranslation, totalMs, type TranslationRow, type UpdateRow } from "./translation.js";
import { prepareKube, runKubeSection } from "./kube.js";
import { runSidecarScope } from "./sidecar-scope.js";
import { runTargets } from "./targets.js";
import { runStartup, startupTable } from "./startup.js";
import { targetsTable } from "./targets-table.js";
import { reconnectStormRow, runReconnectStorm } from "./reconnect-storm.js";
import { runWorkloads, workloadsMarkdown, workloadsTable } from "./workloads.js";
import { LABEL_MODES, type LabelMode } from "./mesh.js";

const BUDGET_MS = 9 * 60_000;
/** Section 6 starts no scenario after this (each is bounded: a main-scale one by about 23 minutes, the soak by 32). */
const TARGETS_START_WITHIN_MINUTES = { quick: 15, full: 80 };
/** Section 6's watchdog: the start budget plus the longest scenario that may start at its end. */
const TARGETS_OVERRUN_MINUTES = { quick: 10, full: 35 };
const PUSH_ROUND_LIMIT_MS = 120_000;
const quick = process.env["BENCH_QUICK"] === "1";
const only = process.env["BENCH_ONLY"];

let watchdog = startWatchdog(BUDGET_MS);

function startWatchdog(budgetMs: number): NodeJS.Timeout {
  const t = setTimeout(() => {
    process.stderr.write(`bench: still running after ${budgetMs / 60_000} minutes; giving up\n`);
    process.exit(2);
  }, budgetMs);
  t.unref();
  return t;
}

const t0 = performance.now();
const log = (s: string): void => void process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);
const print = (t: Table): void => void process.stdout.write(`\n${formatTable(t)}\n`);
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

async function main(): Promise<void> {
  if (!hasGc()) throw new Error("bench: run with node --expose-gc (npm run bench does)");
  const loadBefore = load();
  process.stdout.write(
    `meshpilot bench — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average before: ${loadBefore}${quick ? " (BENCH_QUICK)" : ""}\n`,
  );
  if (only === "workloads") return workloads();
  if (only === "targets") return targets();
  if (only === "startup") return startup();
  if (only === "reconnect") return reconnect();
  if (only === "sidecar") return void print(runSidecarScope(quick ? 100 : 1000));
  if (only === "edit") return void print(runEditRebuild(quick ? 100 : 1000, log));
  // Section 4's binaries: a cold build (~10 min) happens here, before anything is timed, and does not count against the budget.
  const kubeReady = await prepareKube(log);
  watchdog.refresh();
  if (only === "kube") return kubernetes(kubeReady);

  // 1. Translation.
  const sizes = quick ? [10, 100, 1000] : [10, 100, 1000, 5000];
  log(`section 1: translation at N = ${sizes.join(", ")}`);
  const tr = runTranslation(sizes, ["basic", "full"], log);
  for (const t of tr.tables) print(t);
  log("section 1b: bytes with and without a Sidecar");
  print(runSidecarScope(quick ? 100 : 1000));
  log("section 1c: one edit's rebuild CPU");
  print(runEditRebuild(quick ? 100 : 1000, log));

  // 2. Push. The 1000-service mesh to 10, 100 and 1000 clients (1000 × 5 MiB ≈ 5 GB through
  // loopback, about a minute on an idle 2-core machine); a round estimated (from the previous one)
  // to exceed PUSH_ROUND_LIMIT_MS is skipped and reported. The 100-service mesh to 1000 clients
  // always runs: the fallback, and per-proxy cost against mesh size.
  const plans: { services: number; clients: number[] }[] = quick
    ? [{ services: 100, clients: [10, 100] }]
    : [
        { services: 1000, clients: [10, 100, 1000] },
        { services: 100, clients: [1000] },
      ];
  const pushes: PushResult[] = [];
  for (const p of plans) {
    log(`section 2: push, ${p.services} services, ${p.clients.join("/")} clients`);
    pushes.push(
      await runPush({ services: p.services, variant: "basic", clientCounts: p.clients, syncTimeoutMs: 240_000, maxEstimatedSyncMs: PUSH_ROUND_LIMIT_MS, log }),
    );
  }
  print(pushTable(pushes));

  // 3. Heap.
  log("section 3: heap");
  const heapServices = quick ? 100 : 1000;
  const heaps: HeapRow[] = [measureHeap(heapServices, "basic"), measureHeap(heapServices, "full")];
  print({
    title: `3. Memory after GC (heapUsed + ArrayBuffers): the ${heapServices}-service mesh, one sidecar view`,
    header: HEAP_HEADER,
    rows: heaps.map(heapRowCells),
    notes: [
      "view JSON = translateProxy output, if kept (the ControlPlane does not); view snapshot = encoded Resources (bodies + names + versions); ControlPlane + 1 view = model, analysis, snapshot and the EDS targets of the view.",
    ],
  });
  print({
    title: "3b. Server heap per connected proxy (from section 2; heapUsed delta after GC / clients)",
    header: ["services", "clients", "heap/proxy", "buffers/proxy", "heap for 1000 proxies"],
    rows: pushes.flatMap((p) => p.rounds.map((r) => [p.services, r.clients, bytes(r.heapPerProxy), bytes(r.buffersPerProxy), bytes(r.heapPerProxy * 1000)])),
  });

  process.stdout.write(`\nload average after: ${load()} (before: ${loadBefore}); bench took ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  process.stdout.write(`\n${summary(tr.rows, tr.updates, pushes, heaps, `${loadBefore} → ${load()}`)}\n`);
  await workloads();
  await startup();
  await kubernetes(kubeReady);
  await reconnect();
  await targets();
}

// 7. Proxies reconnecting at once after a restart (test/bench/reconnect-storm.ts; issue 12 item 4).
async function reconnect(): Promise<void> {
  const loadBefore = load();
  const clients = Number(process.env["BENCH_RECONNECT_CLIENTS"] ?? (quick ? 500 : 2000));
  const services = quick ? 50 : 100;
  log(`section 7: ${clients} proxies reconnecting at once, ${services} services`);
  watchdog.refresh();
  const r = await runReconnectStorm({ services, clients, labels: "workloads", timeoutMs: 300_000 });
  watchdog.refresh();
  print(
    targetsTable(
      `7. Reconnect storm (load average ${loadBefore} → ${load()})`,
      [reconnectStormRow(r)],
      [
        "A fresh server (config loaded, no view built); every client opens its stream at the same moment, each a pod of one of the mesh's services, each its own connection. Stall: monitorEventLoopDelay max in the server process.",
        `Server CPU ${(r.serverCpuMs / 1000).toFixed(1)} s; streams dropped ${r.disconnects}; push cap held ${r.heldAtCap} times.`,
      ],
    ),
  );
}

// 6. Issue 12's targets (test/bench/targets.ts). The watchdog's budget is the section's own:
// each of its waits is bounded, but together they are longer than the other sections'.
async function targets(): Promise<void> {
  const startWithinMinutes = Number(process.env["BENCH_TARGETS_START_WITHIN_MIN"] ?? TARGETS_START_WITHIN_MINUTES[quick ? "quick" : "full"]);
  clearTimeout(watchdog);
  watchdog = startWatchdog((startWithinMinutes + TARGETS_OVERRUN_MINUTES[quick ? "quick" : "full"]) * 60_000);
  const loadBefore = load();
  const started = performance.now();
  const r = await runTargets({ quick, log, startWithinMs: startWithinMinutes * 60_000, env: process.env });
  for (const t of r.tables) print(t);
  process.stdout.write(r.notRun.length ? `\nsection 6: scenarios NOT RUN:\n  ${r.notRun.join("\n  ")}\n` : "\nsection 6: every scenario ran\n");
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  process.stdout.write(
    `\n=== Section 6 (markdown, for the README's "Targets (issue 12)") — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}; load average (1, 5, 15 min) ${loadBefore} → ${load()}; section took ${minutes} min${quick ? "; BENCH_QUICK sizes" : ""} ===\n\n${r.markdown}\n`,
  );
}

// 7. Start-up of the built CLI (test/bench/startup.ts): fresh processes, medians.
async function startup(): Promise<void> {
  const loadBefore = load();
  log("section 7: start-up");
  const rows = await runStartup({ runs: quick ? 3 : 7, log });
  watchdog.refresh();
  print(startupTable(rows, `${loadBefore} → ${load()}`));
}

// 5. Distinct workloads (test/bench/workloads.ts): rows in their own processes, bounded each.
async function workloads(): Promise<void> {
  const loadBefore = load();
  const services = quick ? 100 : 1000;
  const clientCounts = (process.env["BENCH_WORKLOAD_CLIENTS"] ?? (quick ? "100" : "100,200,1000")).split(",").map(Number);
  const repeat = Number(process.env["BENCH_WORKLOAD_REPEAT"] ?? "1");
  const modes = process.env["BENCH_WORKLOAD_MODES"]?.split(",").map((m) => {
    if (!(LABEL_MODES as readonly string[]).includes(m)) throw new Error(`BENCH_WORKLOAD_MODES: "${m}" is none of ${LABEL_MODES.join(", ")}`);
    return m as LabelMode;
  });
  const rows = await runWorkloads({
    services,
    clientCounts,
    repeat,
    ...(modes ? { modes } : {}),
    timeoutMs: 180_000,
    log: (s) => (watchdog.refresh(), log(s)),
  });
  watchdog.refresh();
  print(workloadsTable(rows, services));
  process.stdout.write(`\n=== Section 5 (markdown) — ${services} services; load average ${loadBefore} → ${load()} ===\n\n${workloadsMarkdown(rows)}\n`);
}

// 4. Kubernetes (test/bench/kube.ts); its markdown follows the summary above.
async function kubernetes(ready: boolean): Promise<void> {
  if (!ready) return void process.stdout.write("\n4. Kubernetes: skipped (MESHPILOT_SKIP_KUBE=1)\n");
  const loadBefore = load();
  log("section 4: Kubernetes");
  const k = await runKubeSection({ quick, log });
  for (const t of k.tables) print(t);
  process.stdout.write(`\n${k.summary}\n\n(section 4: load average ${loadBefore} → ${load()}; bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
}

function summary(
  rows: readonly TranslationRow[],
  updates: readonly UpdateRow[],
  pushes: readonly PushResult[],
  heaps: readonly HeapRow[],
  loads: string,
): string {
  const tRows = rows.map((r, i) => {
    const prev = i > 0 && rows[i - 1]!.variant === r.variant ? rows[i - 1] : undefined;
    return [
      r.variant,
      r.n,
      ms(r.buildMs),
      ms(r.translateMs),
      ms(r.encodeMs),
      ms(totalMs(r)),
      bytes(r.bytesByType.reduce((a, b) => a + b, 0)),
      prev ? ratio(totalMs(r) / totalMs(prev) / (r.n / prev.n)) : "-",
    ];
  });
  const fRows = featureRatios(rows).map((x) => [x.n, ratio(x.total), ratio(x.parts[1]!), ratio(x.parts[2]!), ratio(x.bytes)]);
  const pRows = pushes.flatMap((p) => [
    ...p.rounds.map((r) => [
      p.services,
      r.clients,
      (r.syncBytesPerClient / 1024 / 1024).toFixed(2),
      ms(r.syncMaxMs),
      ms(r.syncServerLoopMaxMs),
      ms(r.changeMaxMs),
      `${Math.round(r.changeEdsBytesPerClient)} B (EDS only)`,
      bytes(r.heapPerProxy),
    ]),
    ...(p.failed ? [[p.services, p.failed.clients, "-", `failed: ${p.failed.message}`, ms(p.failed.serverLoopMaxMs), "-", "-", "-"]] : []),
  ]);
  const uRows = updates.map((u) => [
    u.variant,
    u.n,
    ms(u.fullMs),
    `${u.endpointMeasured ? "" : "~"}${ms(u.endpointMs)}`,
    ms(u.modelMs),
    ms(u.analyzeMs),
    ms(u.edsMs),
  ]);
  const hRows = heaps.map((h) => [
    h.variant,
    h.services,
    bytes(total(h.input)),
    bytes(total(h.model)),
    bytes(total(h.snapshot)),
    bytes(total(h.controlPlaneWithView)),
  ]);
  return [
    "=== Summary (markdown, for the README's performance section) ===",
    "",
    `Measured with \`npm run bench\` on ${cpus().length} vCPU (${cpus()[0]?.model ?? "cpu"}), Node ${process.version} (load average ${loads}); one sidecar view; medians of several runs for N ≤ 1000.`,
    "",
    "Translation (buildMesh → translateProxy → encode, one view); scaling = (time ratio) / (N ratio), 1.00 = linear:",
    "",
    markdownTable(["mesh", "services", "build ms", "translate ms", "encode ms", "total ms", "xDS bytes", "scaling"], tRows),
    "",
    "Full features against basic (full / basic; issue 4 wants the total within 1.20):",
    "",
    markdownTable(["services", "total", "translate", "encode", "xDS bytes"], fRows),
    "",
    "ControlPlane.update with one view: full rebuild vs one endpoint going not ready (EDS fast path; ~ = sum of parts):",
    "",
    markdownTable(["mesh", "services", "full update ms", "endpoint-only update ms", "of which: model ms", "analyzer ms", "CLAs ms"], uRows),
    "",
    "Push over loopback (delta ADS, clients in a second process on the same cores):",
    "",
    markdownTable(
      [
        "services",
        "clients",
        "MiB per client",
        "all clients in sync (ms)",
        "longest server event-loop stall (ms)",
        "endpoint change to all (ms)",
        "endpoint change per client",
        "server heap per proxy",
      ],
      pRows,
    ),
    "",
    "Memory after GC (V8 heap + ArrayBuffers):",
    "",
    markdownTable(["mesh", "services", "input objects", "mesh model", "encoded view", "control plane + 1 view"], hRows),
  ].join("\n");
}

main().then(
  () => {
    clearTimeout(watchdog);
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
