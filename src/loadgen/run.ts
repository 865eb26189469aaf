// The load generator's library entry point: runLoad(options) → LoadReport. Writes a mesh (config
// directory or kube-apiserver), opens a fleet of sidecar streams against any xDS server, measures
// the full sync, churns the mesh at a rate and measures how long each change takes to reach each
// proxy, and reads the server's CPU and memory from /proc. Every wait is bounded; proxies and
// generated objects are removed on the way out, failure included.
import { ChangeWatch, type Change, type ChangeKind } from "./changes.js";
import { CARRIER, CHANGE_KINDS, markerOf, planChange, slotOf } from "./churn.js";
import { SHORT_TYPES, sumCounts, type ShortType } from "./counts.js";
import { DeltaProxy, responseMemoStats } from "./delta-proxy.js";
import { DirDriver } from "./dir-driver.js";
import type { MeshDriver } from "./driver.js";
import { LoadMesh } from "./mesh.js";
import { INJECTED_LABELS, type Variant } from "./mesh-objects.js";
import { ENVOY_VERSION, istioNode, proxyWorkload, type FleetShape, type LabelMode } from "./node.js";
import { findPidByPort, ServerMonitor } from "./proc.js";
import { now, type LoadProxy, type Protocol } from "./proxy.js";
import type { ChangeRecord, FleetReport, KindReport, LoadReport, PerProxyRange, ResumeReport, ServerReport } from "./report.js";
import { waitForQuiet } from "./quiet.js";
import { PLAINTEXT, secureTransport, type SecureOptions } from "./secure.js";
import { SotwProxy } from "./sotw-proxy.js";
import { summarize } from "./stats.js";

export interface FleetPart {
  readonly protocol: Protocol;
  readonly count: number;
}

export interface LoadOptions {
  /** host:port of the xDS server's ADS port (plaintext, or with `secure` its secure port). */
  readonly target: string;
  /**
   * Reach a secure port as istio-proxy does (TLS with the mesh root, a bearer token or a client
   * certificate). The proxies then claim the namespace and ServiceAccount the token or
   * certificate names.
   */
  readonly secure?: SecureOptions;
  /** Delta proxies declare what they hold when a stream reopens (initial_resource_versions; default true). */
  readonly resume?: boolean;
  /** After the churn, drop every stream at once and measure the resume: what the server re-sends. */
  readonly dropStreams?: boolean;
  readonly fleet: readonly FleetPart[];
  readonly labels?: LabelMode;
  /** Deployments in the groups label mode (default 10). */
  readonly groups?: number;
  /** The Envoy version the proxies claim (default ENVOY_VERSION); null: none, a neutral xDS client. */
  readonly envoyVersion?: string | null;
  /** Streams opened per second (default: all at once). */
  readonly connectRate?: number;
  /** Services of the generated mesh (default 100). */
  readonly services?: number;
  readonly variant?: Variant;
  /** Write the mesh here (a directory the server watches)... */
  readonly configDir?: string;
  /** ...or create it through this kube-apiserver (a kubeconfig file). */
  readonly kubeconfig?: string;
  /** Changes per second during the churn (default 1). */
  readonly churnRate?: number;
  /** Length of the churn in seconds (default 10; 0 = no churn). */
  readonly durationS?: number;
  /** At most this many changes (default: rate × duration). */
  readonly maxChanges?: number;
  readonly changeKinds?: readonly ChangeKind[];
  /** The server process to measure (default: the one listening on the target's port, if on this machine). */
  readonly serverPid?: number;
  /** Bound of the full sync (default 300 s). */
  readonly syncTimeoutMs?: number;
  /** Bound of the wait for one change to reach every proxy (default 30 s). */
  readonly changeTimeoutMs?: number;
  /** Bound of the wait for the server to serve the generated mesh (default 120 s). */
  readonly readyTimeoutMs?: number;
  /** Reopen failed streams (default true). */
  readonly reconnect?: boolean;
  /** Leave the generated objects in place afterwards. */
  readonly keep?: boolean;
  readonly log?: (s: string) => void;
}

const POLL_MS = 10;
/** Pause before the churn when the server's CPU cannot be read (not on this machine). */
const QUIET_UNMEASURED_MS = 1_000;
const MAX_ERRORS_REPORTED = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function parseTarget(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(":");
  const port = Number(target.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`target must be host:port, got "${target}"`);
  return { host: target.slice(0, i).replace(/^\[|\]$/g, ""), port };
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "0.0.0.0", "::"]);

async function makeDriver(o: LoadOptions): Promise<MeshDriver | undefined> {
  if (o.configDir && o.kubeconfig) throw new Error("give --config-dir or --kubeconfig, not both");
  if (o.configDir) return new DirDriver(o.configDir);
  if (o.kubeconfig) {
    const { KubeDriver } = await import("./kube-driver.js");
    return new KubeDriver(o.kubeconfig);
  }
  return undefined;
}

interface TrackedChange {
  readonly change: Change;
  readonly service: number;
  readonly at: number;
  applyMs: number;
  readonly deadline: number;
}

/** Waits until `done()` or the deadline; returns whether it was done. */
async function waitUntil(done: () => boolean, deadline: number): Promise<boolean> {
  for (;;) {
    if (done()) return true;
    if (performance.now() > deadline) return false;
    await sleep(POLL_MS);
  }
}

function range(values: readonly number[]): PerProxyRange {
  return values.length ? { min: Math.min(...values), max: Math.max(...values) } : { min: NaN, max: NaN };
}

function offeredOf(proxies: readonly LoadProxy[]): Record<ShortType, number> {
  return Object.fromEntries(SHORT_TYPES.map((t) => [t, proxies.reduce((a, p) => a + (p.offered[t] ?? 0), 0)])) as Record<ShortType, number>;
}

function fleetReport(protocol: Protocol, proxies: readonly LoadProxy[]): FleetReport {
  const synced = proxies.filter((p) => p.syncCounts);
  const per = (pick: (t: ShortType) => (c: LoadProxy) => number): Record<ShortType, PerProxyRange> =>
    Object.fromEntries(SHORT_TYPES.map((t) => [t, range(synced.map(pick(t)))])) as Record<ShortType, PerProxyRange>;
  return {
    protocol,
    proxies: proxies.length,
    synced: synced.length,
    syncMs: summarize(synced.map((p) => p.syncedAt! - p.startedAt)),
    syncReceived: sumCounts(synced.map((p) => p.syncCounts!)),
    syncResourcesPerProxy: per((t) => (p) => p.syncCounts![t].resources),
    syncResourceBytesPerProxy: per((t) => (p) => p.syncCounts![t].resourceBytes),
    received: sumCounts(proxies.map((p) => p.counts)),
    resumedStreams: proxies.reduce((a, p) => a + Math.max(0, p.streams - 1), 0),
    offered: offeredOf(proxies),
    resumed: sumCounts(proxies.map((p) => p.resumed)),
    streamErrors: proxies.reduce((a, p) => a + p.errors, 0),
    reconnects: proxies.reduce((a, p) => a + p.reconnects, 0),
    failed: proxies.filter((p) => p.error !== undefined).length,
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const log = o.log ?? (() => {});
  const { host, port } = parseTarget(o.target);
  const total = o.fleet.reduce((a, f) => a + f.count, 0);
  if (total < 1 || o.fleet.some((f) => !Number.isInteger(f.count) || f.count < 0)) throw new Error("the fleet needs at least one proxy (whole numbers)");
  const labels = o.labels ?? "identical";
  const services = o.services ?? 100;
  const churnRate = o.churnRate ?? 1;
  const durationS = o.durationS ?? 10;
  const kinds = o.changeKinds ?? CHANGE_KINDS;
  const syncTimeoutMs = o.syncTimeoutMs ?? 300_000;
  const changeTimeoutMs = o.changeTimeoutMs ?? 30_000;
  const readyTimeoutMs = o.readyTimeoutMs ?? 120_000;
  const runId = `lg${Date.now().toString(36)}`;
  const transport = o.secure ? secureTransport(o.secure) : PLAINTEXT;
  // Where workload certificates exist (a secure port), the mesh is one of injected sidecars, reached with mTLS.
  const injected = o.secure !== undefined;
  const mesh = new LoadMesh({ services, variant: o.variant ?? "basic", injected });
  const identity = transport.identity;
  if (identity && labels === "workloads")
    throw new Error(
      `--labels workloads puts the proxies in the mesh's namespaces, but ${identity.from} proves only namespace ${identity.namespace} (service account ${identity.serviceAccount}): use another label mode`,
    );
  const driver = await makeDriver(o);
  if (driver && (churnRate <= 0 || !Number.isFinite(churnRate)) && durationS > 0) throw new Error("churn rate must be a positive number");

  const pid = o.serverPid ?? (LOOPBACK.has(host) ? findPidByPort(port) : undefined);
  const monitor = pid !== undefined ? new ServerMonitor(pid) : undefined;
  const errors: string[] = [];
  const noteError = (e: string | undefined): void => {
    if (e !== undefined && errors.length < MAX_ERRORS_REPORTED && !errors.includes(e)) errors.push(e);
  };
  const envoyVersion = o.envoyVersion === null ? undefined : (o.envoyVersion ?? ENVOY_VERSION);
  // Behind a token or certificate, the proxies are pods of the ServiceAccount it proves, as istio-proxy in its pod.
  const fleetShape: FleetShape = {
    mode: labels,
    namespace: identity?.namespace ?? "bench-0",
    ...(identity ? { serviceAccount: identity.serviceAccount } : {}),
    ...(injected ? { extraLabels: INJECTED_LABELS } : {}),
    name: "loadgen",
    groups: o.groups ?? 10,
    workloadOf: (k) => mesh.workloadOf(k),
  };
  const expectClusters = driver ? mesh.expectedClusters() : new Set<string>();
  const watch = new ChangeWatch();
  const fleets: { protocol: Protocol; proxies: LoadProxy[] }[] = o.fleet.map((f) => ({ protocol: f.protocol, proxies: [] }));
  const all: LoadProxy[] = [];
  const make = (protocol: Protocol, index: number, extra: { changes?: ChangeWatch; expect: ReadonlySet<string> }): LoadProxy => {
    const opts = {
      address: o.target,
      index,
      node: istioNode(proxyWorkload(index, fleetShape), envoyVersion),
      expectClusters: extra.expect,
      reconnect: o.reconnect ?? true,
      transport,
      resume: o.resume ?? true,
      ...(extra.changes ? { changes: extra.changes } : {}),
    };
    return protocol === "delta" ? new DeltaProxy(opts) : new SotwProxy(opts);
  };

  const clientCpu0 = process.cpuUsage();
  let setUp = false;
  try {
    if (driver) {
      log(`writing ${services} services to ${driver.describe}`);
      setUp = true;
      await driver.setup(mesh);
      // One probe proxy until the server serves the whole mesh: the fleet's sync is then measured against a loaded server.
      const probe = make(o.fleet.find((f) => f.count > 0)!.protocol, total, { expect: expectClusters });
      try {
        if (!(await waitUntil(() => probe.synced || probe.error !== undefined, performance.now() + readyTimeoutMs)))
          throw new Error(`the server did not serve the ${services} generated services within ${readyTimeoutMs} ms`);
        if (probe.error) throw new Error(`probe proxy: ${probe.error}`);
      } finally {
        probe.close();
      }
      log("the server serves the mesh");
    }

    monitor?.start();
    const serverCpu0 = monitor?.cpuSeconds();
    const startedAt = new Date().toISOString();
    const clientSyncCpu0 = process.cpuUsage();
    log(`opening ${total} streams${o.connectRate ? ` at ${o.connectRate}/s` : ""}`);
    const s0 = now();
    const t0 = performance.now();
    let index = 0;
    for (const [fi, f] of o.fleet.entries()) {
      for (let k = 0; k < f.count; k++) {
        if (o.connectRate && o.connectRate > 0) {
          const due = t0 + (index * 1000) / o.connectRate;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
        const p = make(f.protocol, index++, { changes: watch, expect: expectClusters });
        fleets[fi]!.proxies.push(p);
        all.push(p);
      }
    }
    const allSynced = await waitUntil(() => all.every((p) => p.synced || p.error !== undefined), performance.now() + syncTimeoutMs);
    const syncedAll = allSynced && all.every((p) => p.synced);
    const fullSyncMs = syncedAll ? Math.max(...all.map((p) => p.syncedAt!)) - s0 : NaN;
    const clientSyncCpu = process.cpuUsage(clientSyncCpu0);
    const clientSyncCpuS = (clientSyncCpu.user + clientSyncCpu.system) / 1e6;
    const serverCpu1 = monitor?.cpuSeconds();
    const notInSync = all
      .filter((p) => !p.synced)
      .slice(0, MAX_ERRORS_REPORTED)
      .map((p) => p.diagnosis());
    const memo = responseMemoStats();
    const syncCpu = `CPU during it: load generator ${clientSyncCpuS.toFixed(2)} s (system ${(clientSyncCpu.system / 1e6).toFixed(2)}; responses read ${memo.misses}, known ${memo.hits}; their resources read ${memo.resourcesRead}, known ${memo.resourceHits})${serverCpu1 !== undefined ? `, server ${(serverCpu1 - serverCpu0!).toFixed(2)} s` : ""}`;
    log(
      syncedAll
        ? `full sync: ${Math.round(fullSyncMs)} ms (${syncCpu})`
        : `full sync incomplete: ${all.filter((p) => !p.synced).length} proxies not in sync; the first: ${notInSync.slice(0, 3).join(" || ")}`,
    );
    for (const p of all) if (p.error !== undefined) noteError(p.diagnosis());

    // Churn.
    const records: ChangeRecord[] = [];
    const tracked: TrackedChange[] = [];
    const latencies = new Map<ChangeKind, { all: number[]; last: number[]; missing: number; changes: number }>();
    const finish = (t: TrackedChange): void => {
      watch.end(t.change);
      const lat: number[] = [];
      let firstMissing: LoadProxy | undefined;
      for (const p of all) {
        const at = p.seen.get(t.change.id);
        p.seen.delete(t.change.id);
        if (at !== undefined) lat.push(at - t.change.madeAt);
        else firstMissing ??= p;
      }
      const s = summarize(lat);
      const missing = all.length - lat.length;
      const k = latencies.get(t.change.kind) ?? { all: [], last: [], missing: 0, changes: 0 };
      latencies.set(t.change.kind, k);
      k.all.push(...lat);
      if (missing === 0) k.last.push(s.max);
      k.missing += missing;
      k.changes++;
      records.push({
        id: t.change.id,
        kind: t.change.kind,
        service: t.service,
        marker: t.change.marker,
        at: t.at,
        applyMs: t.applyMs,
        converged: lat.length,
        missing,
        p50: s.p50,
        p99: s.p99,
        max: s.max,
      });
      if (missing) {
        noteError(
          `change ${t.change.id} (${t.change.kind}, service ${t.service}, marker ${t.change.marker}) did not reach ${missing} proxies within ${changeTimeoutMs} ms; the first: ${firstMissing?.diagnosis() ?? "-"}`,
        );
      }
    };
    const settle = (): void => {
      for (let i = 0; i < tracked.length;) {
        const t = tracked[i]!;
        if (all.every((p) => p.seen.has(t.change.id)) || performance.now() > t.deadline) {
          tracked.splice(i, 1);
          finish(t);
        } else i++;
      }
    };
    const maxChanges = driver ? Math.min(o.maxChanges ?? Infinity, Math.floor(churnRate * durationS)) : 0;
    if (maxChanges > 0) {
      const q = monitor ? await waitForQuiet(() => monitor.cpuSeconds()) : (await sleep(QUIET_UNMEASURED_MS), undefined);
      log(
        q
          ? `before the churn: server ${q.quiet ? "idle" : "still busy"} after ${Math.round(q.waitedMs)} ms`
          : `before the churn: ${QUIET_UNMEASURED_MS} ms pause (server CPU not readable here)`,
      );
    }
    const c0 = performance.now();
    const churnStart = now();
    if (maxChanges > 0) log(`churn: ${maxChanges} changes at ${churnRate}/s`);
    for (let n = 0; n < maxChanges; n++) {
      const due = c0 + (n * 1000) / churnRate;
      while (performance.now() < due) {
        settle();
        await sleep(Math.min(POLL_MS, due - performance.now()));
      }
      const plan = planChange(n, services, kinds, runId);
      const replaced = plan.kind === "endpoint" ? mesh.podAt(plan.service, plan.endpoint) : undefined;
      if (plan.kind === "endpoint") mesh.moveEndpoint(plan.service, plan.endpoint, { pod: plan.pod, ip: plan.ip });
      else mesh.editSplit(plan.service, plan.v1Weight, plan.mark);
      const madeAt = now();
      const change = watch.begin(slotOf(plan), plan.kind, CARRIER[plan.kind], markerOf(plan), madeAt);
      const t: TrackedChange = { change, service: plan.service, at: madeAt - churnStart, applyMs: NaN, deadline: performance.now() + changeTimeoutMs };
      tracked.push(t);
      await driver!.apply(mesh, plan, replaced);
      t.applyMs = now() - madeAt;
    }
    const churnMs = performance.now() - c0;
    // The last changes: bounded by their deadlines.
    while (tracked.length) {
      settle();
      await sleep(POLL_MS);
    }
    const serverCpu2 = monitor?.cpuSeconds();
    if (maxChanges > 0) log(`churn done: ${records.length} changes in ${(churnMs / 1000).toFixed(1)} s`);

    let resume: ResumeReport | undefined;
    if (o.dropStreams) {
      log(`dropping all ${all.length} streams; each proxy resumes`);
      const live = all.filter((p) => p.error === undefined);
      const r0 = now();
      for (const p of live) p.dropStream();
      // A resume is answered once the new stream has a response of every type it asked for again.
      const answered = await waitUntil(() => live.every((p) => p.error !== undefined || p.unanswered().length === 0), performance.now() + changeTimeoutMs);
      const done = live.filter((p) => p.error === undefined && p.unanswered().length === 0);
      resume = { dropped: live.length, answered: done.length, ms: answered ? Math.max(r0, ...done.map((p) => p.lastAnsweredAt)) - r0 : NaN };
      log(
        answered
          ? `every resumed stream answered in ${Math.round(resume.ms)} ms`
          : `${live.length - done.length} resumed streams not answered within ${changeTimeoutMs} ms`,
      );
    }
    const serverCpu3 = monitor?.cpuSeconds();
    monitor?.stop();
    for (const p of all) if (p.error !== undefined || p.errors > 0) noteError(p.diagnosis());

    let server: ServerReport | undefined;
    if (monitor) {
      let vmHwmBytes = NaN;
      let error = monitor.error;
      try {
        vmHwmBytes = monitor.memory().hwmBytes;
      } catch (e) {
        error ??= (e as Error).message;
      }
      server = {
        pid: monitor.pid,
        syncCpuS: serverCpu1! - serverCpu0!,
        churnCpuS: serverCpu2! - serverCpu1!,
        ...(o.dropStreams ? { resumeCpuS: serverCpu3! - serverCpu2! } : {}),
        cpuS: serverCpu3! - serverCpu0!,
        peakRssBytes: monitor.peakRssBytes,
        vmHwmBytes,
        ...(error ? { error } : {}),
      };
    }
    const byKind: Partial<Record<ChangeKind, KindReport>> = {};
    for (const [k, v] of latencies) byKind[k] = { changes: v.changes, latency: summarize(v.all), lastProxy: summarize(v.last), missing: v.missing };
    const cpu = process.cpuUsage(clientCpu0);
    return {
      target: o.target,
      driver: driver?.describe ?? "none (observe only)",
      transport: transport.describe,
      labels,
      services,
      startedAt,
      fullSyncMs,
      notInSync,
      fleets: fleets.map((f) => fleetReport(f.protocol, f.proxies)),
      churn: {
        requestedRate: churnRate,
        achievedRate: records.length && churnMs > 0 ? (records.length * 1000) / churnMs : 0,
        durationMs: churnMs,
        byKind,
        changes: records.sort((a, b) => a.id - b.id),
      },
      ...(resume ? { resume } : {}),
      client: { cpuS: (cpu.user + cpu.system) / 1e6, syncCpuS: clientSyncCpuS, peakRssBytes: process.resourceUsage().maxRSS * 1024 },
      ...(server ? { server } : {}),
      errors,
    };
  } finally {
    monitor?.stop();
    for (const p of all) p.close();
    if (driver && setUp && !o.keep) {
      await driver.teardown(mesh).catch((e: unknown) => log(`teardown of ${driver.describe} failed: ${(e as Error).message}`));
    }
  }
}
