// In process, no streams: what one change's rebuild costs the control plane with many views
// (workload views over a few shared parts, 10 label groups, or identical labels: one view), for an
// endpoint change and for a VirtualService weight edit. Issue 12 item 1 wants the work to grow with
// what the change touches, not with views or parts: the gap between the modes is the per-view cost.
// Prints wall and CPU medians per update (up to the responses being queued) and of the work
// owed after the push (findings, cache upkeep), and what was translated and composed.
//   npx tsx test/bench/update-views.ts
//   (UPDATE_VIEWS_SERVICES=1000, _CLIENTS=1000, _ROUNDS=30, _MODES=identical,groups,workloads,
//    _CHANGES=endpoint,edit, _PROFILE=<file prefix> for a CPU profile per mode and change)
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { pino } from "pino";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import type { InputKind } from "../../src/api/objects.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { median } from "./report.js";
import { benchNode, generateMesh, inputOf, withEndpointChange, withWeightEdit, type GeneratedMesh, type LabelMode } from "./mesh.js";

const env = (name: string): string | undefined => process.env[`UPDATE_VIEWS_${name}`];
const num = (name: string, fallback: number): number => Number(env(name) ?? fallback);
const services = num("SERVICES", 1000);
const clients = num("CLIENTS", 1000);
const rounds = num("ROUNDS", 30);
const modes = (env("MODES") ?? "identical,groups,workloads").split(",") as LabelMode[];
/** Rounds left out of the figures while the JIT warms up. */
const WARMUP = 5;

interface Change {
  readonly kind: InputKind;
  next(mesh: GeneratedMesh, r: number): GeneratedMesh;
}
const CHANGES: Record<string, Change> = {
  endpoint: { kind: "EndpointSlice", next: (mesh, r) => withEndpointChange(mesh, r % services, new Set([r % 3])) },
  edit: { kind: "VirtualService", next: (mesh, r) => withWeightEdit(mesh, (r * 7) % services, 20 + (r % 50)) },
};
const changes = (env("CHANGES") ?? "endpoint,edit").split(",");

function run(mode: LabelMode, name: string): string {
  const change = CHANGES[name];
  if (!change) throw new Error(`unknown change "${name}" (endpoint, edit)`);
  let mesh = generateMesh(services, "full");
  const owed: (() => void)[] = [];
  const cp = new ControlPlane({ cache: new SnapshotCache(), logger: pino({ level: "silent" }), afterPush: (t) => owed.push(t) });
  const settle = (): void => {
    for (const t of owed.splice(0)) t();
  };
  cp.update(inputOf(mesh), "all");
  settle();
  for (let k = 0; k < clients; k++) {
    const node = benchNode(k, mode, services);
    const key = cp.viewKey(node);
    if ("error" in key) throw new Error(key.error);
    cp.activate(key.key, node);
  }
  const profile = env("PROFILE");
  const session = profile ? new Session() : undefined;
  if (session) {
    session.connect();
    session.post("Profiler.enable");
    session.post("Profiler.start");
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  const after: number[] = [];
  let outbound = 0;
  let own = 0;
  let composed = 0;
  let views = 0;
  let parts = 0;
  for (let r = 0; r < rounds; r++) {
    mesh = change.next(mesh, r);
    const input = inputOf(mesh);
    const c0 = process.cpuUsage();
    const stats = cp.update(input, new Set([change.kind]));
    const c = process.cpuUsage(c0);
    const a0 = process.cpuUsage();
    settle();
    const a = process.cpuUsage(a0);
    if (r < WARMUP) continue;
    wall.push(stats.seconds * 1000);
    cpu.push((c.user + c.system) / 1000);
    after.push((a.user + a.system) / 1000);
    outbound += stats.outboundTranslations;
    own += stats.ownTranslations;
    composed += stats.composedViews;
    views = stats.views;
    parts = stats.outboundKeys;
  }
  session?.post("Profiler.stop", (err, res) => {
    if (!err) writeFileSync(`${profile}-${mode}-${name}.cpuprofile`, JSON.stringify(res.profile));
  });
  const n = rounds - WARMUP;
  return `${mode}, ${name}: ${views} views over ${parts} parts, update median ${median(wall).toFixed(2)} ms wall (max ${Math.max(...wall).toFixed(1)}), ${median(cpu).toFixed(2)} ms CPU, after the push ${median(after).toFixed(2)} ms CPU; per change: parts translated ${(outbound / n).toFixed(1)}, own ${(own / n).toFixed(1)}, views composed ${(composed / n).toFixed(1)}`;
}

for (const name of changes) for (const mode of modes) console.log(`${services} services, ${clients} clients, ${run(mode, name)}`);
