/**
 * Istio durations are Go durations (`500ms`, `1.5s`, `30m`, `1h30m`); Envoy's JSON takes
 * google.protobuf.Duration's form, seconds with an `s` suffix (`0.500s`, `1800s`). Every duration
 * that reaches Envoy goes through here.
 */
import { parseDuration } from "../api/duration.js";

/** Go duration → protobuf JSON duration; input that is not a duration is passed through (validation rejects it earlier). */
export function protoDuration(text: string): string {
  const d = parseDuration(text);
  if (!d) return text;
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
export function durationWholeSeconds(text: string): number {
  const d = parseDuration(text);
  if (!d || d.totalNanos <= 0n) return 0;
  return Math.max(1, Math.round(Number(d.totalNanos / 1_000_000n) / 1000));
}
