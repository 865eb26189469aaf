// In process, no streams: what a VirtualService edit's rebuild costs the control plane with many
// views (workload views over a few shared parts, 10 label groups, or identical labels: one view).
// Issue 12 item 1 wants the work to grow with what the edit changes, not with views or parts.
// Prints wall and CPU medians per update and what was translated.
//   npx tsx test/bench/edit-views.ts   (EDIT_VIEWS_SERVICES=1000, _CLIENTS=1000, _EDITS=30, _MODES=identical,groups,workloads)
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { pino } from "pino";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { median } from "./report.js";
import { benchNode, generateMesh, inputOf, withWeightEdit, type LabelMode } from "./mesh.js";

const num = (name: string, fallback: number): number => Number(process.env[`EDIT_VIEWS_${name}`] ?? fallback);
const services = num("SERVICES", 1000);
const clients = num("CLIENTS", 1000);
const edits = num("EDITS", 30);
const modes = (process.env["EDIT_VIEWS_MODES"] ?? "identical,groups,workloads").split(",") as LabelMode[];
/** Edits left out of the figures while the JIT warms up. */
const WARMUP = 5;

function run(mode: LabelMode): string {
  let mesh = generateMesh(services, "full");
  const cp = new ControlPlane({ cache: new SnapshotCache(), logger: pino({ level: "silent" }) });
  cp.update(inputOf(mesh), "all");
  for (let k = 0; k < clients; k++) {
    const node = benchNode(k, mode, services);
    const key = cp.viewKey(node);
    if ("error" in key) throw new Error(key.error);
    cp.activate(key.key, node);
  }
  const profile = process.env["EDIT_VIEWS_PROFILE"];
  const session = profile ? new Session() : undefined;
  if (session) {
    session.connect();
    session.post("Profiler.enable");
    session.post("Profiler.start");
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  let outbound = 0;
  let own = 0;
  let composed = 0;
  let views = 0;
  let parts = 0;
  for (let r = 0; r < edits; r++) {
    mesh = withWeightEdit(mesh, (r * 7) % services, 20 + (r % 50));
    const input = inputOf(mesh);
    const c0 = process.cpuUsage();
    const stats = cp.update(input, new Set(["VirtualService"]));
    const c = process.cpuUsage(c0);
    if (r < WARMUP) continue;
    wall.push(stats.seconds * 1000);
    cpu.push((c.user + c.system) / 1000);
    outbound += stats.outboundTranslations;
    own += stats.ownTranslations;
    composed += stats.composedViews;
    views = stats.views;
    parts = stats.outboundKeys;
  }
  session?.post("Profiler.stop", (err, res) => {
    if (!err) writeFileSync(`${profile}-${mode}.cpuprofile`, JSON.stringify(res.profile));
  });
  const n = edits - WARMUP;
  return `${mode}: ${views} views over ${parts} parts, update median ${median(wall).toFixed(2)} ms wall (max ${Math.max(...wall).toFixed(1)}), ${median(cpu).toFixed(2)} ms CPU; per edit: parts translated ${(outbound / n).toFixed(1)}, own ${(own / n).toFixed(1)}, views composed ${(composed / n).toFixed(1)}`;
}

for (const mode of modes) console.log(`${services} services, ${clients} clients, ${run(mode)}`);
