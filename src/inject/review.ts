/**
 * AdmissionReview v1 in, AdmissionReview v1 out, for the `/inject` webhook. Pure: the server
 * parses the body and supplies the namespace's labels.
 */
import { injectPod } from "./inject.js";
import type { AdmittedPod } from "./pod.js";
import type { InjectionSettings } from "./settings.js";

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { readonly group?: string; readonly version?: string; readonly kind?: string };
  readonly namespace?: string;
  readonly operation?: string;
  readonly object?: AdmittedPod;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: "JSONPatch";
  readonly patch?: string;
  readonly warnings?: readonly string[];
  readonly status?: { readonly code: number; readonly message: string; readonly reason?: string };
}

export interface AdmissionReview {
  readonly apiVersion: "admission.k8s.io/v1";
  readonly kind: "AdmissionReview";
  readonly response: AdmissionResponse;
}

/** What the server logs about one review (no pod contents). */
export interface ReviewOutcome {
  readonly review: AdmissionReview;
  readonly result: "injected" | "skipped" | "refused";
  readonly reason: string;
}

function wrap(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

/** The review's request, or why it is not one this webhook can answer. */
export function readRequest(body: unknown): AdmissionRequest | string {
  if (typeof body !== "object" || body === null) return "body is not a JSON object";
  const b = body as { apiVersion?: unknown; kind?: unknown; request?: unknown };
  if (b.kind !== "AdmissionReview" || b.apiVersion !== "admission.k8s.io/v1")
    return `expected an admission.k8s.io/v1 AdmissionReview, got ${String(b.apiVersion)} ${String(b.kind)}`;
  const r = b.request as AdmissionRequest | undefined;
  if (typeof r !== "object" || r === null || typeof r.uid !== "string") return "AdmissionReview has no request.uid";
  return r;
}

export function reviewPod(
  request: AdmissionRequest,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
  settings: InjectionSettings,
): ReviewOutcome {
  const uid = request.uid;
  const kind = request.kind;
  if (kind?.kind !== "Pod" || (kind.group ?? "") !== "" || request.object === undefined) {
    return { review: wrap({ uid, allowed: true }), result: "skipped", reason: `not a Pod (${kind?.group ?? ""}/${kind?.kind ?? "?"})` };
  }
  if (request.operation !== undefined && request.operation !== "CREATE") {
    return { review: wrap({ uid, allowed: true }), result: "skipped", reason: `operation ${request.operation}` };
  }
  const namespace = request.namespace || request.object.metadata?.namespace || "default";
  const result = injectPod(request.object, namespace, namespaceLabels, settings);
  if (result.kind === "skip") return { review: wrap({ uid, allowed: true }), result: "skipped", reason: result.decision.reason };
  if (result.kind === "refuse") {
    return {
      review: wrap({ uid, allowed: false, status: { code: 400, reason: "BadRequest", message: result.message } }),
      result: "refused",
      reason: result.message,
    };
  }
  const patch = Buffer.from(JSON.stringify(result.patch)).toString("base64");
  return {
    review: wrap({ uid, allowed: true, patchType: "JSONPatch", patch, ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}) }),
    result: "injected",
    reason: "sidecar injected",
  };
}
