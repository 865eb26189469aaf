// The targets table (issue 12 item 3): one row per figure, with the target, the ratio
// figure / target and a verdict that says by how much a missed target is missed. Pure: the
// section (targets.ts) measures, this formats.
import { bytes, markdownTable, ms, type Cell, type Table } from "./report.js";

export type Unit = "ms" | "s" | "bytes" | "cores" | "bytes/min";

export interface TargetRow {
  /** What is measured, e.g. "endpoint change → every proxy, p99". */
  readonly figure: string;
  /** Label mode, scale or "-" where the row has no variant. */
  readonly variant: string;
  /** Measured value; NaN when it could not be measured (then `missing` says why). */
  readonly value: number;
  /** The target: the value must be at most this. */
  readonly limit: number;
  readonly unit: Unit;
  /** How the limit was made, when it is computed (e.g. "150 ms + 12 ms wire"). */
  readonly limitNote?: string;
  /** Why there is no figure (not reached, failed, not run). */
  readonly missing?: string;
  /** Something to show next to the figure (e.g. bytes per proxy). */
  readonly detail?: string;
}

export function formatValue(x: number, unit: Unit): string {
  if (!Number.isFinite(x)) return "-";
  switch (unit) {
    case "ms":
      return `${ms(x)} ms`;
    case "s":
      return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)} s`;
    case "bytes":
      return bytes(x);
    case "cores":
      return `${x.toFixed(3)} core`;
    case "bytes/min":
      return `${x < 0 ? "-" : ""}${bytes(Math.abs(x))}/min`;
  }
}

/** figure / target; NaN when either is missing. A target of 0 met exactly is 1. */
export function targetRatio(value: number, limit: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(limit)) return NaN;
  if (limit === 0) return value <= 0 ? 1 : Infinity;
  return value / limit;
}

/** "met", or by how much the target is missed ("missed: 2.40×"), or why there is no figure. */
export function verdict(r: Pick<TargetRow, "value" | "limit" | "missing">): string {
  const q = targetRatio(r.value, r.limit);
  if (Number.isNaN(q)) return `not measured${r.missing ? `: ${r.missing}` : ""}`;
  if (q <= 1) return "met";
  return Number.isFinite(q) ? `MISSED by ${q.toFixed(2)}×` : "MISSED";
}

function cells(r: TargetRow): Cell[] {
  const q = targetRatio(r.value, r.limit);
  return [
    r.figure,
    r.variant,
    `${formatValue(r.value, r.unit)}${r.detail ? ` (${r.detail})` : ""}`,
    `≤ ${formatValue(r.limit, r.unit)}${r.limitNote ? ` (${r.limitNote})` : ""}`,
    Number.isFinite(q) ? q.toFixed(2) : "-",
    verdict(r),
  ];
}

export const TARGET_HEADER = ["figure", "variant", "measured", "target", "ratio", "verdict"] as const;

export function targetsTable(title: string, rows: readonly TargetRow[], notes: readonly string[] = []): Table {
  return { title, header: TARGET_HEADER, rows: rows.map(cells), notes };
}

export function targetsMarkdown(rows: readonly TargetRow[]): string {
  return markdownTable(TARGET_HEADER, rows.map(cells));
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than two points. */
export function slope(points: readonly { readonly x: number; readonly y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
