// The push bench's client process: many delta ADS clients (the load generator's DeltaProxy:
// src/loadgen/delta-proxy.ts), each on its own gRPC channel (its own TCP connection, as one Envoy
// per pod would have), behaving like Envoy on ADS (src/loadgen/flow.ts). A client "holds the full
// snapshot" once CDS and LDS arrived and every EDS/RDS name it asked for was received. One client
// per group also decodes everything with the generated schemas and cross-checks the wire reader.
//
// It runs in its own process (forked by push.ts) so that the server's heap is measured alone and
// the clients use the second core. Every wait is bounded.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { SHORT_TYPES, sumCounts, type Counts, type ShortType } from "../../src/loadgen/counts.js";
import { DeltaProxy } from "../../src/loadgen/delta-proxy.js";
import { benchNode } from "./mesh.js";
import type { FromClients, ToClients } from "./push-protocol.js";

const POLL_MS = 5;

type LeanClient = DeltaProxy;

const groups = new Map<string, LeanClient[]>();

function reply(m: FromClients): void {
  process.send?.(m);
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

async function waitFor(clients: readonly LeanClient[], done: (c: LeanClient) => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const failed = clients.find((c) => c.error !== undefined);
    if (failed) throw new Error(failed.error);
    const left = clients.filter((c) => !done(c)).length;
    if (left === 0) return;
    if (performance.now() > deadline) throw new Error(`${left} of ${clients.length} clients did not ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function sum(clients: readonly LeanClient[], pick: (c: LeanClient) => Counts): Counts {
  return sumCounts(clients.map(pick));
}

async function handle(m: ToClients): Promise<void> {
  switch (m.cmd) {
    case "connect": {
      const cpu = process.cpuUsage();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const clients: LeanClient[] = [];
      for (let i = 0; i < m.count; i++) {
        const index = m.firstIndex + i;
        // resume: false — these clients never reconnect; versions to resume with would only cost memory.
        clients.push(
          new DeltaProxy({ address: m.address, index, node: benchNode(index, m.labels, m.services), selfCheck: m.selfCheck && i === 0, resume: false }),
        );
      }
      groups.set(m.group, clients);
      await waitFor(clients, (c) => c.syncedAt !== undefined, m.timeoutMs, "hold the full snapshot").finally(() => loop.disable());
      const min = (t: ShortType): number => Math.min(...clients.map((c) => c.counts[t].resources));
      reply({
        event: "synced",
        group: m.group,
        syncedAt: clients.map((c) => c.syncedAt!),
        firstAt: Object.fromEntries(SHORT_TYPES.map((t) => [t, clients.map((c) => c.firstAt[t] ?? NaN)])) as Record<ShortType, number[]>,
        startedAt: clients.map((c) => c.startedAt),
        totals: sum(clients, (c) => c.counts),
        minResources: Object.fromEntries(SHORT_TYPES.map((t) => [t, min(t)])) as Record<ShortType, number>,
        clientCpuMs: cpuMs(cpu),
        loopMaxMs: loop.max / 1e6,
      });
      return;
    }
    case "arm":
      for (const c of groups.get(m.group) ?? []) c.arm();
      reply({ event: "armed", group: m.group });
      return;
    case "await-change": {
      const cpu = process.cpuUsage();
      const clients = groups.get(m.group) ?? [];
      const expectRds = m.expectRds ?? [];
      const got = (c: LeanClient): boolean => m.expectEds.every((n) => c.armedEds.has(n)) && expectRds.every((n) => c.armedRds.has(n));
      await waitFor(clients, got, m.timeoutMs, `receive the change (${[...m.expectEds, ...expectRds].join(", ")})`);
      await new Promise((r) => setTimeout(r, m.settleMs)); // anything else the change triggers arrives meanwhile
      const names = new Set<string>();
      for (const c of clients) for (const n of c.armedEds.keys()) names.add(n);
      reply({
        event: "changed",
        group: m.group,
        receivedAt: clients.map((c) => Math.max(...m.expectEds.map((n) => c.armedEds.get(n)!), ...expectRds.map((n) => c.armedRds.get(n)!))),
        sinceArm: sum(clients, (c) => c.sinceArm),
        edsNames: [...names].sort(),
        clientCpuMs: cpuMs(cpu),
      });
      return;
    }
    case "close":
      for (const c of groups.get(m.group) ?? []) c.close();
      groups.delete(m.group);
      reply({ event: "closed", group: m.group });
      return;
    case "exit":
      for (const g of groups.values()) for (const c of g) c.close();
      groups.clear();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 200).unref();
      return;
  }
}

process.on("message", (m: ToClients) => {
  handle(m).catch((e: unknown) => reply({ event: "error", message: (e as Error).message }));
});
process.on("disconnect", () => {
  for (const g of groups.values()) for (const c of g) c.close();
  setTimeout(() => process.exit(0), 200).unref();
});
reply({ event: "ready" });
