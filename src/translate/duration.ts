/**
 * Envoy's JSON takes google.protobuf.Duration in its text form, seconds with an `s` suffix
 * (`0.500s`, `1800s`). The model holds durations parsed; every duration that reaches Envoy is
 * formatted here.
 */
import type { Duration } from "../model/parsed.js";

/** A duration in protobuf JSON form, with 0, 3, 6 or 9 fractional digits. */
export function protoDuration(d: Duration): string {
  const negative = d.totalNanos < 0n;
  const abs = negative ? -d.totalNanos : d.totalNanos;
  const seconds = abs / 1_000_000_000n;
  const nanos = Number(abs % 1_000_000_000n);
  let frac = "";
  if (nanos !== 0) {
    const digits = String(nanos).padStart(9, "0");
    frac = "." + (nanos % 1_000_000 === 0 ? digits.slice(0, 3) : nanos % 1_000 === 0 ? digits.slice(0, 6) : digits);
  }
  return `${negative ? "-" : ""}${seconds}${frac}s`;
}

/** Whole seconds (rounded, at least 1 for a positive duration), for Envoy fields typed as integer seconds. */
export function durationWholeSeconds(d: Duration): number {
  if (d.totalNanos <= 0n) return 0;
  return Math.max(1, Math.round(Number(d.totalNanos / 1_000_000n) / 1000));
}
