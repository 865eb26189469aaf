// Where two sets of one proxy's config differ, resource by resource: meshpilot's intent against
// what the proxy holds (proxy-config --diff), or one config directory against another
// (translate --diff). Both sides are canonical proto-JSON (held.ts). Endpoints compare by what
// routing uses (address, weight, locality, priority, health): Envoy's dump of a
// ClusterLoadAssignment is rebuilt from its host set and adds defaults no control plane sent.
import { jsonDiff, sameJson } from "../json-diff.js";
import type { ConfigType, Held, HeldResource, JsonObject } from "./held.js";

/** `left-only`: only on the left side; `right-warming`: equal, but not active on the right yet. */
export type Change = "left-only" | "right-only" | "differs" | "right-warming";

export interface ResourceDifference {
  readonly type: ConfigType;
  readonly name: string;
  readonly change: Change;
  readonly leftVersion?: string;
  readonly rightVersion?: string;
  /** Unified diff, left (---) → right (+++). */
  readonly diff: string;
}

const o = (v: unknown): JsonObject | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined);

/** A ClusterLoadAssignment reduced to what routing uses, with Envoy's defaults made explicit. */
function endpointFacts(cla: JsonObject): unknown {
  const lines: string[] = [];
  for (const g of (cla["endpoints"] as unknown[] | undefined) ?? []) {
    const group = o(g) ?? {};
    const loc = o(group["locality"]) ?? {};
    const where = [loc["region"], loc["zone"], loc["subZone"]].map((x) => (typeof x === "string" ? x : "")).join("/");
    for (const l of (group["lbEndpoints"] as unknown[] | undefined) ?? []) {
      const lb = o(l) ?? {};
      const sa = o(o(o(lb["endpoint"])?.["address"])?.["socketAddress"]) ?? {};
      const health = typeof lb["healthStatus"] === "string" && lb["healthStatus"] !== "UNKNOWN" ? lb["healthStatus"] : "HEALTHY";
      lines.push(
        `${String(sa["address"])}:${String(sa["portValue"])} weight=${String(lb["loadBalancingWeight"] ?? 1)} locality=${where} priority=${String(group["priority"] ?? 0)} health=${String(health)}`,
      );
    }
  }
  return { clusterName: cla["clusterName"], endpoints: lines.sort() };
}

/** A route configuration with its virtual hosts by name: Envoy matches them by domain, not order, and dumps VHDS ones after the rest. */
function routeFacts(rc: JsonObject): unknown {
  const hosts = rc["virtualHosts"] as unknown[] | undefined;
  if (!hosts) return rc;
  const name = (v: unknown): string => String(o(v)?.["name"] ?? "");
  return { ...rc, virtualHosts: [...hosts].sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0)) };
}

const comparable = (type: ConfigType, r: HeldResource): unknown =>
  type === "endpoints" ? endpointFacts(r.json) : type === "routes" ? routeFacts(r.json) : r.json;

export function compareHeld(left: Held, right: Held, types: readonly ConfigType[], labels: { left: string; right: string }): ResourceDifference[] {
  const out: ResourceDifference[] = [];
  for (const type of types) {
    const l = new Map(left[type].map((r) => [r.name, r]));
    const r = new Map(right[type].map((x) => [x.name, x]));
    for (const name of [...new Set([...l.keys(), ...r.keys()])].sort()) {
      const a = l.get(name);
      const b = r.get(name);
      const versions = { ...(a ? { leftVersion: a.version } : {}), ...(b ? { rightVersion: b.version } : {}) };
      const ca = a ? comparable(type, a) : undefined;
      const cb = b ? comparable(type, b) : undefined;
      const change: Change | undefined = !b
        ? "left-only"
        : !a
          ? "right-only"
          : !sameJson(ca, cb)
            ? "differs"
            : b.state !== "active"
              ? "right-warming"
              : undefined;
      if (change) out.push({ type, name, change, ...versions, diff: change === "right-warming" ? "" : jsonDiff(ca, cb, labels.left, labels.right) });
    }
  }
  return out;
}

/** Every resource name of `types` on either side. */
export function comparedCount(left: Held, right: Held, types: readonly ConfigType[]): number {
  return types.reduce((n, t) => n + new Set([...left[t], ...right[t]].map((r) => r.name)).size, 0);
}

/** The differences as text: a headline per resource (in the caller's words for each change), then its diff. */
export function differencesText(
  diffs: readonly ResourceDifference[],
  words: Readonly<Record<Change, string>>,
  labels: { left: string; right: string },
): string {
  const out: string[] = [];
  for (const d of diffs) {
    const v = [d.leftVersion ? `${labels.left} version ${d.leftVersion}` : "", d.rightVersion ? `${labels.right} version ${d.rightVersion}` : ""]
      .filter((x) => x)
      .join(", ");
    out.push(`${d.type.toUpperCase()} ${d.name}: ${words[d.change]}${v ? ` (${v})` : ""}`);
    if (d.diff) out.push(d.diff.trimEnd(), "");
  }
  return out.join("\n") + "\n";
}
