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
// Usage: node --expose-gc --import tsx test/bench/loadgen-replay.ts [services=1000] [proxies=200] [rounds=5]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { frame } from "../../src/loadgen/grpc-call.js";
import { tmpdir } from "node:os";
import path from "node:path";
import { DeltaProxy } from "../../src/loadgen/delta-proxy.js";
import { DirDriver } from "../../src/loadgen/dir-driver.js";
import { LoadMesh } from "../../src/loadgen/mesh.js";
import { istioNode, proxyWorkload, ENVOY_VERSION, type FleetShape } from "../../src/loadgen/node.js";
import type { ProxyOptions } from "../../src/loadgen/proxy.js";
import { ServerProcess } from "./targets-server.js";

const services = Number(process.argv[2] ?? 1000);
const proxies = Number(process.argv[3] ?? 200);
const rounds = Number(process.argv[4] ?? 5);

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

async function record(): Promise<{ responses: Buffer[]; opts: Omit<ProxyOptions, "address"> }> {
  const dir = mkdtempSync(path.join(tmpdir(), "meshpilot-replay-"));
  const server = await ServerProcess.start(dir, `${dir}.heap.json`, 120_000);
  try {
    const mesh = new LoadMesh({ services, variant: "basic" });
    await new DirDriver(dir).setup(mesh);
    const shape: FleetShape = { mode: "identical", namespace: "bench-0", name: "loadgen", groups: 10, workloadOf: (k) => mesh.workloadOf(k) };
    const opts = { index: 0, node: istioNode(proxyWorkload(0, shape), ENVOY_VERSION), expectClusters: mesh.expectedClusters(), resume: false };
    const deadline = performance.now() + 120_000;
    for (;;) {
      const p = new RecordingProxy({ ...opts, address: server.xdsAddress });
      while (!p.synced && p.error === undefined && performance.now() < deadline) await sleep(20);
      p.close();
      if (p.synced) return { responses: p.got, opts };
      if (performance.now() > deadline) throw new Error(`no full sync within 120 s: ${p.diagnosis()}`);
      await sleep(200);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const { responses, opts } = await record();
const bytes = responses.reduce((a, b) => a + b.length, 0);
process.stderr.write(`recorded ${responses.length} responses, ${(bytes / 2 ** 20).toFixed(2)} MiB per proxy\n`);
const perProxy: number[] = [];
for (let r = 0; r < rounds; r++) {
  (globalThis as { gc?: () => void }).gc?.();
  const fleet = Array.from({ length: proxies }, (_, i) => new ReplayProxy({ ...opts, index: i, address: "127.0.0.1:1" }));
  const cpu0 = process.cpuUsage();
  // Breadth first, as a fleet's responses interleave: every proxy's first response, then every second one.
  for (const b of responses) for (const p of fleet) p.take(b);
  const cpu = process.cpuUsage(cpu0);
  const unsynced = fleet.filter((p) => !p.synced).length;
  if (unsynced) throw new Error(`${unsynced} replayed proxies not in sync: ${fleet.find((p) => !p.synced)!.diagnosis()}`);
  for (const p of fleet) p.close();
  perProxy.push((cpu.user + cpu.system) / 1000 / proxies);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `load generator CPU per proxy, full sync replayed (${services} services, ${proxies} proxies, ${rounds} rounds): median ${median(perProxy).toFixed(2)} ms (${perProxy.map((x) => x.toFixed(2)).join(" ")})`,
);

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
