// What a load run reports (LoadReport, also the `--json` output) and its human form.
import { table } from "../cli/table.js";
import type { ChangeKind } from "./changes.js";
import { SHORT_TYPES, type Counts, type ShortType } from "./counts.js";
import type { LabelMode } from "./node.js";
import type { Protocol } from "./proxy.js";
import type { Summary } from "./stats.js";

export interface PerProxyRange {
  readonly min: number;
  readonly max: number;
}

export interface FleetReport {
  readonly protocol: Protocol;
  readonly proxies: number;
  readonly synced: number;
  /** ms from each proxy's stream opening until it held the full config. */
  readonly syncMs: Summary;
  /** Received until each proxy was in sync, summed over the fleet. */
  readonly syncReceived: Counts;
  /** Per type, the fewest and most resources / resource bytes one proxy received until in sync. */
  readonly syncResourcesPerProxy: Record<ShortType, PerProxyRange>;
  readonly syncResourceBytesPerProxy: Record<ShortType, PerProxyRange>;
  /** Everything received during the run, summed over the fleet. */
  readonly received: Counts;
  /** Streams reopened after one dropped or failed (each resumes). */
  readonly resumedStreams: number;
  /** Per type, the names delta proxies declared in initial_resource_versions when resuming. */
  readonly offered: Record<ShortType, number>;
  /**
   * What arrived on resumed streams (what the server re-sent, and later pushes on those streams);
   * `unchanged`: resources at the version the proxy had declared, which the server need not have sent.
   */
  readonly resumed: Counts;
  readonly streamErrors: number;
  readonly reconnects: number;
  /** Proxies that gave up (a stream failed with reconnecting off, or a response could not be read). */
  readonly failed: number;
}

export interface ChangeRecord {
  readonly id: number;
  readonly kind: ChangeKind;
  readonly service: number;
  readonly marker: string;
  /** ms after the churn started that the change was issued. */
  readonly at: number;
  /** ms the driver took to make it (file write, API requests). */
  readonly applyMs: number;
  readonly converged: number;
  /** Proxies that never ACKed it within the change timeout. */
  readonly missing: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface KindReport {
  readonly changes: number;
  /** Over every (proxy, change): ms from the change being issued until the proxy ACKed a response holding it. */
  readonly latency: Summary;
  /** Over changes: the time until the last proxy had it. */
  readonly lastProxy: Summary;
  readonly missing: number;
}

/** The drop-streams phase: every stream dropped at once, each proxy resumed. */
export interface ResumeReport {
  readonly dropped: number;
  /** Proxies whose new stream answered every type it asked for again. */
  readonly answered: number;
  /** ms from the drop until the last of those answers (NaN if some never came). */
  readonly ms: number;
}

export interface ServerReport {
  readonly pid: number;
  /** CPU seconds of the server process during the full sync, the churn, and both. */
  readonly syncCpuS: number;
  readonly churnCpuS: number;
  /** During the drop-streams phase, when there was one. */
  readonly resumeCpuS?: number;
  readonly cpuS: number;
  /** Peak RSS sampled during the run, and VmHWM (peak since the server started). */
  readonly peakRssBytes: number;
  readonly vmHwmBytes: number;
  readonly error?: string;
}

export interface LoadReport {
  readonly target: string;
  readonly driver: string;
  /** plaintext, or TLS with what the proxies present (never the credentials themselves). */
  readonly transport: string;
  readonly labels: LabelMode;
  readonly services: number;
  readonly startedAt: string;
  /** ms from the first stream opening until the last proxy held the full config (NaN if some never did). */
  readonly fullSyncMs: number;
  /** Why proxies were not in sync at the end of the full sync (the first few; LoadProxy.diagnosis). */
  readonly notInSync: readonly string[];
  readonly fleets: readonly FleetReport[];
  readonly churn: {
    readonly requestedRate: number;
    readonly achievedRate: number;
    readonly durationMs: number;
    readonly byKind: Partial<Record<ChangeKind, KindReport>>;
    readonly changes: readonly ChangeRecord[];
  };
  readonly resume?: ResumeReport;
  /** The load generator's own CPU: the whole run, and from opening the fleet's streams to the full sync. */
  readonly client: { readonly cpuS: number; readonly syncCpuS: number; readonly peakRssBytes: number };
  readonly server?: ServerReport;
  /** The first few errors, verbatim. */
  readonly errors: readonly string[];
}

const ms = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : Math.round(x).toString()) : "-");
const mib = (b: number): string => (Number.isFinite(b) ? `${(b / 1024 / 1024).toFixed(1)} MiB` : "-");
const kib = (b: number): string => (b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KiB` : mib(b));

/** The report as tables for a terminal. */
export function formatReport(r: LoadReport): string {
  const out: string[] = [];
  out.push(`load on ${r.target} (${r.transport}; ${r.driver}; ${r.services} services; labels ${r.labels}); started ${r.startedAt}`);
  out.push(`full sync of all proxies: ${ms(r.fullSyncMs)} ms\n`);
  if (r.notInSync.length) out.push(`not in sync (the first ${r.notInSync.length}):\n  ${r.notInSync.join("\n  ")}\n`);
  out.push(
    table(
      ["protocol", "proxies", "synced", "sync p50 ms", "p90", "p99", "max", "stream errors", "reconnects", "failed"],
      r.fleets.map((f) => [
        f.protocol,
        String(f.proxies),
        String(f.synced),
        ms(f.syncMs.p50),
        ms(f.syncMs.p90),
        ms(f.syncMs.p99),
        ms(f.syncMs.max),
        String(f.streamErrors),
        String(f.reconnects),
        String(f.failed),
      ]),
    ),
  );
  out.push(
    table(
      ["protocol", "type", "sync: resources/proxy", "resource bytes/proxy", "sync msgs", "sync bytes", "run: msgs", "run: bytes", "run: resources"],
      r.fleets.flatMap((f) =>
        SHORT_TYPES.map((t) => {
          const res = f.syncResourcesPerProxy[t];
          const rb = f.syncResourceBytesPerProxy[t];
          return [
            f.protocol,
            t.toUpperCase(),
            res.min === res.max ? String(res.min) : `${res.min}..${res.max}`,
            rb.min === rb.max ? kib(rb.min) : `${kib(rb.min)}..${kib(rb.max)}`,
            String(f.syncReceived[t].msgs),
            mib(f.syncReceived[t].bytes),
            String(f.received[t].msgs),
            mib(f.received[t].bytes),
            String(f.received[t].resources),
          ];
        }),
      ),
    ),
  );
  if (r.resume)
    out.push(
      `resume after dropping ${r.resume.dropped} streams: ${r.resume.answered} answered on every type they asked for again, the last after ${ms(r.resume.ms)} ms`,
    );
  const resumed = r.fleets.filter((f) => f.resumedStreams > 0);
  if (resumed.length)
    out.push(
      table(
        ["protocol", "type", "resumed streams", "declared versions", "re-sent resources", "of which unchanged", "removed", "re-sent bytes"],
        resumed.flatMap((f) =>
          SHORT_TYPES.filter((t) => f.offered[t] > 0 || f.resumed[t].msgs > 0).map((t) => [
            f.protocol,
            t.toUpperCase(),
            String(f.resumedStreams),
            f.protocol === "delta" ? String(f.offered[t]) : "-",
            String(f.resumed[t].resources),
            f.protocol === "delta" ? String(f.resumed[t].unchanged) : "-",
            String(f.resumed[t].removed),
            mib(f.resumed[t].bytes),
          ]),
        ),
      ),
    );
  const kinds = Object.entries(r.churn.byKind) as [ChangeKind, KindReport][];
  out.push(`churn: ${r.churn.changes.length} changes in ${ms(r.churn.durationMs)} ms (${r.churn.achievedRate.toFixed(2)}/s, asked ${r.churn.requestedRate}/s)`);
  if (kinds.length)
    out.push(
      table(
        ["change", "changes", "convergence p50 ms", "p90", "p99", "max", "last proxy p50 ms", "last proxy max", "missing"],
        kinds.map(([k, v]) => [
          k,
          String(v.changes),
          ms(v.latency.p50),
          ms(v.latency.p90),
          ms(v.latency.p99),
          ms(v.latency.max),
          ms(v.lastProxy.p50),
          ms(v.lastProxy.max),
          String(v.missing),
        ]),
      ),
    );
  out.push(`client: ${r.client.cpuS.toFixed(2)} CPU s (sync ${r.client.syncCpuS.toFixed(2)}), peak RSS ${mib(r.client.peakRssBytes)}`);
  if (r.server)
    out.push(
      r.server.error
        ? `server pid ${r.server.pid}: ${r.server.error}`
        : `server pid ${r.server.pid}: ${r.server.cpuS.toFixed(2)} CPU s (sync ${r.server.syncCpuS.toFixed(2)}, churn ${r.server.churnCpuS.toFixed(2)}${r.server.resumeCpuS !== undefined ? `, resume ${r.server.resumeCpuS.toFixed(2)}` : ""}), peak RSS during the run ${mib(r.server.peakRssBytes)}, VmHWM ${mib(r.server.vmHwmBytes)}`,
    );
  else out.push("server: not measured (give --server-pid, or run on the server's machine)");
  if (r.errors.length) out.push(`errors (first ${r.errors.length}):\n  ${r.errors.join("\n  ")}`);
  return out.join("\n") + "\n";
}
