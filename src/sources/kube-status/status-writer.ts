/**
 * Writes validation errors and analyzer findings into the `status` of the Istio objects they are
 * about, in Istio's IstioStatus shape, so `kubectl get virtualservice -o yaml` shows them:
 *
 *   status:
 *     observedGeneration: 3
 *     conditions:
 *     - type: PassedAnalysis
 *       status: "False"
 *       reason: ErrorsFound
 *       message: "1 error, 0 warnings: IST0106 spec.http[0].route: …"
 *       lastTransitionTime: "…"
 *     validationMessages:                      # istio.analysis.v1alpha1.AnalysisMessageBase
 *     - type: { code: IST0106, name: SchemaValidationError }
 *       level: ERROR
 *       documentationUrl: https://istio.io/v1.28/docs/reference/config/analysis/ist0106/
 *
 * Only the elected leader writes (see leader.ts). Writes are merge patches of the `/status`
 * subresource and happen only when the findings differ from what the object shows; an object
 * whose findings went away gets its conditions and validationMessages cleared.
 */
import { CoalescedPass } from "./coalesced-pass.js";
import type { Diagnostic } from "../../api/diagnostics.js";
import type { KubeClient } from "../kube/client.js";
import type { KubeObjectInfo } from "../kube/kube-source.js";

export interface StatusLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface StatusWriterOptions {
  readonly client: KubeClient;
  /** The objects whose kind gets its findings in status (every Istio kind), valid or not. */
  readonly objects: () => readonly KubeObjectInfo[];
  /** Every current finding (input validation + analysis). Findings with a file location are ignored. */
  readonly diagnostics: () => readonly Diagnostic[];
  readonly isLeader: () => boolean;
  readonly logger: StatusLogger;
  /** Quiet time before a write pass; default 200 ms. */
  readonly delayMs?: number;
}

export const CONDITION_TYPE = "PassedAnalysis";

const ISTIO_CODE_NAMES: Readonly<Record<string, string>> = {
  IST0101: "ReferencedResourceNotFound",
  IST0106: "SchemaValidationError",
  IST0109: "ConflictingMeshGatewayVirtualServiceHosts",
  IST0118: "PortNameIsNotUnderNamingConvention",
  IST0128: "NoServerCertificateVerificationDestinationLevel",
  IST0129: "NoServerCertificateVerificationPortLevel",
  IST0130: "VirtualServiceUnreachableRule",
  IST0131: "VirtualServiceIneffectiveMatch",
  IST0173: "DestinationRuleSubsetNotSelectPods",
  IST0174: "UnknownDestinationRuleHost",
};

const LEVELS: Readonly<Record<Diagnostic["severity"], string>> = { error: "ERROR", warning: "WARNING", info: "INFO" };

interface ValidationMessage {
  type: { code: string; name?: string };
  level: string;
  documentationUrl?: string;
}

interface Condition {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

export interface DesiredStatus {
  readonly conditions: Condition[] | null;
  readonly validationMessages: ValidationMessage[] | null;
  readonly observedGeneration?: number;
}

export function validationMessage(d: Diagnostic): ValidationMessage {
  const name = ISTIO_CODE_NAMES[d.code];
  return {
    type: { code: d.code, ...(name ? { name } : {}) },
    level: LEVELS[d.severity],
    ...(d.code.startsWith("IST") ? { documentationUrl: `https://istio.io/v1.28/docs/reference/config/analysis/${d.code.toLowerCase()}/` } : {}),
  };
}

/** The status an object should show for its findings (nulls clear the fields). */
export function desiredStatus(info: KubeObjectInfo, findings: readonly Diagnostic[]): DesiredStatus {
  const gen = info.generation !== undefined ? { observedGeneration: info.generation } : {};
  const shown = findings.filter((d) => d.severity !== "info");
  if (shown.length === 0) return { conditions: null, validationMessages: null, ...gen };
  const errors = shown.filter((d) => d.severity === "error").length;
  const warnings = shown.length - errors;
  const text = shown.map((d) => `${d.code}${d.path ? ` ${d.path}` : ""}: ${d.message}`).join("; ");
  return {
    conditions: [
      {
        type: CONDITION_TYPE,
        status: errors > 0 ? "False" : "True",
        reason: errors > 0 ? "ErrorsFound" : "WarningsFound",
        message: `${errors} error${errors === 1 ? "" : "s"} and ${warnings} warning${warnings === 1 ? "" : "s"} found: ${text}`,
      },
    ],
    validationMessages: shown.map(validationMessage),
    ...gen,
  };
}

function sameStatus(current: unknown, want: DesiredStatus): boolean {
  const cur = (current && typeof current === "object" ? current : {}) as {
    conditions?: Condition[];
    validationMessages?: ValidationMessage[];
    observedGeneration?: unknown;
  };
  const strip = (cs: Condition[] | null | undefined) => (cs ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message }));
  const ours = (cur.conditions ?? []).filter((c) => c.type === CONDITION_TYPE);
  if (JSON.stringify(strip(ours)) !== JSON.stringify(strip(want.conditions))) return false;
  if (JSON.stringify(cur.validationMessages ?? []) !== JSON.stringify(want.validationMessages ?? [])) return false;
  // Only chase observedGeneration when there is something to report.
  if (want.conditions && want.observedGeneration !== undefined && Number(cur.observedGeneration) !== want.observedGeneration) return false;
  return true;
}

export class StatusWriter {
  private readonly passes: CoalescedPass;
  /** What was last written per object, so a pass before the watch reports our own write does not repeat it. */
  private readonly written = new Map<string, { json: string; at: number }>();
  /** Writes done (tests read it). */
  writes = 0;

  constructor(private readonly opts: StatusWriterOptions) {
    this.passes = new CoalescedPass(() => this.pass(), {
      logger: this.opts.logger,
      what: "status write pass",
      delayMs: this.opts.delayMs,
    });
  }

  /** Schedule a write pass (after each config build, on leadership, periodically). */
  trigger(): void {
    this.passes.trigger();
  }

  stop(): Promise<void> {
    return this.passes.stop();
  }

  private async pass(): Promise<void> {
    if (!this.opts.isLeader()) return;
    const byObject = new Map<string, Diagnostic[]>();
    for (const d of this.opts.diagnostics()) {
      if (d.source?.file || !d.object?.name) continue;
      const k = `${d.object.kind}/${d.object.namespace ?? ""}/${d.object.name}`;
      const list = byObject.get(k) ?? [];
      if (!list.some((x) => x.code === d.code && x.path === d.path && x.message === d.message)) list.push(d);
      byObject.set(k, list);
    }
    for (const info of this.opts.objects()) {
      if (this.passes.stopped || !this.opts.isLeader()) return;
      const want = desiredStatus(info, byObject.get(info.key) ?? []);
      if (sameStatus(info.status, want)) {
        this.written.delete(info.key);
        continue;
      }
      const json = JSON.stringify(want);
      const memo = this.written.get(info.key);
      if (memo && memo.json === json && Date.now() - memo.at < 10_000) continue;
      const prev = ((info.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === CONDITION_TYPE);
      const conditions = want.conditions?.map((c) => ({
        ...c,
        lastTransitionTime:
          prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      }));
      const patch = {
        status: {
          conditions: conditions ?? null,
          validationMessages: want.validationMessages,
          ...(want.observedGeneration !== undefined ? { observedGeneration: want.observedGeneration } : {}),
        },
      };
      const res = await this.opts.client.request("PATCH", `${info.path}/status`, patch, { contentType: "application/merge-patch+json" });
      if (res.status === 404) continue; // deleted meanwhile
      if (res.status !== 200) {
        this.opts.logger.warn({ object: info.key, status: res.status, body: JSON.stringify(res.body).slice(0, 300) }, "status write refused");
        continue;
      }
      this.written.set(info.key, { json, at: Date.now() });
      this.writes++;
      this.opts.logger.debug({ object: info.key, findings: want.validationMessages?.length ?? 0 }, "status written");
    }
  }
}
