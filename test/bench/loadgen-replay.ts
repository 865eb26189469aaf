// The load generator's own CPU per proxy in a full sync, without the server or the network: one
// delta proxy syncs against `meshpilot serve` (dist/) on a generated mesh and its responses are
// recorded; then N proxies of the same node take the recorded responses in the same order, each
// through the whole client path (wire reader, Envoy's flow, the requests it writes), and the CPU
// they spend is measured. The figure is what the targets section's load generator spends per proxy
// beyond HTTP/2 and the kernel, on a mesh of the same shape.
//
// A second round adds the transport: a server of its own process (loadgen-replay-server.ts) writes
// the recorded responses at once on every stream, and N proxies connect to it over loopback.
//
// With `workloads`, each proxy is a pod of a service of its own (the targets' workloads label mode):
// every proxy's responses differ from the others' in a few resources (its inbound listener and
// cluster, its namespace's virtual hosts), so one full sync is recorded per proxy, each replayed
// once per round, and only the in-process round runs (the replay server sends one recording).
// Each round starts with an empty response memo, as a new load generator would.
//
// Usage: node --expose-gc --import tsx test/bench/loadgen-replay.ts [services=1000] [proxies=200] [rounds=5] [identical|workloads]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { deserialize, serialize } from "node:v8";
import { fileURLToPath } from "node:url";
import { frame } from "../../src/loadgen/grpc-call.js";
import { tmpdir } from "node:os";
import path from "node:path";
import { clearResponseMemo, DeltaProxy, responseMemoStats } from "../../src/loadgen/delta-proxy.js";
import { DirDriver } from "../../src/loadgen/dir-driver.js";
import { LoadMesh } from "../../src/loadgen/mesh.js";
import { istioNode, proxyWorkload, ENVOY_VERSION, type FleetShape } from "../../src/loadgen/node.js";
import type { ProxyOptions } from "../../src/loadgen/proxy.js";
import { ServerProcess } from "./targets-server.js";

const services = Number(process.argv[2] ?? 1000);
const proxies = Number(process.argv[3] ?? 200);
const rounds = Number(process.argv[4] ?? 5);
const modeArg = process.argv[5] ?? "identical";
if (modeArg !== "identical" && modeArg !== "workloads") throw new Error(`mode must be identical or workloads, got ${modeArg}`);
const mode: "identical" | "workloads" = modeArg;
/** Proxies recorded at once in the workloads mode. */
const RECORD_BATCH = 25;

/** A delta proxy whose stream is a recording: what it writes goes nowhere, what it reads is handed in. */
class ReplayProxy extends DeltaProxy {
  written = 0;
  protected override open(): void {
    this.call = {
      write: (b: Uint8Array) => void (this.written += b.length),
      cancel: () => {},
    } as unknown as DeltaProxy["call"];
    this.streams++;
  }
  take(b: Buffer): void {
    this.handle(b);
  }
}

/** Records what it reads before handling it. */
class RecordingProxy extends DeltaProxy {
  readonly got: Buffer[] = [];
  protected override handle(b: Buffer): void {
    this.got.push(Buffer.from(b));
    super.handle(b);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Recorded = { responses: Buffer[]; opts: Omit<ProxyOptions, "address"> };

function fromCache(b: Buffer): Recorded[] {
  const rs = deserialize(b) as { responses: Uint8Array[]; opts: Recorded["opts"] }[];
  return rs.map((r) => ({ ...r, responses: r.responses.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)) }));
}

/** One full sync per workload `ks` (the first: with retries, until the server has the mesh). */
async function record(ks: readonly number[]): Promise<Recorded[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "meshpilot-replay-"));
  const server = await ServerProcess.start(dir, `${dir}.heap.json`, 120_000);
  try {
    const mesh = new LoadMesh({ services, variant: "basic" });
    await new DirDriver(dir).setup(mesh);
    const shape: FleetShape = { mode, namespace: "bench-0", name: "loadgen", groups: 10, workloadOf: (k) => mesh.workloadOf(k) };
    const optsOf = (k: number): Recorded["opts"] => ({
      index: k,
      node: istioNode(proxyWorkload(k, shape), ENVOY_VERSION),
      expectClusters: mesh.expectedClusters(),
      resume: false,
    });
    const syncAll = async (batch: readonly number[]): Promise<RecordingProxy[]> => {
      const ps = batch.map((k) => new RecordingProxy({ ...optsOf(k), address: server.xdsAddress }));
      const deadline = performance.now() + 120_000;
      while (ps.some((p) => !p.synced && p.error === undefined) && performance.now() < deadline) await sleep(20);
      for (const p of ps) p.close();
      return ps;
    };
    const out: Recorded[] = [];
    const deadline = performance.now() + 120_000;
    for (;;) {
      const [p] = await syncAll([ks[0]!]);
      if (p!.synced) {
        out.push({ responses: p!.got, opts: optsOf(ks[0]!) });
        break;
      }
      if (performance.now() > deadline) throw new Error(`no full sync within 120 s: ${p!.diagnosis()}`);
      await sleep(200);
    }
    for (let i = 1; i < ks.length; i += RECORD_BATCH) {
      const batch = ks.slice(i, i + RECORD_BATCH);
      const ps = await syncAll(batch);
      const unsynced = ps.find((p) => !p.synced);
      if (unsynced) throw new Error(`a recording proxy not in sync: ${unsynced.diagnosis()}`);
      ps.forEach((p, j) => out.push({ responses: p.got, opts: optsOf(batch[j]!) }));
    }
    return out;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// BENCH_REPLAY_FILE: where the recordings are kept (read if there, else written), so that builds
// are compared on the same responses without recording again.
const cache = process.env["BENCH_REPLAY_FILE"];
const recorded: Recorded[] =
  cache && existsSync(cache) ? fromCache(readFileSync(cache)) : await record(mode === "workloads" ? Array.from({ length: proxies }, (_, k) => k) : [0]);
if (cache && !existsSync(cache)) writeFileSync(cache, serialize(recorded));
const { responses, opts } = recorded[0]!;
const bytes = recorded.reduce((a, r) => a + r.responses.reduce((x, b) => x + b.length, 0), 0) / recorded.length;
process.stderr.write(`recorded ${recorded.length} full sync(s), ${responses.length} responses, ${(bytes / 2 ** 20).toFixed(2)} MiB per proxy\n`);
const perProxy: number[] = [];
let memoStats = "";
for (let r = 0; r < rounds; r++) {
  clearResponseMemo();
  (globalThis as { gc?: () => void }).gc?.();
  const before = responseMemoStats();
  const fleet = Array.from({ length: proxies }, (_, i) => new ReplayProxy({ ...recorded[i % recorded.length]!.opts, index: i, address: "127.0.0.1:1" }));
  const longest = Math.max(...recorded.map((x) => x.responses.length));
  const cpu = { user: 0, system: 0 };
  let cpu0 = process.cpuUsage();
  // Breadth first, as a fleet's responses interleave: every proxy's first response, then every second one.
  for (let j = 0; j < longest; j++)
    for (let i = 0; i < fleet.length; i++) {
      let b = recorded[i % recorded.length]!.responses[j];
      if (!b) continue;
      if (recorded.length > 1) {
        // A response as the transport hands it: just assembled, in the cache (the recordings
        // together are far larger than it); the copy is not counted.
        const took = process.cpuUsage(cpu0);
        cpu.user += took.user;
        cpu.system += took.system;
        b = Buffer.from(b);
        cpu0 = process.cpuUsage();
      }
      fleet[i]!.take(b);
    }
  const took = process.cpuUsage(cpu0);
  cpu.user += took.user;
  cpu.system += took.system;
  const unsynced = fleet.filter((p) => !p.synced).length;
  if (unsynced) throw new Error(`${unsynced} replayed proxies not in sync: ${fleet.find((p) => !p.synced)!.diagnosis()}`);
  for (const p of fleet) p.close();
  perProxy.push((cpu.user + cpu.system) / 1000 / proxies);
  const after = responseMemoStats();
  memoStats = `spans read ${after.misses - before.misses}, known ${after.hits - before.hits}; resources read ${after.resourcesRead - before.resourcesRead}, known ${after.resourceHits - before.resourceHits}`;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `load generator CPU per proxy, full sync replayed (${mode}, ${services} services, ${proxies} proxies, ${rounds} rounds): median ${median(perProxy).toFixed(2)} ms (${perProxy.map((x) => x.toFixed(2)).join(" ")}; per round: ${memoStats})`,
);
if (mode === "workloads") process.exit(0);

// The same over HTTP/2 and loopback.
const file = path.join(tmpdir(), `meshpilot-replay-${process.pid}.bin`);
writeFileSync(file, Buffer.concat(responses.map((b) => frame(b))));
const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./loadgen-replay-server.ts", import.meta.url)), file], {
  stdio: ["ignore", "pipe", "inherit"],
});
try {
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (b: Buffer) => resolve(Number(b.toString().trim())));
    child.once("exit", (c) => reject(new Error(`replay server exited with ${c}`)));
  });
  const wire: { user: number; system: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    const cpu0 = process.cpuUsage();
    const fleet = Array.from({ length: proxies }, (_, i) => new DeltaProxy({ ...opts, index: i, address: `127.0.0.1:${port}` }));
    const deadline = performance.now() + 120_000;
    while (fleet.some((p) => !p.synced && p.error === undefined) && performance.now() < deadline) await sleep(5);
    const cpu = process.cpuUsage(cpu0);
    const unsynced = fleet.filter((p) => !p.synced).length;
    for (const p of fleet) p.close();
    if (unsynced) throw new Error(`${unsynced} proxies not in sync over the wire: ${fleet.find((p) => !p.synced)!.diagnosis()}`);
    wire.push({ user: cpu.user / 1000 / proxies, system: cpu.system / 1000 / proxies });
    await sleep(200);
  }
  const total = wire.map((w) => w.user + w.system);
  console.log(
    `  over HTTP/2 + loopback: median ${median(total).toFixed(2)} ms per proxy (user ${median(wire.map((w) => w.user)).toFixed(2)}, system ${median(wire.map((w) => w.system)).toFixed(2)}; ${total.map((x) => x.toFixed(2)).join(" ")})`,
  );
} finally {
  child.kill();
  rmSync(file, { force: true });
}
