import { describe, expect, it } from "vitest";
import { formatValue, slope, targetRatio, targetsMarkdown, verdict } from "../../bench/targets-table.js";

describe("targets table", () => {
  it("ratio is figure / target; a missed target says by how much", () => {
    expect(targetRatio(50, 100)).toBe(0.5);
    expect(verdict({ value: 50, limit: 100 })).toBe("met");
    expect(verdict({ value: 100, limit: 100 })).toBe("met");
    expect(verdict({ value: 240, limit: 100 })).toBe("MISSED by 2.40×");
  });

  it("a figure that could not be measured has no ratio and says why", () => {
    expect(targetRatio(NaN, 100)).toBeNaN();
    expect(verdict({ value: NaN, limit: 100, missing: "full sync: 3 of 2000 clients did not sync" })).toBe(
      "not measured: full sync: 3 of 2000 clients did not sync",
    );
  });

  it("a negative slope against a positive limit is met (RSS shrinking is flat enough)", () => {
    expect(verdict({ value: -3 * 2 ** 20, limit: 2 ** 20 })).toBe("met");
    expect(formatValue(-3 * 2 ** 20, "bytes/min")).toBe("-3.00 MiB/min");
  });

  it("markdown rows carry measured, target, ratio and verdict", () => {
    const md = targetsMarkdown([{ figure: "endpoint change p99", variant: "distinct", value: 150, limit: 100, unit: "ms", detail: "10 samples" }]);
    expect(md.split("\n")[2]).toBe("| endpoint change p99 | distinct | 150 ms (10 samples) | ≤ 100 ms | 1.50 | MISSED by 1.50× |");
  });

  it("the RSS slope is least squares", () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 5 + 2 * x + (x % 2 ? 0.5 : -0.5) })))).toBeCloseTo(2.2, 5);
    expect(slope([{ x: 1, y: 1 }])).toBeNaN();
  });
});
