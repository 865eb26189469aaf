// Small helpers shared by the bench sections: timing, medians, heap after GC, number formatting
// and aligned plain-text / markdown tables.

export type Cell = string | number;

export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  readonly notes?: readonly string[];
}

function text(c: Cell): string {
  return typeof c === "number" ? String(c) : c;
}

/** Aligned plain text: first column left-aligned, the others right-aligned. */
export function formatTable(t: Table): string {
  const cells = [t.header, ...t.rows].map((r) => r.map(text));
  const widths = t.header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [
    t.title,
    "-".repeat(
      Math.max(
        t.title.length,
        widths.reduce((a, b) => a + b + 2, -2),
      ),
    ),
    line(cells[0]!),
    ...cells.slice(1).map(line),
  ];
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  return out.join("\n");
}

export function markdownTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const esc = (c: Cell): string => text(c).replace(/\|/g, "\\|");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function ms(x: number): string {
  if (!Number.isFinite(x)) return "-";
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

export function ratio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}` : "-";
}

/** Time `f` once, in milliseconds. */
export function timed<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

const gcFn = (globalThis as { gc?: () => void }).gc;

export function hasGc(): boolean {
  return typeof gcFn === "function";
}

export interface Retained {
  /** V8 heap in use (JS objects, strings, maps). */
  readonly heap: number;
  /** ArrayBuffer backing stores (Buffers, Uint8Arrays): outside heapUsed. */
  readonly buffers: number;
}

/** Memory in use after full collections (several passes: weak maps and finalizers settle late). */
export function retainedAfterGc(): Retained {
  if (!gcFn) return { heap: NaN, buffers: NaN };
  for (let i = 0; i < 3; i++) gcFn();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

export function minus(a: Retained, b: Retained): Retained {
  return { heap: a.heap - b.heap, buffers: a.buffers - b.buffers };
}

export function gc(): void {
  gcFn?.();
}

export function sleep(msec: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msec));
}
