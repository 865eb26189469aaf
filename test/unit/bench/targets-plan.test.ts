import { describe, expect, it } from "vitest";
import { describeStep, scalingSizes, schedule, soakSize, targetsPlan } from "../../bench/targets-plan.js";

const sizes = (xs: readonly { services: number; proxies: number }[]) => xs.map((x) => `${x.services}x${x.proxies}`);

describe("the targets section's plan", () => {
  it("full run: the proxy scaling 100 → 1000 → 2000 and the service scaling 100 → 1000 → 5000 all run, the 2000-proxy row from the main identical run", () => {
    const p = targetsPlan(false, {});
    expect([p.services, p.proxies, p.soakS]).toEqual([1000, 2000, 600]);
    expect(sizes(scalingSizes(p))).toEqual(["100x100", "1000x100", "5000x100", "1000x1000"]);
  });

  it("runs the scaling rows and the soak before the label modes the soak does not need, the small mesh first", () => {
    const order = schedule(targetsPlan(false, {})).map((s) => `${s.kind} ${s.services}x${s.proxies} ${s.labels}`);
    expect(order).toEqual([
      "small 50x10 workloads",
      "small 50x10 identical",
      "small 50x10 distinct",
      "small 50x10 groups",
      "main 1000x2000 identical",
      "scaling 100x100 identical",
      "scaling 1000x100 identical",
      "scaling 5000x100 identical",
      "scaling 1000x1000 identical",
      "main 1000x2000 workloads",
      "soak 1000x2000 soak",
      "main 1000x2000 distinct",
      "main 1000x2000 groups",
    ]);
    const steps = schedule(targetsPlan(false, {}));
    expect(steps.find((s) => s.kind === "soak")?.churnS).toBe(600);
    expect(steps.filter((s) => s.kind === "scaling").map((s) => s.churnS)).toEqual([6, 6, 6, 6]);
  });

  it("knobs shrink it: only the scaling rows, other steps, fewer changes; the main size is then a scaling row of its own", () => {
    const p = targetsPlan(false, {
      BENCH_TARGETS_PARTS: "scaling",
      BENCH_TARGETS_SCALE: "200x40",
      BENCH_TARGETS_PROXY_STEPS: "40,10,20",
      BENCH_TARGETS_SERVICE_STEPS: "50,200",
      BENCH_TARGETS_STEP_PROXIES: "10",
      BENCH_TARGETS_SCALING_CHURN_S: "2",
    });
    const steps = schedule(p);
    expect(steps.map((s) => s.kind)).toEqual(["scaling", "scaling", "scaling", "scaling"]);
    expect(sizes(steps)).toEqual(["50x10", "200x10", "200x20", "200x40"]);
    expect(describeStep(steps[0]!)).toBe("scaling: 50 services / 10 proxies, labels identical, 2 s of churn");
  });

  it("quick sizes, and label modes by knob", () => {
    const p = targetsPlan(true, { BENCH_TARGETS_MODES: "identical,distinct" });
    expect([p.services, p.proxies, p.churnS, p.soakS]).toEqual([100, 50, 10, 30]);
    expect(
      schedule(p)
        .filter((s) => s.kind === "main")
        .map((s) => s.labels),
    ).toEqual(["identical", "distinct"]);
  });

  it("a bad knob is an error that names it", () => {
    expect(() => targetsPlan(false, { BENCH_TARGETS_PROXY_STEPS: "100,lots" })).toThrow(/BENCH_TARGETS_PROXY_STEPS: "lots"/);
    expect(() => targetsPlan(false, { BENCH_TARGETS_SCALE: "1000" })).toThrow(/BENCH_TARGETS_SCALE/);
    expect(() => targetsPlan(false, { BENCH_TARGETS_PARTS: "scaling,warmup" })).toThrow(/BENCH_TARGETS_PARTS: "warmup" is none of/);
    expect(() => targetsPlan(false, { BENCH_TARGETS_SOAK_S: "-1" })).toThrow(/BENCH_TARGETS_SOAK_S/);
  });

  it("the soak runs where a fleet got in sync: workloads at the main scale, else identical, else the largest proxy scaling row", () => {
    const p = targetsPlan(false, {});
    const steps = schedule(p);
    const main = (labels: string) => steps.find((s) => s.kind === "main" && s.labels === labels)!;
    const row = (proxies: number) => steps.find((s) => s.kind === "scaling" && s.services === 1000 && s.proxies === proxies)!;
    expect(
      soakSize(p, [
        { step: main("identical"), synced: true },
        { step: main("workloads"), synced: true },
      ]),
    ).toEqual({ services: 1000, proxies: 2000, labels: "workloads" });
    expect(
      soakSize(p, [
        { step: main("identical"), synced: true },
        { step: main("workloads"), synced: false },
      ]),
    ).toEqual({ services: 1000, proxies: 2000, labels: "identical" });
    const rows = [
      { step: main("identical"), synced: false },
      { step: row(100), synced: true },
      { step: row(1000), synced: true },
      { step: main("workloads"), synced: false },
    ];
    expect(soakSize(p, rows)).toEqual({ services: 1000, proxies: 1000, labels: "identical" });
    expect(soakSize(p, [])).toEqual({ services: 1000, proxies: 2000, labels: "identical" });
  });
});
