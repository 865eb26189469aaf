// The changes a run makes, one after another: which service, what edit, and the value that marks
// it on the wire (changes.ts). Deterministic: change n of a run is always the same edit.
import type { ChangeKind } from "./changes.js";
import type { ShortType } from "./counts.js";
import { ENDPOINTS_PER_SERVICE, serviceName } from "./mesh-objects.js";

export const CHANGE_KINDS: readonly ChangeKind[] = ["endpoint", "weight"];

export type PlannedChange =
  | {
      readonly kind: "endpoint";
      readonly service: number;
      readonly endpoint: number;
      /** The replacement pod and its address (the marker). */
      readonly pod: string;
      readonly ip: string;
    }
  | { readonly kind: "weight"; readonly service: number; readonly v1Weight: number; readonly mark: string };

/** The xDS types through which a sidecar gets a change of this kind (a weight edit: its route configuration whole, or its virtual host by VHDS). */
export const CARRIER: Readonly<Record<ChangeKind, readonly ShortType[]>> = { endpoint: ["eds"], weight: ["rds", "vhds"] };

/** An address no generated object uses (10.240.0.0/13), distinct for every n < 2^19. */
export function churnIp(n: number): string {
  return `10.${240 + ((n >> 16) & 7)}.${(n >> 8) & 255}.${n & 255}`;
}

/** Change `n` (0-based) of a run over `services` services, kinds taken in turn. */
export function planChange(n: number, services: number, kinds: readonly ChangeKind[], runId: string): PlannedChange {
  if (kinds.length === 0) throw new Error("no change kinds");
  const kind = kinds[n % kinds.length]!;
  // Spread over the services (7919 is prime, so every service comes up before any repeats, unless it divides `services`).
  const service = (n * 7919 + 13) % services;
  if (kind === "endpoint") {
    const endpoint = Math.floor(n / kinds.length) % ENDPOINTS_PER_SERVICE;
    return { kind, service, endpoint, pod: `${serviceName(service)}-${endpoint}-r${n}`, ip: churnIp(n) };
  }
  return { kind, service, v1Weight: 50 + ((n * 7) % 41), mark: `${runId}-${n}` };
}

/** What the change edits: changes of one slot supersede each other. */
export function slotOf(c: PlannedChange): string {
  return c.kind === "endpoint" ? `endpoint:${c.service}/${c.endpoint}` : `split:${c.service}`;
}

export function markerOf(c: PlannedChange): string {
  return c.kind === "endpoint" ? c.ip : c.mark;
}
