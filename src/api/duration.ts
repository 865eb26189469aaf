/**
 * Durations as users write them in Istio resources: Go duration syntax (`1s`, `500ms`, `1.5s`, `1h30m`,
 * units ns, us/µs, ms, s, m, h). Parsed exactly (BigInt nanoseconds) so that later stages can emit
 * protobuf Durations without rounding.
 */

export interface Duration {
  /** Total nanoseconds. */
  readonly totalNanos: bigint;
  /** Whole seconds and the nanosecond remainder, as google.protobuf.Duration holds them. */
  readonly seconds: bigint;
  readonly nanos: number;
}

const UNIT_NANOS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_NANOS = 9_223_372_036_854_775_807n; // Go's time.Duration is an int64
const NANOS_PER_MS = 1_000_000n;
const NANOS_PER_S = 1_000_000_000n;

/** Parse a Go-style duration; undefined when the text is not one. A sign is allowed (and rejected later). */
export function parseDuration(text: string): Duration | undefined {
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return make(0n);
  if (s === "") return undefined;
  let total = 0n;
  const re = /^([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m) return undefined;
    const whole = m[1] ?? "";
    const frac = m[2] ?? "";
    if (whole === "" && frac === "") return undefined;
    const unit = UNIT_NANOS[m[3] ?? ""];
    if (unit === undefined) return undefined;
    let part = BigInt(whole === "" ? "0" : whole) * unit;
    if (frac !== "") {
      // exact: frac/10^len * unit, truncated like Go does
      part += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    }
    total += part;
    if (total > MAX_NANOS) return undefined;
    s = s.slice(m[0].length);
  }
  return make(negative ? -total : total);
}

function make(totalNanos: bigint): Duration {
  const seconds = totalNanos / NANOS_PER_S;
  const nanos = Number(totalNanos % NANOS_PER_S);
  return { totalNanos, seconds, nanos };
}

export type DurationRule =
  /** Istio's webhook rule: at least 1ms, millisecond precision. */
  | "istio"
  /** As "istio", but 0 (disabled) is allowed too. */
  | "istio-or-zero"
  /** Whole seconds, at least 1s (CORS maxAge). */
  | "seconds"
  /** Any non-negative duration. */
  | "non-negative";

/** The reason a duration string is not acceptable under `rule`, or undefined. */
export function durationError(text: string, rule: DurationRule = "istio"): string | undefined {
  const d = parseDuration(text);
  if (!d) return `"${text}" is not a duration (write e.g. 500ms, 1s, 1.5s, 2m, 1h)`;
  if (d.totalNanos < 0n) return `duration "${text}" must not be negative`;
  switch (rule) {
    case "non-negative":
      return undefined;
    case "istio-or-zero":
      if (d.totalNanos === 0n) return undefined;
      return istioRule(text, d);
    case "istio":
      return istioRule(text, d);
    case "seconds":
      if (d.totalNanos < NANOS_PER_MS) return `duration "${text}" must be at least 1ms`;
      if (d.nanos !== 0) return `duration "${text}" is accurate only to seconds precision`;
      return undefined;
  }
}

function istioRule(text: string, d: Duration): string | undefined {
  if (d.totalNanos < NANOS_PER_MS) return `duration "${text}" must be at least 1ms`;
  if (d.totalNanos % NANOS_PER_MS !== 0n) return `duration "${text}": only durations to ms precision are supported`;
  return undefined;
}

/** Milliseconds as a JS number (exact for any duration Istio accepts below ~285 000 years). */
export function durationMillis(d: Duration): number {
  return Number(d.totalNanos / NANOS_PER_MS);
}
