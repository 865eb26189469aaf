// What the targets section (targets.ts) runs, and in which order: pure, from BENCH_QUICK and the
// BENCH_TARGETS_* knobs. Scenarios run in priority order, so that a spent budget cuts the least
// needed ones: the small mesh, the main scale with identical labels, the scaling rows (few changes
// each), the main scale in the realistic workloads mode, the soak, then the other label modes.
// The tables are printed in their own order whatever ran.
import { LABEL_MODES, type LabelMode } from "../../src/loadgen/node.js";

export type Part = "translation" | "startup" | "small" | "main" | "scaling" | "soak";
export const PARTS: readonly Part[] = ["translation", "startup", "small", "main", "scaling", "soak"];

export interface TargetsPlan {
  /** The main scale: services × proxies. */
  readonly services: number;
  readonly proxies: number;
  /** Seconds of churn (one change a second) per label mode at the main scale, of the soak, of each scaling row. */
  readonly churnS: number;
  readonly soakS: number;
  readonly scalingChurnS: number;
  /** Bound of the server's start, the mesh being served and the full sync, each. */
  readonly timeoutMs: number;
  /** Proxy counts of the proxy scaling (at `services`) and service counts of the service scaling (at `stepProxies`). */
  readonly proxySteps: readonly number[];
  readonly serviceSteps: readonly number[];
  readonly stepProxies: number;
  /** Label modes at the main scale (and of the small mesh). */
  readonly modes: readonly LabelMode[];
  readonly parts: ReadonlySet<Part>;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The knobs (environment variables) and what each does, for run.ts's usage text. */
export const KNOBS: readonly (readonly [string, string])[] = [
  ["BENCH_TARGETS_SCALE=1000x2000", "the main scale, services × proxies (quick: 100x50)"],
  ["BENCH_TARGETS_CHURN_S=30", "seconds of churn per label mode at the main scale (quick: 10)"],
  ["BENCH_TARGETS_SOAK_S=600", "seconds of the soak's churn (quick: 30)"],
  ["BENCH_TARGETS_PROXY_STEPS=100,1000,2000", "proxies of the proxy scaling rows, at the main scale's services (quick: 10,25,50)"],
  ["BENCH_TARGETS_SERVICE_STEPS=100,1000,5000", "services of the service scaling rows (quick: 20,100,500)"],
  ["BENCH_TARGETS_STEP_PROXIES=100", "proxies of the service scaling rows (quick: 10)"],
  ["BENCH_TARGETS_SCALING_CHURN_S=6", "seconds of churn of each scaling row (quick: 4)"],
  ["BENCH_TARGETS_MODES=workloads,identical,distinct,groups", "label modes at the main scale and of the small mesh"],
  ["BENCH_TARGETS_PARTS=translation,startup,small,main,scaling,soak", "the parts of the section to run"],
  ["BENCH_TARGETS_START_WITHIN_MIN=80", "no scenario starts after this many minutes of the section (quick: 15)"],
];

function count(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${v}" is not a whole number ≥ 1`);
  return n;
}

function list<T extends string>(name: string, v: string, allowed: readonly T[]): T[] {
  const out = v
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
  for (const x of out) if (!(allowed as readonly string[]).includes(x)) throw new Error(`${name}: "${x}" is none of ${allowed.join(", ")}`);
  return out as T[];
}

function counts(name: string, v: string): number[] {
  return [...new Set(v.split(",").map((x) => count(name, x.trim())))].sort((a, b) => a - b);
}

/** The plan for BENCH_QUICK (`quick`) and the knobs in `env`; a knob with a bad value is an error naming it. */
export function targetsPlan(quick: boolean, env: Env): TargetsPlan {
  const get = (k: string): string | undefined => (env[k] !== undefined && env[k] !== "" ? env[k] : undefined);
  const seconds = (k: string, fallback: number): number => {
    const v = get(k);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${k}: "${v}" is not a number of seconds ≥ 0`);
    return n;
  };
  const scaleText = get("BENCH_TARGETS_SCALE");
  const scale = scaleText === undefined ? undefined : /^(\d+)x(\d+)$/.exec(scaleText);
  if (scaleText !== undefined && !scale) throw new Error(`BENCH_TARGETS_SCALE: "${scaleText}" is not <services>x<proxies>`);
  const services = scale ? count("BENCH_TARGETS_SCALE", scale[1]!) : quick ? 100 : 1000;
  const proxies = scale ? count("BENCH_TARGETS_SCALE", scale[2]!) : quick ? 50 : 2000;
  const modesText = get("BENCH_TARGETS_MODES");
  const partsText = get("BENCH_TARGETS_PARTS");
  return {
    services,
    proxies,
    churnS: seconds("BENCH_TARGETS_CHURN_S", quick ? 10 : 30),
    soakS: seconds("BENCH_TARGETS_SOAK_S", quick ? 30 : 600),
    scalingChurnS: seconds("BENCH_TARGETS_SCALING_CHURN_S", quick ? 4 : 6),
    timeoutMs: quick ? 120_000 : 400_000,
    proxySteps: counts("BENCH_TARGETS_PROXY_STEPS", get("BENCH_TARGETS_PROXY_STEPS") ?? (quick ? "10,25,50" : "100,1000,2000")),
    serviceSteps: counts("BENCH_TARGETS_SERVICE_STEPS", get("BENCH_TARGETS_SERVICE_STEPS") ?? (quick ? "20,100,500" : "100,1000,5000")),
    stepProxies: count("BENCH_TARGETS_STEP_PROXIES", get("BENCH_TARGETS_STEP_PROXIES") ?? (quick ? "10" : "100")),
    // The realistic mode first: it is the one the soak runs in when it gets in sync.
    modes: modesText === undefined ? ["workloads", ...LABEL_MODES.filter((m) => m !== "workloads")] : list("BENCH_TARGETS_MODES", modesText, LABEL_MODES),
    parts: new Set(partsText === undefined ? PARTS : list("BENCH_TARGETS_PARTS", partsText, PARTS)),
  };
}

/** One load scenario (targets-scenario.ts) of the plan. */
export interface Step {
  readonly kind: "small" | "main" | "scaling" | "soak";
  readonly services: number;
  readonly proxies: number;
  /** The label mode; for the soak, decided when it starts (soakSize), as is its size. */
  readonly labels: LabelMode | "soak";
  readonly churnS: number;
  readonly timeoutMs: number;
}

/** The small mesh of the issue: 50 services / 10 proxies. */
const SMALL = { services: 50, proxies: 10, churnS: 4, timeoutMs: 60_000 } as const;

/**
 * The scaling rows (identical labels), smallest first: the proxy steps at the main scale's
 * services and the service steps at `stepProxies`, each size once, without the main scale itself
 * when the main identical run gives it.
 */
export function scalingSizes(p: TargetsPlan): { services: number; proxies: number }[] {
  const mainGivesIt = p.parts.has("main") && p.modes.includes("identical");
  const out: { services: number; proxies: number }[] = [];
  const add = (services: number, proxies: number): void => {
    if (mainGivesIt && services === p.services && proxies === p.proxies) return;
    if (!out.some((s) => s.services === services && s.proxies === proxies)) out.push({ services, proxies });
  };
  for (const proxies of p.proxySteps) add(p.services, proxies);
  for (const services of p.serviceSteps) add(services, p.stepProxies);
  return out.sort((a, b) => a.services * a.proxies - b.services * b.proxies || a.proxies - b.proxies);
}

/** The scenarios in the order they run (priority), as far as the plan's parts ask for them. */
export function schedule(p: TargetsPlan): Step[] {
  const out: Step[] = [];
  const main = (labels: LabelMode): Step => ({ kind: "main", services: p.services, proxies: p.proxies, labels, churnS: p.churnS, timeoutMs: p.timeoutMs });
  if (p.parts.has("small")) for (const labels of p.modes) out.push({ kind: "small", ...SMALL, labels });
  if (p.parts.has("main") && p.modes.includes("identical")) out.push(main("identical"));
  if (p.parts.has("scaling"))
    for (const s of scalingSizes(p)) out.push({ kind: "scaling", ...s, labels: "identical", churnS: p.scalingChurnS, timeoutMs: p.timeoutMs });
  if (p.parts.has("main") && p.modes.includes("workloads")) out.push(main("workloads"));
  if (p.parts.has("soak")) out.push({ kind: "soak", services: p.services, proxies: p.proxies, labels: "soak", churnS: p.soakS, timeoutMs: p.timeoutMs });
  if (p.parts.has("main")) for (const m of p.modes) if (m !== "identical" && m !== "workloads") out.push(main(m));
  return out;
}

/** How a step is named in logs and in the list of what did not run. */
export function describeStep(s: Step): string {
  const labels = s.labels === "soak" ? "soak" : `labels ${s.labels}`;
  return `${s.kind}: ${s.services} services / ${s.proxies} proxies, ${labels}, ${s.churnS} s of churn`;
}

/**
 * Where the soak runs, from how the scenarios before it went (`synced`: the fleet got in sync):
 * at the main scale in the workloads mode if that got in sync there, else with identical labels
 * if that did; else at the largest proxy scaling row that got in sync (a soak of a fleet that
 * never syncs measures nothing); else at the main scale with identical labels.
 */
export function soakSize(
  p: TargetsPlan,
  before: readonly { readonly step: Step; readonly synced: boolean }[],
): { services: number; proxies: number; labels: LabelMode } {
  const main = (labels: LabelMode): boolean => before.some((b) => b.step.kind === "main" && b.step.labels === labels && b.synced);
  if (main("workloads")) return { services: p.services, proxies: p.proxies, labels: "workloads" };
  if (main("identical")) return { services: p.services, proxies: p.proxies, labels: "identical" };
  const rows = before.filter((b) => b.step.kind === "scaling" && b.step.services === p.services && b.synced).map((b) => b.step.proxies);
  return { services: p.services, proxies: rows.length ? Math.max(...rows) : p.proxies, labels: "identical" };
}
