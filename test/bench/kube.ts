// Section 4 of `npm run bench`: meshpilot against a real kube-apiserver + etcd (test/support/kube.ts).
//   4a. API write → change applied in a connected Envoy (test/bench/kube-latency.ts);
//   4b. informer memory for S Services × P Pods (test/bench/kube-memory.ts).
// Needs the kube binaries (scripts/ensure-kube.mjs; built once, ~10 min cold: `prepareKube` does
// it before any timed section) and root (pod addresses live in a network namespace the bench
// creates; the host is left alone). MESHPILOT_SKIP_KUBE=1 skips the section, as it skips the
// kube tests.
import { ensureKube } from "../../scripts/ensure-kube.mjs";
import { startKube } from "../support/kube.js";
import { LATENCY_HEADER, latencyRows, runKubeLatency, DEBOUNCE_QUIET_MS, type LatencyPlan } from "./kube-latency.js";
import { measureKubeMemory, populate, type ClusterShape, type MemorySample } from "./kube-memory.js";
import { bytes, markdownTable, minus, ms, type Cell, type Retained, type Table } from "./report.js";

const total = (r: Retained): number => r.heap + r.buffers;

const kubeSkipped = process.env["MESHPILOT_SKIP_KUBE"] === "1";

/** Builds (or finds) kube-apiserver and etcd; false when skipped. Call before the watchdog's budget starts to matter. */
export async function prepareKube(log: (s: string) => void): Promise<boolean> {
  if (kubeSkipped) return false;
  const bins = await ensureKube({ log: (m: string) => log(`ensure-kube: ${m}`) });
  log(`section 4: kube-apiserver ${bins.version} at ${bins.apiserver}`);
  return true;
}

export interface KubeSection {
  readonly tables: readonly Table[];
  /** Markdown for the README's performance section. */
  readonly summary: string;
}

export async function runKubeSection(opts: { quick: boolean; log: (s: string) => void }): Promise<KubeSection> {
  const { quick, log } = opts;
  const lone = quick ? 20 : 100;
  const burst = quick ? 10 : 50;
  const plans: LatencyPlan[] = [
    { kind: "VirtualService", pacing: "lone", changes: lone },
    { kind: "EndpointSlice", pacing: "lone", changes: lone },
    { kind: "VirtualService", pacing: "back-to-back", changes: burst },
    { kind: "EndpointSlice", pacing: "back-to-back", changes: burst },
  ];
  const shape: ClusterShape = quick ? { services: 100, podsPerService: 10, namespaces: 2 } : { services: 1000, podsPerService: 10, namespaces: 10 };

  const kube = await startKube({ name: "bench", log: (m) => log(`section 4: ${m}`) });
  try {
    await kube.installCrds();
    log(`section 4a: API write → Envoy, ${plans.map((p) => `${p.changes} ${p.kind} ${p.pacing}`).join(", ")}`);
    const latency = await runKubeLatency(kube, plans, log);
    // The baseline sees the latency canary (one object or two of each kind), so code and object
    // shapes for every kind exist there too and do not count as per-object memory.
    log("section 4b: memory, baseline (latency canary only)");
    const empty = await measureKubeMemory(kube);
    log(`section 4b: creating ${shape.services} Services × ${shape.podsPerService} Pods (+ status) and their EndpointSlices`);
    const pop = await populate(kube, shape, log);
    log(`section 4b: ${pop.objects} objects in ${(pop.ms / 1000).toFixed(1)} s (${pop.requests} requests); measuring`);
    const loaded = await measureKubeMemory(kube);

    const lRows = latencyRows(latency);
    const latencyTable: Table = {
      title: "4a. Kubernetes API write → applied by a connected Envoy (ms from the write returning; delta ADS, 1 Envoy)",
      header: LATENCY_HEADER,
      rows: lRows,
      notes: [
        "p50…max → ACK: until Envoy ACKed the push that carries the change (exact: nonce in the proxy's sync status, polled every 1 ms).",
        "The stage columns are medians: API call = the write itself; → informer = write returned → KubeSource delivered it (< 0: the watch event beat the response);",
        `debounce wait = informer → build start; build+push = ControlPlane.update (rebuild, snapshot, response written); push → ACK = Envoy applying and answering;`,
        "ACK → traffic = first request through Envoy showing the change, asked right after the ACK.",
        `lone = each write ≥ ${DEBOUNCE_QUIET_MS} ms (debounce quiet period) after the previous push; back-to-back = next write as soon as the previous change is applied.`,
      ],
    };
    const count = (m: MemorySample) => Object.values(m.informers.byKind).reduce((x, y) => x + y, 0);
    const added = count(loaded) - count(empty);
    const per = (r: number) => r / Math.max(1, added);
    const informers = minus(loaded.informers.retained, empty.informers.retained);
    const server = minus(loaded.server.retained, empty.server.retained);
    const json = loaded.informers.storedJsonBytes - empty.informers.storedJsonBytes;
    const memRow = (label: string, m: MemorySample): Cell[] => [
      label,
      count(m),
      bytes(m.informers.storedJsonBytes),
      bytes(total(m.informers.retained)),
      ms(m.informers.syncMs),
      bytes(total(m.server.retained)),
      ms(m.server.syncMs),
    ];
    const kinds = Object.entries(loaded.informers.byKind)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ");
    const memoryTable: Table = {
      title: `4b. Informer memory (heapUsed + ArrayBuffers after GC): ${shape.services} Services × ${shape.podsPerService} Pods, ${shape.namespaces} namespaces`,
      header: ["cluster", "objects", "stored JSON", "informers + store", "list+sync ms", "whole server (no proxy)", "ready ms"],
      rows: [
        memRow("before (latency canary only)", empty),
        memRow(`${shape.services} × ${shape.podsPerService}`, loaded),
        ["difference", added, bytes(json), bytes(total(informers)), "-", bytes(total(server)), "-"],
        ["per object", 1, bytes(per(json)), bytes(per(total(informers))), "-", bytes(per(total(server))), "-"],
      ],
      notes: [
        `objects served after sync: ${kinds}; created through the API in ${(pop.ms / 1000).toFixed(1)} s (${pop.requests} requests, 32 at a time).`,
        "Each figure is measured in a fresh process. informers + store = KubeSource (last valid object per key, its status info, what it delivered) and the Store fed by it, as serve wires them.",
        "stored JSON = JSON size of the objects as kept (after dropping managedFields, resourceVersion, Pod conditions...), for scale.",
        "whole server = startServer with the kube source: informers, store, mesh model and analysis, metrics; no proxy connected (so no view translated).",
      ],
    };

    const summary = [
      "Kubernetes (real kube-apiserver + etcd on loopback, meshpilot in-process, one Envoy over delta ADS):",
      "",
      "API write returning → Envoy ACKed the change (ms; p50/p99 from sending the write; then stage medians):",
      "",
      markdownTable(LATENCY_HEADER, lRows),
      "",
      `Informers for ${shape.services} Services × ${shape.podsPerService} Pods (+ ${shape.services} EndpointSlices), heap after GC, minus the same on the cluster without them:`,
      "",
      markdownTable(
        ["objects", "informers + store", "per object", "whole server, no proxy", "per object", "list + sync"],
        [[added, bytes(total(informers)), bytes(per(total(informers))), bytes(total(server)), bytes(per(total(server))), `${ms(loaded.informers.syncMs)} ms`]],
      ),
    ].join("\n");
    return { tables: [latencyTable, memoryTable], summary };
  } finally {
    await kube.stop();
  }
}
