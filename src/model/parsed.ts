/**
 * Istio objects with their durations parsed: the API keeps Go duration text (`1.5s`) as users wrote
 * it; the resolved model holds `Duration`s, parsed once per object (validation has rejected text
 * that is not a duration before it reaches the model).
 */
import { parseDuration, type Duration } from "../api/duration.js";
import type { TrafficPolicyCore } from "../api/istio-types.js";

export type { Duration };

/** Every field of the networking API that holds a duration. */
const DURATION_FIELDS = [
  "timeout",
  "perTryTimeout",
  "backoff",
  "fixedDelay",
  "exponentialDelay",
  "maxAge",
  "ttl",
  "warmupDurationSecs",
  "connectTimeout",
  "idleTimeout",
  "maxConnectionDuration",
  "time",
  "interval",
  "baseEjectionTime",
] as const;
type DurationField = (typeof DURATION_FIELDS)[number];
const DURATION_FIELD_SET: ReadonlySet<string> = new Set(DURATION_FIELDS);
/** Maps keyed by user-chosen names (labels, header names): a label called `timeout` is no duration. */
const NAME_MAPS: ReadonlySet<string> = new Set(["labels", "sourceLabels", "matchLabels", "set", "add"]);

/** `T` with each duration field a `Duration`. */
export type Parsed<T> = T extends string | number | boolean | bigint ? T : { readonly [K in keyof T]: K extends DurationField ? Duration : Parsed<T[K]> };

const memo = new WeakMap<object, unknown>();

/** `value` with its durations parsed; the same object gives the same result (memoised by identity). */
export function parseDurations<T>(value: T): Parsed<T> {
  if (value === null || typeof value !== "object") return value as Parsed<T>;
  const known = memo.get(value);
  if (known !== undefined) return known as Parsed<T>;
  let out: unknown;
  if (Array.isArray(value)) out = value.map((v: unknown) => parseDurations(v));
  else {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (NAME_MAPS.has(k)) o[k] = v;
      else if (DURATION_FIELD_SET.has(k) && typeof v === "string") {
        const d = parseDuration(v);
        if (d) o[k] = d;
      } else o[k] = parseDurations(v);
    }
    out = o;
  }
  memo.set(value, out);
  return out as Parsed<T>;
}

/** The policy of one cluster (a service port, or one of its subsets), durations parsed. */
export type ClusterPolicy = Parsed<TrafficPolicyCore>;
