// The server's cost per delta stream of a push and its ACK, over real gRPC: an XdsServer on
// loopback serving one view of S ClusterLoadAssignments to N delta streams of a forked client
// process (wire-fanout-clients.ts: node:http2, ACKs every response). Each change replaces one
// CLA; the figure is the server process's CPU per stream per change, so the HTTP/2 write, the
// ACK's read path and the GC they cause are in it, and nothing of the clients is. Each change's
// time from the snapshot to the last ACK is printed too (median): the fan-out's latency with
// clients that do little, so the server's share of an endpoint change's p99; and, split, when the
// server wrote (onPush: into the stream; with WIRE_FANOUT_BARE, handed to the socket) its first and
// last response and when the clients read their first and last one. The last read trailing the
// last write is the clients' backlog; a late first read is the server's slicing.
//
//   npm run build && node --expose-gc --import tsx test/bench/wire-fanout.ts [streams=2000] [changes=40] [services=100] [reps=3]
//   WIRE_FANOUT_PROF=/tmp/changes.cpuprofile …  (a CPU profile of the server process during the changes)
//   WIRE_FANOUT_ALLOC=/tmp/changes.heapprofile …  (a sampling profile of what the changes allocate)
//   WIRE_FANOUT_BARE=1 …  (the floor: a bare node:http2 server writing the same bytes, wire-fanout-bare.ts)
//
// Prints one line per repetition and the median; every wait is bounded.
import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type * as Encode from "../../src/xds/encode.js";
import type * as Server from "../../src/xds/server.js";
import type * as Cache from "../../src/xds/snapshot-cache.js";
import type { ResourceMap } from "../../src/xds/snapshot.js";
import type * as TypeUrls from "../../src/xds/type-urls.js";
import type * as Wire from "../../src/xds/wire.js";
import { bareServer } from "./wire-fanout-bare.js";
import type { FanoutToClients, FanoutFromClients } from "./wire-fanout-protocol.js";

// The server's modules from a build (dist/, or WIRE_FANOUT_DIST for an A/B against another
// checkout): compiled as served, without the loader's per-function wrappers.
const dist = process.env["WIRE_FANOUT_DIST"] ?? fileURLToPath(new URL("../../dist", import.meta.url));
const load = <M>(path: string): Promise<M> => import(`${dist}/${path}`) as Promise<M>;
const { encodeResources, snapshotFrom } = await load<typeof Encode>("xds/encode.js");
const { XdsServer } = await load<typeof Server>("xds/server.js");
const { SnapshotCache } = await load<typeof Cache>("xds/snapshot-cache.js");
const { TYPE_URL } = await load<typeof TypeUrls>("xds/type-urls.js");
const { deltaResponse } = await load<typeof Wire>("xds/wire.js");

const [streams = 2000, changes = 40, services = 100, reps = 3] = process.argv.slice(2).map(Number);
const EDS = TYPE_URL.endpoint;
const WAIT_MS = 120_000;

const names = Array.from({ length: services }, (_, i) => `outbound|9080||svc-${String(i).padStart(4, "0")}.ns.svc.cluster.local`);
const ips = names.map((_, i) => `10.0.${i >> 8}.${i & 255}`);
const cla = (name: string, ip: string): unknown => ({
  clusterName: name,
  endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: ip, portValue: 8080 } } } }] }],
});
let previous: ResourceMap | undefined;
function snapshot(): ReturnType<typeof snapshotFrom> {
  previous = encodeResources(
    EDS,
    names.map((n, i) => ({ name: n, json: cla(n, ips[i]!) })),
    previous,
  );
  return snapshotFrom({ [EDS]: previous });
}

const now = (): number => performance.timeOrigin + performance.now();
/** When the current change's first and last response were written (onPush: handed to the HTTP/2 stream). */
let firstPushAt = NaN;
let lastPushAt = NaN;
const cache = new SnapshotCache();
cache.set("v", snapshot());
/** The floor: a bare node:http2 server writing each change's bytes (wire-fanout-bare.ts). */
const bare = process.env["WIRE_FANOUT_BARE"] === "1" ? await bareServer(deltaResponse(EDS, "0", [...previous!.values()], [], "", "")) : undefined;
const server = bare
  ? undefined
  : new XdsServer({
      cache,
      views: { viewKey: () => ({ key: "v" }), activate: () => {}, deactivate: () => {} },
      logger: pino({ level: "warn" }),
      observer: {
        onPush: () => {
          lastPushAt = now();
          if (Number.isNaN(firstPushAt)) firstPushAt = lastPushAt;
        },
      },
    });
const port = bare ? bare.port : await server!.listen("127.0.0.1:0");

const child = fork(fileURLToPath(new URL("./wire-fanout-clients.ts", import.meta.url)), [], {
  execArgv: ["--import", "tsx"],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
let latest: FanoutFromClients = { acks: 0, errors: 0, firstError: "", firstReadAt: NaN, lastReadAt: NaN };
let wake: (() => void) | undefined;
child.on("message", (m: FanoutFromClients) => {
  latest = m;
  wake?.();
});
const send = (m: FanoutToClients): void => void child.send(m);

/** Wait (without polling: the clients say when) until `acks` ACKs were sent in all. */
async function acked(what: string, acks: number): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  send({ cmd: "expect", acks });
  while (latest.acks < acks) {
    if (latest.errors > 0) throw new Error(`${latest.errors} client stream(s) failed while waiting for ${what} (${latest.firstError})`);
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what} (${latest.acks} of ${acks} ACKs)`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, left);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}

send({ cmd: "connect", port, streams, names });
await acked("every stream's first ACK", streams);

// WIRE_FANOUT_PROF=file.cpuprofile: a CPU profile of the changes only (not of the connects).
const profOut = process.env["WIRE_FANOUT_PROF"];
// WIRE_FANOUT_ALLOC=file.heapprofile: a sampling profile of what the changes allocate.
const allocOut = process.env["WIRE_FANOUT_ALLOC"];
// One inspector session serves both profiles.
const inspector = profOut || allocOut ? new Session() : undefined;
inspector?.connect();
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) => inspector!.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
if (profOut) {
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
}
if (allocOut) {
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}

const results: number[] = [];
globalThis.gc?.();
let heapAfterGc = process.memoryUsage().heapUsed;
let k = 0;
for (let r = 0; r < reps; r++) {
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  const walls: number[] = [];
  /** Per change, from the snapshot's set: the server's first and last write, the clients' first and last read. */
  const phases: [number[], number[], number[], number[]] = [[], [], [], []];
  for (let c = 0; c < changes; c++, k++) {
    const target = latest.acks + streams;
    ips[(k * 7919) % services] = `10.240.${(k >> 8) & 255}.${k & 255}`;
    const next = snapshot();
    firstPushAt = NaN;
    const c0 = performance.now();
    const at = now();
    if (bare) {
      const changed = previous!.get(names[(k * 7919) % services]!)!;
      bare.push(deltaResponse(EDS, String(k), [changed], [], "", ""), () => {
        lastPushAt = now();
        if (Number.isNaN(firstPushAt)) firstPushAt = lastPushAt;
      });
    } else cache.set("v", next);
    await acked(`change ${k}'s ACKs`, target);
    walls.push(performance.now() - c0);
    [firstPushAt, lastPushAt, latest.firstReadAt, latest.lastReadAt].forEach((t, i) => phases[i]!.push(t - at));
  }
  walls.sort((a, b) => a - b);
  const mid = (xs: number[]): string => xs.sort((a, b) => a - b)[xs.length >> 1]!.toFixed(1);
  const cpu = process.cpuUsage(t0);
  const heapBefore = heapAfterGc;
  globalThis.gc?.();
  heapAfterGc = process.memoryUsage().heapUsed;
  const us = (cpu.user + cpu.system) / changes / streams;
  results.push(us);
  console.log(
    `${streams} streams, ${changes} changes, ${services} services: server CPU ${((cpu.user + cpu.system) / 1000) | 0} ms = ${us.toFixed(1)} µs per stream per change; wall ${(performance.now() - w0).toFixed(0)} ms, per change to the last ACK median ${walls[walls.length >> 1]!.toFixed(1)} ms (server writes first ${mid(phases[0])} last ${mid(phases[1])}, clients read first ${mid(phases[2])} last ${mid(phases[3])}); heap after GC ${((heapAfterGc - heapBefore) / 2 ** 20).toFixed(1)} MiB more`,
  );
}
if (profOut) {
  const { profile } = (await post("Profiler.stop")) as { profile: unknown };
  writeFileSync(profOut, JSON.stringify(profile));
}
if (allocOut) {
  const { profile } = (await post("HeapProfiler.stopSampling")) as { profile: unknown };
  writeFileSync(allocOut, JSON.stringify(profile));
}
results.sort((a, b) => a - b);
console.log(
  `median ${results[results.length >> 1]!.toFixed(1)} µs per stream per change (load ${(await import("node:os"))
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")})`,
);
send({ cmd: "exit" });
await (bare ? bare.close() : server!.close(200));
process.exit(0);
