/**
 * Writes the status the Gateway API asks of an implementation (model/gateway-api/status.ts) into
 * GatewayClasses, Gateways and routes: merge patches of `/status`, only when what the object shows
 * differs, by the elected leader only (the same Lease as Istio-shaped status).
 *
 * The values come without time and generation; here each condition gets `observedGeneration`
 * (the object's current generation) and `lastTransitionTime` (kept while the status is unchanged,
 * now when it flips). A route's `parents` keeps the entries of other controllers, so that two
 * implementations can share a route.
 */
import { CoalescedPass } from "./coalesced-pass.js";
import type { ObjectKey } from "../../api/objects.js";
import type { Condition, GatewayApiStatus } from "../../api/gateway-api/status.js";
import type { KubeClient } from "../kube/client.js";
import type { KubeObjectInfo } from "../kube/kube-source.js";
import type { StatusLogger } from "./status-writer.js";

export interface GatewayApiStatusWriterOptions {
  readonly client: KubeClient;
  /** Objects of Gateway API kinds as the server holds them. */
  readonly objects: () => readonly KubeObjectInfo[];
  readonly desired: () => ReadonlyMap<ObjectKey, GatewayApiStatus> | undefined;
  /** controllerNames meshpilot writes route parent entries as. */
  readonly controllers: readonly string[];
  readonly isLeader: () => boolean;
  readonly logger: StatusLogger;
  readonly delayMs?: number;
}

type Json = Record<string, unknown>;
interface TimedCondition extends Condition {
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

/** Conditions with times kept from what the object shows when type and status are unchanged. */
export function timed(want: readonly Condition[], current: unknown, generation: number | undefined, at: string): TimedCondition[] {
  const cur = Array.isArray(current) ? (current as TimedCondition[]) : [];
  return want.map((c) => {
    const prev = cur.find((p) => p.type === c.type);
    return {
      ...c,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : at,
    };
  });
}

const sameConditions = (a: unknown, b: readonly TimedCondition[]): boolean => {
  const strip = (l: readonly Json[]) =>
    l.map((c) => ({ type: c["type"], status: c["status"], reason: c["reason"], message: c["message"], g: c["observedGeneration"] }));
  return JSON.stringify(strip(Array.isArray(a) ? (a as Json[]) : [])) === JSON.stringify(strip(b as unknown as Json[]));
};

const parentKey = (p: Json): string => {
  const r = (p["parentRef"] ?? {}) as Json;
  return JSON.stringify([
    r["group"] ?? "gateway.networking.k8s.io",
    r["kind"] ?? "Gateway",
    r["namespace"] ?? "",
    r["name"],
    r["sectionName"] ?? "",
    r["port"] ?? "",
  ]);
};

/** The full status to write for one object, or undefined when it already shows it. */
export function statusPatch(info: KubeObjectInfo, want: GatewayApiStatus, controllers: readonly string[], at: string = now()): Json | undefined {
  const current = (info.status && typeof info.status === "object" ? info.status : {}) as Json;
  const gen = info.generation;
  if ("parents" in want) {
    const ours = (p: Json) => controllers.includes(String(p["controllerName"]));
    const curParents = Array.isArray(current["parents"]) ? (current["parents"] as Json[]) : [];
    const mine = want.parents.map((p) => {
      const prev = curParents.find((c) => ours(c) && parentKey(c) === parentKey(p as unknown as Json));
      return { parentRef: p.parentRef, controllerName: p.controllerName, conditions: timed(p.conditions, prev?.["conditions"], gen, at) };
    });
    const others = curParents.filter((p) => !ours(p));
    const same =
      curParents.filter(ours).length === mine.length &&
      mine.every((m) => {
        const c = curParents.find((p) => ours(p) && parentKey(p) === parentKey(m as unknown as Json));
        return c !== undefined && sameConditions(c["conditions"], m.conditions);
      });
    return same ? undefined : { parents: [...others, ...mine] };
  }
  const conditions = timed(want.conditions, current["conditions"], gen, at);
  if (!("listeners" in want)) return sameConditions(current["conditions"], conditions) ? undefined : { conditions };
  const curListeners = Array.isArray(current["listeners"]) ? (current["listeners"] as Json[]) : [];
  const listeners = want.listeners.map((l) => ({
    name: l.name,
    supportedKinds: l.supportedKinds,
    attachedRoutes: l.attachedRoutes,
    conditions: timed(l.conditions, curListeners.find((c) => c["name"] === l.name)?.["conditions"], gen, at),
  }));
  const addresses = want.addresses ?? [];
  const same =
    sameConditions(current["conditions"], conditions) &&
    JSON.stringify(current["addresses"] ?? []) === JSON.stringify(addresses) &&
    curListeners.length === listeners.length &&
    listeners.every((l, i) => {
      const c = curListeners[i]!;
      return (
        c["name"] === l.name &&
        c["attachedRoutes"] === l.attachedRoutes &&
        JSON.stringify(c["supportedKinds"]) === JSON.stringify(l.supportedKinds) &&
        sameConditions(c["conditions"], l.conditions)
      );
    });
  return same ? undefined : { conditions, listeners, addresses: addresses.length ? addresses : null };
}

export class GatewayApiStatusWriter {
  private readonly passes: CoalescedPass;
  writes = 0;

  constructor(private readonly opts: GatewayApiStatusWriterOptions) {
    this.passes = new CoalescedPass(() => this.pass(), {
      logger: this.opts.logger,
      what: "Gateway API status pass",
      delayMs: this.opts.delayMs,
    });
  }

  trigger(): void {
    this.passes.trigger();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  private async pass(): Promise<void> {
    if (!this.opts.isLeader()) return;
    const desired = this.opts.desired();
    if (!desired) return;
    for (const info of this.opts.objects()) {
      if (this.passes.stopped || !this.opts.isLeader()) return;
      const want = desired.get(info.key);
      if (!want) continue; // not ours (another class or controller), or nothing to say
      const status = statusPatch(info, want, this.opts.controllers);
      if (!status) continue;
      const res = await this.opts.client.request("PATCH", `${info.path}/status`, { status }, { contentType: "application/merge-patch+json" });
      if (res.status === 404) continue;
      if (res.status !== 200) {
        this.opts.logger.warn({ object: info.key, status: res.status, body: JSON.stringify(res.body).slice(0, 300) }, "Gateway API status write refused");
        continue;
      }
      this.writes++;
      this.opts.logger.debug({ object: info.key }, "Gateway API status written");
    }
  }
}
