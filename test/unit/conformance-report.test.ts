/**
 * The Gateway API conformance report kept in the repo (written by
 * test/cluster/gateway-conformance.test.ts) and the README's figures agree, and the report was
 * made with the extended features meshpilot claims.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CLAIMED_FEATURES, type ConformanceReport } from "../support/gateway-conformance.js";

const read = (rel: string) => readFileSync(new URL(`../../${rel}`, import.meta.url), "utf8");

describe("the kept Gateway API conformance report", () => {
  const report = parse(read("conformance/report-meshpilot.yaml")) as ConformanceReport;
  const http = report.profiles.find((p) => p.name === "GATEWAY-HTTP");

  it("is a GATEWAY-HTTP report of the claimed features", () => {
    expect(http).toBeDefined();
    expect([...(http!.extended?.supportedFeatures ?? [])].sort()).toEqual([...CLAIMED_FEATURES].sort());
  });

  it("has its figures in the README", () => {
    const row = (level: string, s: { Passed: number; Failed: number; Skipped: number }) => `| ${level} | ${s.Passed} | ${s.Failed} | ${s.Skipped} |`;
    const expected = [
      "| GATEWAY-HTTP | Passed | Failed | Skipped |",
      "|---|---|---|---|",
      row("core", http!.core.statistics),
      row("extended", http!.extended!.statistics),
    ];
    const block = /<!-- conformance-figures:[^\n]*-->\n([\s\S]*?)\n<!-- \/conformance-figures -->/.exec(read("README.md"));
    expect(block, "README.md has no conformance-figures block").not.toBeNull();
    expect(block![1]!.split("\n")).toEqual(expected);
  });
});
