/**
 * The Kubernetes Gateway API conformance suite (sigs.k8s.io/gateway-api/conformance, the release
 * meshpilot implements, built from the Go module proxy) against meshpilot in the local cluster:
 * the GATEWAY-HTTP profile, with the extended features meshpilot claims. The suite deploys its
 * own backends (its echo-basic image, built locally), Gateways of the `meshpilot` class (which
 * meshpilot deploys as Envoy Deployments) and routes, and checks status and traffic itself.
 *
 * The report it writes is kept in the repo (conformance/report-meshpilot.yaml) and its figures in
 * the README; UPDATE_CONFORMANCE=1 rewrites the file, otherwise a run whose figures differ from
 * the kept ones fails, so the kept report cannot go stale.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { clusterTestsSkipped, useCluster } from "../support/cluster.js";
import { CLAIMED_FEATURES, failureDetails, runGatewayConformance, type ConformanceReport, type ConformanceRun } from "../support/gateway-conformance.js";

const REPORT_FILE = fileURLToPath(new URL("../../conformance/report-meshpilot.yaml", import.meta.url));

/**
 * Tests of GATEWAY-HTTP (core, or of a claimed extended feature) known to fail today, each with
 * the reason. A listed test that passes fails this file too: the list only shrinks as meshpilot
 * is fixed, and never hides a pass or a new failure.
 */
const KNOWN_FAILURES: Readonly<Record<string, string>> = {};

/** The figures that identify a run's outcome (the report minus its date). */
function figures(r: ConformanceReport) {
  return {
    gatewayAPIVersion: r.gatewayAPIVersion,
    gatewayAPIChannel: r.gatewayAPIChannel,
    profiles: r.profiles.map((p) => ({
      name: p.name,
      core: {
        result: p.core.result,
        statistics: p.core.statistics,
        failedTests: [...(p.core.failedTests ?? [])].sort(),
        skippedTests: [...(p.core.skippedTests ?? [])].sort(),
      },
      extended: p.extended && {
        result: p.extended.result,
        statistics: p.extended.statistics,
        failedTests: [...(p.extended.failedTests ?? [])].sort(),
        supportedFeatures: [...(p.extended.supportedFeatures ?? [])].sort(),
      },
    })),
  };
}

describe.skipIf(clusterTestsSkipped)("the Gateway API conformance suite (GATEWAY-HTTP) against meshpilot", () => {
  let run: ConformanceRun;
  const profile = () => run.report.profiles.find((p) => p.name === "GATEWAY-HTTP")!;

  beforeAll(async () => {
    const c = await useCluster();
    run = await runGatewayConformance(c.cfg, c.bins, { log: (m) => console.log(`[conformance] ${m}`) });
    const p = run.report.profiles.find((x) => x.name === "GATEWAY-HTTP");
    console.log(
      `[conformance] ${run.seconds.toFixed(0)} s; core ${JSON.stringify(p?.core.statistics)}, extended ${JSON.stringify(p?.extended?.statistics)}` +
        (p?.core.failedTests?.length ? `; core failures: ${p.core.failedTests.join(", ")}` : ""),
    );
    if (process.env["UPDATE_CONFORMANCE"] === "1") {
      mkdirSync(dirname(REPORT_FILE), { recursive: true });
      writeFileSync(REPORT_FILE, run.reportText);
    }
  }, 45 * 60_000);

  it("ran the GATEWAY-HTTP profile of the release meshpilot implements", () => {
    expect(run.report.gatewayAPIVersion).toBe("v1.5.1");
    expect(profile()).toBeDefined();
    expect(profile().core.statistics.Passed).toBeGreaterThan(0);
  });

  it("passes every core test (apart from the listed known failures)", () => {
    const core = profile().core;
    const unexpected = (core.failedTests ?? []).filter((t) => !(t in KNOWN_FAILURES)).sort();
    expect(unexpected, `core tests failed:\n${JSON.stringify(failureDetails(run.log, unexpected), null, 2)}`).toEqual([]);
    // Core tests are never skipped: skipping is only for features meshpilot does not claim.
    expect(core.skippedTests ?? []).toEqual([]);
    expect(core.statistics.Passed).toBeGreaterThan(0);
  });

  it("passes every extended feature meshpilot claims (apart from the listed known failures)", () => {
    const ext = profile().extended!;
    expect([...(ext.supportedFeatures ?? [])].sort()).toEqual([...CLAIMED_FEATURES].sort());
    const unexpected = (ext.failedTests ?? []).filter((t) => !(t in KNOWN_FAILURES)).sort();
    expect(unexpected, `extended tests failed:\n${JSON.stringify(failureDetails(run.log, unexpected), null, 2)}`).toEqual([]);
    expect(ext.statistics.Passed).toBeGreaterThan(0);
  });

  it("still fails each known failure (a fixed one must leave the list)", () => {
    const failed = new Set([...(profile().core.failedTests ?? []), ...(profile().extended?.failedTests ?? [])]);
    expect(Object.keys(KNOWN_FAILURES).filter((t) => !failed.has(t))).toEqual([]);
  });

  it("matches the report kept in the repo (UPDATE_CONFORMANCE=1 rewrites it)", () => {
    expect(existsSync(REPORT_FILE), `${REPORT_FILE} is missing: run with UPDATE_CONFORMANCE=1`).toBe(true);
    const kept = parse(readFileSync(REPORT_FILE, "utf8")) as ConformanceReport;
    expect(figures(run.report)).toEqual(figures(kept));
  });
});
