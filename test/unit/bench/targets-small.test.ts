// The small mesh's CPU to first full sync is told by phase: the server's start-up on the empty
// directory, reading the mesh as the load generator writes it, and the fleet's sync.
import { describe, expect, it } from "vitest";
import { smallRows } from "../../bench/targets.js";
import { cpuPhases, notRun } from "../../bench/targets-scenario.js";

const params = { services: 50, proxies: 10, labels: "workloads" as const, churnS: 4, timeoutMs: 60_000 };

describe("small mesh CPU phases", () => {
  it("split the CPU to sync at the load generator's readings", () => {
    const p = cpuPhases({ cpuAtSetup: 0.25, cpuAtServed: 0.53, cpuAtSync: 0.61 }).cpuPhases!;
    expect(p.startupS).toBe(0.25);
    expect(p.meshS).toBeCloseTo(0.28, 10);
    expect(p.syncS).toBeCloseTo(0.08, 10);
  });

  it("are left out when a reading is missing", () => {
    expect(cpuPhases({ cpuAtSetup: 0.25, cpuAtSync: 0.61 })).toEqual({});
  });

  it("are the detail of the CPU row", () => {
    const r = { ...notRun(params, ""), failed: undefined, cpuToSyncS: 0.61, ...cpuPhases({ cpuAtSetup: 0.25, cpuAtServed: 0.53, cpuAtSync: 0.61 }) };
    const row = smallRows(r).find((x) => x.figure.includes("CPU"))!;
    expect(row.value).toBe(0.61);
    expect(row.detail).toBe("start-up 0.25 s, mesh written and read 0.28 s, fleet sync 0.08 s");
  });
});
