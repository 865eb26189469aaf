/**
 * Runs the Kubernetes Gateway API conformance suite (built by scripts/ensure-gateway-conformance.mjs)
 * against meshpilot in a local cluster, and reads the report it writes.
 *
 * The runner runs inside the node's network namespace, where both the apiserver and the
 * Gateways' addresses (the cluster IPs of the Services meshpilot deploys) are reachable; nothing
 * of it touches the host's network. Its images are imported into the node's containerd under the
 * names the suite's manifests use, so nothing is pulled.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";
import type { ClusterConfig } from "../../scripts/cluster/config.mjs";
import type { ClusterBinaries } from "../../scripts/cluster/prepare.mjs";
import { importImages, kubectl } from "../../scripts/cluster/up.mjs";
import { ensureGatewayConformance } from "../../scripts/ensure-gateway-conformance.mjs";
import { MESHPILOT_CONTROLLER } from "../../src/model/gateway-api/convert.js";

/** The GatewayClass the suite's Gateways name. */
export const CONFORMANCE_CLASS = "meshpilot";

/**
 * The extended features of the GATEWAY-HTTP profile that meshpilot claims: the HTTPRoute matches,
 * filters (on rules and on backendRefs), redirect fields and codes, mirrors, timeouts, named
 * rules, backend protocols (h2c, WebSocket) and ports that it translates. The suite runs their
 * tests; every other extended feature's tests are skipped by the suite itself and listed in the
 * report as unsupported.
 */
export const CLAIMED_FEATURES: readonly string[] = [
  "GatewayPort8080",
  "HTTPRoute303RedirectStatusCode",
  "HTTPRoute307RedirectStatusCode",
  "HTTPRoute308RedirectStatusCode",
  "HTTPRouteBackendProtocolH2C",
  "HTTPRouteBackendProtocolWebSocket",
  "HTTPRouteBackendRequestHeaderModification",
  "HTTPRouteBackendTimeout",
  "HTTPRouteDestinationPortMatching",
  "HTTPRouteHostRewrite",
  "HTTPRouteMethodMatching",
  "HTTPRouteNamedRouteRule",
  "HTTPRouteParentRefPort",
  "HTTPRoutePathRedirect",
  "HTTPRoutePathRewrite",
  "HTTPRoutePortRedirect",
  "HTTPRouteQueryParamMatching",
  "HTTPRouteRequestMirror",
  "HTTPRouteRequestMultipleMirrors",
  "HTTPRouteRequestPercentageMirror",
  "HTTPRouteRequestTimeout",
  "HTTPRouteResponseHeaderModification",
  "HTTPRouteSchemeRedirect",
];

export interface ConformanceStatus {
  result: string;
  statistics: { Passed: number; Failed: number; Skipped: number };
  skippedTests?: string[];
  failedTests?: string[];
}
export interface ConformanceReport {
  date: string;
  gatewayAPIVersion: string;
  gatewayAPIChannel: string;
  mode: string;
  implementation: Record<string, unknown>;
  profiles: {
    name: string;
    summary: string;
    core: ConformanceStatus;
    extended?: ConformanceStatus & { supportedFeatures?: string[]; unsupportedFeatures?: string[] };
  }[];
  succeededProvisionalTests?: string[];
}

export interface ConformanceRun {
  report: ConformanceReport;
  /** The report as the suite wrote it (YAML). */
  reportText: string;
  exitCode: number | null;
  seconds: number;
  log: string;
}

export interface ConformanceOptions {
  readonly profile?: string;
  readonly features?: readonly string[];
  /** Test short names the suite skips (each a feature meshpilot does not claim; listed in the report). */
  readonly skipTests?: readonly string[];
  /** Only this test (development). */
  readonly runTest?: string;
  readonly timeoutMs?: number;
  readonly log?: (msg: string) => void;
}

/**
 * Builds (cached) and imports the suite's images, creates the GatewayClass and runs the suite;
 * returns its report. The gateways meshpilot deploys fetch their certificates on the secure port,
 * so meshpilot runs with its usual arguments.
 */
export async function runGatewayConformance(cfg: ClusterConfig, bins: ClusterBinaries, opts: ConformanceOptions = {}): Promise<ConformanceRun> {
  const log = opts.log ?? (() => {});
  const conf = await ensureGatewayConformance({ log });
  await importImages(
    cfg,
    conf.images.map((i) => i.tar),
  );
  const classFile = cfg.path("manifests", "gateway-conformance-class.yaml");
  writeFileSync(
    classFile,
    JSON.stringify({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: CONFORMANCE_CLASS },
      spec: { controllerName: MESHPILOT_CONTROLLER },
    }),
  );
  await kubectl(cfg, bins, ["apply", "-f", classFile]);

  const reportPath = cfg.path("gateway-conformance-report.yaml");
  const logPath = cfg.path("logs", "gateway-conformance.log");
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  const pkg = packageInfo();
  const args = [
    `--net=/run/netns/${cfg.netnsNode}`,
    "--",
    conf.runner,
    "-test.v",
    `-test.timeout=${Math.round(timeoutMs / 1000)}s`,
    "-test.run=^TestConformance$",
    `-gateway-class=${CONFORMANCE_CLASS}`,
    `-conformance-profiles=${opts.profile ?? "GATEWAY-HTTP"}`,
    `-supported-features=${(opts.features ?? CLAIMED_FEATURES).join(",")}`,
    ...(opts.skipTests?.length ? [`-skip-tests=${opts.skipTests.join(",")}`] : []),
    ...(opts.runTest ? [`-run-test=${opts.runTest}`] : []),
    `-report-output=${reportPath}`,
    "-organization=meshpilot",
    "-project=meshpilot",
    `-url=${pkg.homepage ?? "unpublished (package.json has no homepage)"}`,
    `-version=${pkg.version}`,
    "-contact=meshpilot maintainers",
  ];
  log(`running the Gateway API conformance suite ${conf.version} (log: ${logPath})`);
  const started = Date.now();
  const fd = openSync(logPath, "w");
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("nsenter", args, {
      cwd: cfg.dir,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, KUBECONFIG: cfg.path("admin-node.kubeconfig") },
    });
    // The suite's own -test.timeout ends it first; this is the bound if it hangs in teardown.
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs + 60_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  closeSync(fd);
  const seconds = (Date.now() - started) / 1000;
  const logText = readFileSync(logPath, "utf8");
  let reportText: string;
  try {
    reportText = readFileSync(reportPath, "utf8");
  } catch {
    throw new Error(`the conformance suite wrote no report (exit ${exitCode}); the end of its log:\n${logText.slice(-6000)}`);
  }
  return { report: parse(reportText) as ConformanceReport, reportText, exitCode, seconds, log: logText };
}

/** The report's implementation fields come from package.json (the suite requires each to be set). */
function packageInfo(): { version: string; homepage?: string } {
  return JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string; homepage?: string };
}

/** The failing tests' names and what the suite said about each (its `--- FAIL` lines and the errors above them). */
export function failureDetails(log: string, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = log.split("\n");
  for (const name of names) {
    const hits = lines.filter((l) => l.includes(name) && /Error|FAIL|expected|timed out/i.test(l)).slice(0, 8);
    out[name] = hits.join("\n").slice(0, 2000);
  }
  return out;
}
