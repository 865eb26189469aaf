// Section 4a: time from a write through the Kubernetes API to the change being applied by a real
// Envoy. meshpilot runs in-process (startServer with the kube source, production debounce
// defaults, status writing on), one Envoy connects over delta ADS as the productpage sidecar of
// the reviews canary (test/support/kube-mesh.ts), backends answer on pod addresses on lo.
//
// Each change is one API write: a VirtualService default route flipped v1 ↔ v2 (an RDS push), or
// an EndpointSlice endpoint flipped not ready ↔ ready (the EDS fast path). For each change the
// clock starts when the write returns and stops at these exact signals (no traffic polling):
//   informer — KubeSource delivered the change (its onChange hook; bounded below by the build start);
//   build    — ControlPlane.update started (after the debouncer's wait);
//   pushed   — ControlPlane.update returned: the view rebuilt and the xDS response written to the
//              stream (the push is synchronous inside update);
//   ACK      — the proxy's sync status shows the new nonce ACKed (polled every 1 ms in-process);
//   traffic  — the first request through Envoy that shows the change (asked right after the ACK,
//              then every ms; proves the ACK meant "applied").
// Two pacings: "lone" waits well past the debounce quiet period before each write (a single
// change, what a user editing one object sees); "back-to-back" writes the next change as soon as
// the previous one is applied, so each lands inside the quiet period and waits it out.
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import type { ShortType } from "../../src/xds/observer.js";
import { httpRequest, startBackend, type Backend } from "../support/backend.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import type { KubeCluster } from "../support/kube.js";
import { createCanary, endpointSlice, pickAddresses, PRODUCTPAGE_POD, virtualService, type KubeMeshNet } from "../support/kube-mesh.js";
import { ms, sleep, type Cell } from "./report.js";

const NS = "bench-latency";
/** Production default of `meshpilot serve` (src/runtime/serve.ts); the bench does not override it. */
export const DEBOUNCE_QUIET_MS = 100;
const LONE_GAP_MS = DEBOUNCE_QUIET_MS + 150;
const STEP_TIMEOUT_MS = 10_000;

export type ChangeKind = "VirtualService" | "EndpointSlice";
export type Pacing = "lone" | "back-to-back";

/** Milliseconds from the API write returning (negative: before it returned). */
export interface LatencySample {
  readonly kind: ChangeKind;
  readonly pacing: Pacing;
  /** The API call itself, request to response. */
  readonly writeMs: number;
  readonly informerMs: number;
  readonly buildMs: number;
  readonly pushedMs: number;
  readonly ackedMs: number;
  readonly trafficMs: number;
  readonly fastPath: boolean;
}

export interface LatencyPlan {
  readonly kind: ChangeKind;
  readonly pacing: Pacing;
  readonly changes: number;
}

export interface LatencyResult {
  readonly samples: readonly LatencySample[];
  readonly plans: readonly LatencyPlan[];
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  // nearest rank
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>, everyMs = 1): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`kube latency: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface Fixture {
  readonly server: RunningServer;
  readonly envoy: Envoy;
  readonly backends: Backend[];
  readonly a: KubeMeshNet;
  readonly proxyId: string;
  /** meshpilot's warnings and errors (the analyzer reports the not-ready subset on every EDS flip), shown only on failure. */
  readonly logLines: string[];
}

async function startFixture(kube: KubeCluster, log: (s: string) => void): Promise<Fixture> {
  const a = await pickAddresses();
  const backends: Backend[] = [];
  let server: RunningServer | undefined;
  const logLines: string[] = [];
  const sink = { write: (line: string) => void (logLines.push(line) > 50 && logLines.shift()) };
  try {
    await createCanary(kube.admin, NS, a);
    for (const [version, host] of [
      ["v1", a.v1Ip],
      ["v2", a.v2Ip],
    ] as const) {
      backends.push(await startBackend({ version, host, port: a.port, listening: await a.listen(host) }));
    }
    server = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger: pino({ level: "warn", base: { app: "meshpilot" } }, sink),
      kube: { kubeConfig: kube.admin.config, leaseNamespace: "default" },
    });
    await until("meshpilot to sync with the API server", 60_000, () => (server!.controlPlane.ready ? true : undefined), 20);
    const proxyId = `sidecar~${a.productpageIp}~${PRODUCTPAGE_POD}.${NS}~${NS}.svc.cluster.local`;
    const envoy = await startSidecarEnvoy("bench-kube", {
      nodeId: proxyId,
      xdsAddress: await a.hostAddress(server.xdsPort),
      netns: a.netns,
      labels: { app: "productpage", version: "v1" },
      sotw: false,
      waitReady: false,
    });
    await envoy.waitReady(30_000);
    log(`section 4a: meshpilot, Envoy and backends up; proxy ${proxyId}`);
    return { server, envoy, backends, a, proxyId, logLines };
  } catch (err) {
    await server?.stop();
    for (const b of backends) await b.close();
    await a.release();
    throw err;
  }
}

async function stopFixture(f: Fixture): Promise<void> {
  await f.envoy.stop();
  await f.server.stop();
  for (const b of f.backends) await b.close();
  await f.a.release();
}

export async function runKubeLatency(kube: KubeCluster, plans: readonly LatencyPlan[], log: (s: string) => void): Promise<LatencyResult> {
  const f = await startFixture(kube, log);
  try {
    const { server, a } = f;
    const admin = kube.admin;
    const url = `http://127.0.0.1:${a.port}/`;
    const ask = async (headers: Record<string, string> = {}): Promise<string> => {
      const r = await httpRequest(url, { host: "reviews", headers, timeoutMs: 3000 });
      return r.headers["x-backend-version"] ?? `status:${r.status}`;
    };
    // The canary's starting point: default → v1, x-canary: v2 → v2.
    await until(
      "the canary to route through Envoy",
      30_000,
      async () => ((await ask().catch(() => "")) === "v1" && (await ask({ "x-canary": "v2" })) === "v2" ? true : undefined),
      25,
    );

    const changes: number[] = [];
    const builds: Array<{ at: number; seconds: number; fastPath: boolean }> = [];
    const offChange = server.kube!.onChange(() => changes.push(performance.now()));
    const offBuild = server.controlPlane.onBuild((s) => builds.push({ at: performance.now(), seconds: s.seconds, fastPath: s.fastPath }));
    const typeStatus = (t: ShortType) => server.xds.syncStatus().find((s) => s.id === f.proxyId)?.types[t];

    let fallback = "v1";
    let v2Ready = true;
    const samples: LatencySample[] = [];
    try {
      for (const plan of plans) {
        log(`section 4a: ${plan.changes} ${plan.kind} changes, ${plan.pacing}`);
        for (let i = 0; i < plan.changes; i++) {
          const lastBuild = builds.at(-1)?.at ?? 0;
          if (plan.pacing === "lone") await sleep(Math.max(0, lastBuild + LONE_GAP_MS - performance.now()));
          // A delta Envoy gets a VirtualService edit as the virtual hosts it changes (VHDS), or as
          // its route configuration when that changes too: whichever is pushed first and ACKed.
          const types: readonly ShortType[] = plan.kind === "VirtualService" ? ["rds", "vhds"] : ["eds"];
          const before = new Map(types.map((t) => [t, typeStatus(t)]));
          if (!types.some((t) => before.get(t))) throw new Error(`kube latency: proxy ${f.proxyId} has no ${types.join("/")} stream state`);
          changes.length = 0;
          builds.length = 0;
          let expect: () => Promise<boolean>;
          const t0 = performance.now();
          if (plan.kind === "VirtualService") {
            fallback = fallback === "v1" ? "v2" : "v1";
            const want = fallback;
            await admin.apply(virtualService(NS, "v2", want));
            expect = async () => (await ask()) === want;
          } else {
            v2Ready = !v2Ready;
            const want = v2Ready ? "v2" : "status:503";
            await admin.apply(
              endpointSlice(NS, "reviews-x1", "reviews", a.port, [
                { ip: a.v1Ip, pod: "reviews-v1" },
                { ip: a.v2Ip, pod: "reviews-v2", ready: v2Ready },
              ]),
            );
            expect = async () => (await ask({ "x-canary": "v2" })) === want;
          }
          const tw = performance.now();
          const ackedAt = await until(`Envoy to ACK the ${types.join("/")} push of ${plan.kind} change ${i + 1}`, STEP_TIMEOUT_MS, () => {
            for (const t of types) {
              const st = typeStatus(t);
              const was = before.get(t);
              if (!st) continue;
              if (st.nacks !== (was?.nacks ?? 0)) throw new Error(`kube latency: Envoy NACKed ${t}: ${st.lastNack?.message ?? "?"}`);
              if (st.nonceSent !== was?.nonceSent && st.nonceAcked === st.nonceSent) return performance.now();
            }
            return undefined;
          });
          const trafficAt = await until(`traffic through Envoy to show ${plan.kind} change ${i + 1}`, STEP_TIMEOUT_MS, async () =>
            (await expect()) ? performance.now() : undefined,
          );
          const build = builds[0];
          if (!build) throw new Error(`kube latency: ${plan.kind} change ${i + 1} was ACKed without a build`);
          const buildStart = build.at - build.seconds * 1000;
          // onChange fires after the source's update was handled, which includes the build when the
          // debouncer ran it at once: the informer had it no later than the build started.
          const informerAt = Math.min(changes[0] ?? Infinity, buildStart);
          samples.push({
            kind: plan.kind,
            pacing: plan.pacing,
            writeMs: tw - t0,
            informerMs: informerAt - tw,
            buildMs: buildStart - tw,
            pushedMs: build.at - tw,
            ackedMs: ackedAt - tw,
            trafficMs: trafficAt - tw,
            fastPath: build.fastPath,
          });
        }
      }
    } finally {
      offChange();
      offBuild();
    }
    return { samples, plans };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- meshpilot log, last lines ---\n${f.logLines.join("")}`, { cause: err });
  } finally {
    await stopFixture(f);
  }
}

const STAT_HEADER = ["p50", "p90", "p99", "max"];

function stats(xs: readonly number[]): string[] {
  return [percentile(xs, 50), percentile(xs, 90), percentile(xs, 99), Math.max(...xs)].map(ms);
}

/** One row per (change kind, pacing): the ACK distribution, then the medians of each stage. */
export function latencyRows(r: LatencyResult): Cell[][] {
  return r.plans.map((p) => {
    const s = r.samples.filter((x) => x.kind === p.kind && x.pacing === p.pacing);
    const med = (f: (x: LatencySample) => number) => ms(percentile(s.map(f), 50));
    return [
      `${p.kind} (${p.kind === "VirtualService" ? "RDS or VHDS" : s.every((x) => x.fastPath) ? "EDS fast path" : "EDS"})`,
      p.pacing,
      s.length,
      ...stats(s.map((x) => x.ackedMs)),
      `${ms(
        percentile(
          s.map((x) => x.writeMs + x.ackedMs),
          50,
        ),
      )} / ${ms(
        percentile(
          s.map((x) => x.writeMs + x.ackedMs),
          99,
        ),
      )}`,
      med((x) => x.writeMs),
      med((x) => x.informerMs),
      med((x) => x.buildMs - x.informerMs),
      med((x) => x.pushedMs - x.buildMs),
      med((x) => x.ackedMs - x.pushedMs),
      med((x) => x.trafficMs - x.ackedMs),
    ];
  });
}

export const LATENCY_HEADER = [
  "change",
  "pacing",
  "n",
  ...STAT_HEADER.map((h) => `${h} → ACK`),
  "p50/p99 from sending",
  "API call",
  "→ informer",
  "debounce wait",
  "build+push",
  "push → ACK",
  "ACK → traffic",
];
