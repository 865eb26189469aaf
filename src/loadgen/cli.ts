// `meshpilot loadgen`: options → runLoad → the report on stdout (a table, or JSON). Loaded only
// when the command runs.
import type { ChangeKind } from "./changes.js";
import { CHANGE_KINDS } from "./churn.js";
import type { Variant } from "./mesh-objects.js";
import { ENVOY_VERSION, LABEL_MODES, semanticVersion, type LabelMode } from "./node.js";
import { PROTOCOLS, type Protocol } from "./proxy.js";
import { formatReport, type LoadReport } from "./report.js";
import { runLoad, type FleetPart } from "./run.js";

export interface LoadgenCliOptions {
  target: string;
  proxies: string;
  protocol: string;
  sotwProxies: string;
  connectRate?: string;
  labels: string;
  groups: string;
  envoyVersion?: string;
  services: string;
  variant: string;
  configDir?: string;
  kubeconfig?: string;
  churnRate: string;
  duration: string;
  changes?: string;
  changeKinds: string;
  serverPid?: string;
  syncTimeout: string;
  changeTimeout: string;
  readyTimeout: string;
  reconnect: boolean;
  caCert?: string;
  tokenFile?: string;
  certChain?: string;
  key?: string;
  serverName?: string;
  /** false with --no-resume. */
  resume?: boolean;
  dropStreams?: boolean;
  keep?: boolean;
  json?: boolean;
}

function num(name: string, v: string | undefined, { integer = false, min = 0 } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new Error(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got "${v}"`);
  return n;
}

function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`--${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

/** Whether every proxy synced and every change reached every proxy. */
export function complete(r: LoadReport): boolean {
  return r.fleets.every((f) => f.synced === f.proxies && f.failed === 0) && r.churn.changes.every((c) => c.missing === 0);
}

export async function loadgenCommand(o: LoadgenCliOptions): Promise<{ output: string; complete: boolean }> {
  const protocol = oneOf<Protocol>("protocol", o.protocol, PROTOCOLS);
  const fleet: FleetPart[] = [{ protocol, count: num("proxies", o.proxies, { integer: true })! }];
  const sotw = num("sotw-proxies", o.sotwProxies, { integer: true })!;
  if (sotw > 0) fleet.push({ protocol: "sotw", count: sotw });
  const kinds = o.changeKinds.split(",").map((k) => oneOf<ChangeKind>("change-kinds", k.trim(), CHANGE_KINDS));
  const connectRate = num("connect-rate", o.connectRate);
  const maxChanges = num("changes", o.changes, { integer: true });
  const serverPid = num("server-pid", o.serverPid, { integer: true, min: 1 });
  const envoyVersion = o.envoyVersion === "none" ? null : (o.envoyVersion ?? ENVOY_VERSION);
  if (envoyVersion !== null) {
    try {
      semanticVersion(envoyVersion);
    } catch (e) {
      throw new Error(`--envoy-version: ${(e as Error).message}, or none`);
    }
  }
  const secureOnly = (["tokenFile", "certChain", "key", "serverName"] as const).filter((k) => o[k] !== undefined);
  if (o.caCert === undefined && secureOnly.length)
    throw new Error(
      `--${secureOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --ca-cert: credentials go only over TLS verified against the mesh root`,
    );
  const report = await runLoad({
    target: o.target,
    ...(o.caCert !== undefined
      ? {
          secure: {
            caCertFile: o.caCert,
            ...(o.tokenFile !== undefined ? { tokenFile: o.tokenFile } : {}),
            ...(o.certChain !== undefined ? { certChainFile: o.certChain } : {}),
            ...(o.key !== undefined ? { keyFile: o.key } : {}),
            ...(o.serverName !== undefined ? { serverName: o.serverName } : {}),
          },
        }
      : {}),
    resume: o.resume ?? true,
    dropStreams: o.dropStreams ?? false,
    fleet,
    labels: oneOf<LabelMode>("labels", o.labels, LABEL_MODES),
    groups: num("groups", o.groups, { integer: true, min: 1 })!,
    envoyVersion,
    services: num("services", o.services, { integer: true, min: 1 })!,
    variant: oneOf<Variant>("variant", o.variant, ["basic", "full"]),
    ...(o.configDir ? { configDir: o.configDir } : {}),
    ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
    ...(connectRate ? { connectRate } : {}),
    churnRate: num("churn-rate", o.churnRate, { min: 0.001 })!,
    durationS: num("duration", o.duration)!,
    ...(maxChanges !== undefined ? { maxChanges } : {}),
    changeKinds: kinds,
    ...(serverPid !== undefined ? { serverPid } : {}),
    syncTimeoutMs: num("sync-timeout", o.syncTimeout, { min: 1 })! * 1000,
    changeTimeoutMs: num("change-timeout", o.changeTimeout, { min: 1 })! * 1000,
    readyTimeoutMs: num("ready-timeout", o.readyTimeout, { min: 1 })! * 1000,
    reconnect: o.reconnect,
    keep: o.keep ?? false,
    log: (s) => void process.stderr.write(`loadgen: ${s}\n`),
  });
  return { output: o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report), complete: complete(report) };
}
