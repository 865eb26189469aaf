// Section 5: distinct workloads (issue 12 item 1). The same mesh and the same number of delta
// clients, with the clients' pod labels all alike, all distinct (each its own Deployment), or in
// 10 groups, or each a pod of one of the mesh's services (selected by it, as in a real mesh); no
// configuration selects on the first three, so they must cost what an identical client costs, and
// a workload pod must cost little more (its inbound side is its own). Each row runs in its own process (workloads-row.ts) for honest CPU and
// peak RSS. The target: every figure with distinct labels (and for workload pods) within 1.5× of the identical figure.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LABEL_MODES, type LabelMode } from "./mesh.js";
import { bytes, markdownTable, median, ms, ratio, type Cell, type Table } from "./report.js";
import type { RowMessage, RowParams, RowResult } from "./workloads-row.js";

export const DISTINCT_TARGET = 1.5;

export interface WorkloadsOptions {
  readonly services: number;
  readonly clientCounts: readonly number[];
  readonly modes?: readonly LabelMode[];
  /** Rounds over the modes (interleaved, so that a burst of load elsewhere hits all of them); figures are medians. */
  readonly repeat?: number;
  /** Bound of each wait inside a row; the row process is killed after 3× this. */
  readonly timeoutMs: number;
  readonly log: (s: string) => void;
}

function runRowProcess(p: RowParams): Promise<RowResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL("./workloads-row.ts", import.meta.url)), [JSON.stringify(p)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let settled = false;
    const kill = setTimeout(() => {
      child.kill("SIGKILL");
      finish(new Error(`row ${JSON.stringify(p)} still running after ${(3 * p.timeoutMs) / 1000} s; killed`));
    }, 3 * p.timeoutMs);
    const finish = (e: Error | undefined, r?: RowResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(kill);
      if (e) reject(e);
      else resolve(r!);
    };
    child.on("message", (m: RowMessage) => (m.event === "result" ? finish(undefined, m.result) : finish(new Error(m.message))));
    child.on("exit", (code) => finish(new Error(`row process exited with code ${code} before reporting`)));
  });
}

export async function runWorkloads(o: WorkloadsOptions): Promise<RowResult[]> {
  const rows: RowResult[] = [];
  for (const clients of o.clientCounts) {
    for (let round = 0; round < (o.repeat ?? 1); round++) {
      for (const labels of o.modes ?? LABEL_MODES) {
        o.log(`section 5: ${o.services} services, ${clients} clients, labels ${labels}${o.repeat ? `, round ${round + 1} of ${o.repeat}` : ""}`);
        const r = await runRowProcess({ services: o.services, clients, labels, timeoutMs: o.timeoutMs });
        o.log(
          `  views ${r.views} (classes ${r.classes}, outbound keys ${r.outboundKeys}; VS edit translated ${r.vsOutboundTranslations} outbound, ${r.vsOwnTranslations} own): sync ${ms(r.syncMs)} ms, endpoint ${ms(r.endpointMs)} ms, VS edit ${ms(r.vsEditMs)} ms (update ${ms(r.vsUpdateMs)} ms), CPU ${r.cpuS.toFixed(1)} s, peak RSS ${bytes(r.peakRssBytes)}${r.failed ? `; FAILED: ${r.failed}` : ""}`,
        );
        rows.push(r);
      }
    }
  }
  return rows;
}

interface Metric {
  readonly name: string;
  readonly value: (r: RowResult) => number;
  readonly show: (x: number) => string;
}

const count = (x: number): string => (Number.isFinite(x) ? String(x) : "-");

/** Counts, not costs: no target. */
const COUNTS = new Set([
  "views (distinct translations)",
  "outbound keys (shared outbound translations)",
  "VS edit: outbound translations",
  "VS edit: own (inbound) translations",
]);

const METRICS: readonly Metric[] = [
  { name: "full sync, all clients (ms)", value: (r) => r.syncMs, show: ms },
  { name: "endpoint change → every client (ms)", value: (r) => r.endpointMs, show: ms },
  { name: "VirtualService weight edit → every client (ms)", value: (r) => r.vsEditMs, show: ms },
  { name: "server CPU, sync + both changes (s)", value: (r) => r.cpuS, show: (x) => x.toFixed(2) },
  { name: "server peak RSS", value: (r) => r.peakRssBytes, show: bytes },
  { name: "server peak heap (sampled)", value: (r) => r.peakHeapBytes, show: bytes },
  { name: "views (distinct translations)", value: (r) => r.views, show: count },
  { name: "outbound keys (shared outbound translations)", value: (r) => r.outboundKeys, show: count },
  { name: "VS edit: outbound translations", value: (r) => r.vsOutboundTranslations, show: count },
  { name: "VS edit: own (inbound) translations", value: (r) => r.vsOwnTranslations, show: count },
];

const MODE_TITLES: Readonly<Record<Exclude<LabelMode, "identical">, string>> = { distinct: "distinct", groups: "10 groups", workloads: "workloads" };

/** Per client count and metric: identical, then each other mode that ran with its ratio to identical, and the target. */
function cells(rows: readonly RowResult[]): { header: string[]; body: Cell[][] } {
  const others = LABEL_MODES.filter((m): m is Exclude<LabelMode, "identical"> => m !== "identical" && rows.some((r) => r.params.labels === m));
  const header = ["clients", "figure", "identical", ...others.flatMap((m) => [MODE_TITLES[m], `${MODE_TITLES[m]} / identical`]), "target (ratio)"];
  const body: Cell[][] = [];
  for (const clients of [...new Set(rows.map((r) => r.params.clients))]) {
    const of = (mode: LabelMode): RowResult[] => rows.filter((r) => r.params.clients === clients && r.params.labels === mode);
    const id = of("identical");
    for (const m of METRICS) {
      // A phase that did not finish is NaN in the row process, and null after IPC's JSON: such a
      // round makes the median NaN ("-") rather than hiding among the others.
      const v = (rs: readonly RowResult[]): number => {
        const xs = rs.map((r) => m.value(r)).map((x) => (typeof x === "number" ? x : NaN));
        return xs.length === 0 || xs.some((x) => Number.isNaN(x)) ? NaN : median(xs);
      };
      const rel = (rs: readonly RowResult[]): number => v(rs) / v(id);
      const target = COUNTS.has(m.name) ? "-" : `≤ ${DISTINCT_TARGET.toFixed(2)}`;
      body.push([clients, m.name, m.show(v(id)), ...others.flatMap((mode) => [m.show(v(of(mode))), ratio(rel(of(mode)))]), target]);
    }
  }
  return { header, body };
}

export function workloadsTable(rows: readonly RowResult[], services: number): Table {
  const { header, body } = cells(rows);
  return {
    title: `5. Distinct workloads (issue 12 item 1): ${services} services × 10 endpoints, delta clients with alike / distinct / 10 groups of pod labels / each a pod of a service`,
    header,
    rows: body,
    notes: [
      "Nothing in the mesh selects on the distinct and 10-group clients' labels, so they get the same config as identical ones: distinct labels must not cost more (target: ratio ≤ 1.50).",
      "workloads: client k is a pod of service k mod N in its namespace, selected by that Service (its own inbound listeners, so a view of its own): its outbound config is shared, its inbound part is its own (target: ratio ≤ 1.50).",
      "Each row (client count × label mode) runs in its own server process; the clients run in another process on the same 2 cores. With several rounds, figures are medians.",
      "endpoint change = one endpoint of one service not ready (EDS fast path); VirtualService edit = one service's 90/10 split to 80/20 (a full rebuild; every client gets route config 8080).",
      "server CPU = user + system seconds of the server process from opening the streams to the last client having the VirtualService edit.",
      ...rows.filter((r) => r.failed).map((r) => `FAILED: ${r.params.clients} clients, ${r.params.labels}: ${r.failed}`),
    ],
  };
}

export function workloadsMarkdown(rows: readonly RowResult[]): string {
  const { header, body } = cells(rows);
  return markdownTable(header, body);
}
