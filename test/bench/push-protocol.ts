// Messages between the push bench (server process) and its client process (push-clients.ts).
// Times are epoch milliseconds (performance.timeOrigin + performance.now()), comparable across
// the two processes on one machine.
import type { LabelMode } from "./mesh.js";
import type { Counts, ShortType } from "../../src/loadgen/counts.js";
export { SHORT_TYPES, emptyCounts, type Counts, type ShortType } from "../../src/loadgen/counts.js";

export type ToClients =
  | {
      readonly cmd: "connect";
      readonly group: string;
      readonly address: string;
      readonly count: number;
      readonly firstIndex: number;
      readonly timeoutMs: number;
      readonly selfCheck: boolean;
      /** How the clients' pod labels differ (mesh.ts benchNode); identical when absent. */
      readonly labels?: LabelMode;
      /** The mesh's service count ("workloads" labels: client k is a pod of service k mod this). */
      readonly services?: number;
    }
  | { readonly cmd: "arm"; readonly group: string }
  /** Wait until every client received each of `expectEds` (EDS) and `expectRds` (RDS: the route configuration, or one of its virtual hosts by VHDS) since "arm". */
  | {
      readonly cmd: "await-change";
      readonly group: string;
      readonly expectEds: readonly string[];
      readonly expectRds?: readonly string[];
      readonly timeoutMs: number;
      readonly settleMs: number;
    }
  | { readonly cmd: "close"; readonly group: string }
  | { readonly cmd: "exit" };

export type FromClients =
  | { readonly event: "ready" }
  | {
      readonly event: "synced";
      readonly group: string;
      /** Per client: when it held the full snapshot (CDS, every EDS it asked for, LDS, every RDS). */
      readonly syncedAt: readonly number[];
      /** Per type, per client: when its first response of that type arrived. */
      readonly firstAt: Record<ShortType, readonly number[]>;
      /** Per client: when its stream was opened. */
      readonly startedAt: readonly number[];
      /** Per type, summed over the clients, everything received until synced. */
      readonly totals: Counts;
      /** Per type, the fewest resources any one client received. */
      readonly minResources: Record<ShortType, number>;
      readonly clientCpuMs: number;
      /** Longest event-loop stall of the client process while syncing. */
      readonly loopMaxMs: number;
    }
  | { readonly event: "armed"; readonly group: string }
  | {
      readonly event: "changed";
      readonly group: string;
      /** Per client: when the last of the expected names arrived. */
      readonly receivedAt: readonly number[];
      /** Per type, summed over the clients: everything received since "arm", settle time included. */
      readonly sinceArm: Counts;
      /** EDS names received since arm, over all clients (deduplicated). */
      readonly edsNames: readonly string[];
      readonly clientCpuMs: number;
    }
  | { readonly event: "closed"; readonly group: string }
  | { readonly event: "error"; readonly message: string };
