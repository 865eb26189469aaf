// Where meshpilot's intent for a proxy and what that proxy holds differ, resource by resource.
// Both sides are canonical proto-JSON (held.ts). Endpoints compare by what routing uses (address,
// weight, locality, priority, health): Envoy's dump of a ClusterLoadAssignment is rebuilt from
// its host set and adds defaults the control plane never sent.
import { jsonDiff, sameJson } from "../json-diff.js";
import type { ConfigType, Held, HeldResource, JsonObject } from "./held.js";

export type Difference = "missing from the proxy" | "only in the proxy" | "differs" | "warming in the proxy";

export interface ResourceDifference {
  readonly type: ConfigType;
  readonly name: string;
  readonly difference: Difference;
  readonly intendedVersion?: string;
  readonly heldVersion?: string;
  /** Unified diff of intent (---) → proxy (+++). */
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

const comparable = (type: ConfigType, r: HeldResource): unknown => (type === "endpoints" ? endpointFacts(r.json) : r.json);

export function compareHeld(intended: Held, held: Held, types: readonly ConfigType[]): ResourceDifference[] {
  const out: ResourceDifference[] = [];
  for (const type of types) {
    const mine = new Map(intended[type].map((r) => [r.name, r]));
    const theirs = new Map(held[type].map((r) => [r.name, r]));
    const names = [...new Set([...mine.keys(), ...theirs.keys()])].sort();
    for (const name of names) {
      const a = mine.get(name);
      const b = theirs.get(name);
      const versions = { ...(a ? { intendedVersion: a.version } : {}), ...(b ? { heldVersion: b.version } : {}) };
      const ca = a ? comparable(type, a) : undefined;
      const cb = b ? comparable(type, b) : undefined;
      if (!b) out.push({ type, name, difference: "missing from the proxy", ...versions, diff: jsonDiff(ca, undefined, "meshpilot", "proxy") });
      else if (!a) out.push({ type, name, difference: "only in the proxy", ...versions, diff: jsonDiff(undefined, cb, "meshpilot", "proxy") });
      else if (!sameJson(ca, cb)) out.push({ type, name, difference: "differs", ...versions, diff: jsonDiff(ca, cb, "meshpilot", "proxy") });
      else if (b.state !== "active") out.push({ type, name, difference: "warming in the proxy", ...versions, diff: "" });
    }
  }
  return out;
}
