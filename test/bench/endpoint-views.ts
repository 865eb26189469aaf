// In process, no streams: what an endpoint change's rebuild costs the control plane with many
// workload views over a few shared parts, against identical labels (one view). Issue 12 item 1
// wants the work to grow with distinct resources, not with views: the gap between the two modes is
// the per-view cost of publishing. Prints wall and CPU medians per update and the views composed.
//   npx tsx test/bench/endpoint-views.ts   (ENDPOINT_VIEWS_SERVICES=1000, _CLIENTS=1000, _CHANGES=60)
import { pino } from "pino";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import { median } from "./report.js";
import { benchNode, generateMesh, inputOf, withEndpointChange, type LabelMode } from "./mesh.js";

const num = (name: string, fallback: number): number => Number(process.env[`ENDPOINT_VIEWS_${name}`] ?? fallback);
const services = num("SERVICES", 1000);
const clients = num("CLIENTS", 1000);
const changes = num("CHANGES", 60);
/** Changes left out of the figures while the JIT warms up. */
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
  const wall: number[] = [];
  const cpu: number[] = [];
  let composed = 0;
  let views = 0;
  for (let r = 0; r < changes; r++) {
    mesh = withEndpointChange(mesh, r % services, new Set([r % 3]));
    const input = inputOf(mesh);
    const c0 = process.cpuUsage();
    const stats = cp.update(input, new Set(["EndpointSlice"]));
    const c = process.cpuUsage(c0);
    if (r < WARMUP) continue;
    wall.push(stats.seconds * 1000);
    cpu.push((c.user + c.system) / 1000);
    composed += stats.composedViews;
    views = stats.views;
  }
  return `${mode}: ${views} views, update median ${median(wall).toFixed(2)} ms wall, ${median(cpu).toFixed(2)} ms CPU; views composed per change ${(composed / (changes - WARMUP)).toFixed(1)}`;
}

for (const mode of ["identical", "workloads"] as const) console.log(`${services} services, ${clients} clients, ${run(mode)}`);
