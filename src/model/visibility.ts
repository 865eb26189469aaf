/**
 * Which namespaces see a service (Istio's service visibility): its own `exportTo` (a Service's
 * `networking.istio.io/exportTo` annotation, a ServiceEntry's field), else mesh config
 * `defaultServiceExportTo`, else everywhere. `.` is the service's namespace, `*` every namespace,
 * `~` none; other entries name namespaces. A proxy neither gets the clusters nor the routes of a
 * service it does not see, and its Sidecar cannot import it.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import { dns1123LabelError } from "../api/validate-names.js";
import { isExportedTo } from "./hosts.js";
import type { ServiceModel } from "./ir.js";
import type { MeshConfig } from "./mesh-config.js";

export const EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo";

export const VisibilityCodes = {
  /** An entry of a Service's exportTo annotation that names no namespace (it matches none). */
  BadExportTo: "MP0124",
} as const;

const EVERYWHERE: readonly string[] = ["*"];

export function serviceVisible(svc: ServiceModel, namespace: string, config: MeshConfig | undefined): boolean {
  const exportTo = svc.exportTo?.length ? svc.exportTo : (config?.defaultServiceExportTo ?? EVERYWHERE);
  return isExportedTo(exportTo, svc.namespace, namespace);
}

/**
 * A Service's `networking.istio.io/exportTo` annotation as Istio reads it: comma-separated,
 * blanks trimmed. An entry that is no namespace name (nor `.`, `*`, `~`) matches no namespace;
 * the finding says so rather than leaving a typo to hide the service silently.
 */
export function annotationExportTo(
  annotations: Readonly<Record<string, string>> | undefined,
  ref: Diagnostic["object"],
): { exportTo?: readonly string[]; diagnostics: Diagnostic[] } {
  const raw = annotations?.[EXPORT_TO_ANNOTATION];
  if (raw === undefined) return { diagnostics: [] };
  const exportTo = raw
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const diagnostics: Diagnostic[] = [];
  for (const e of exportTo) {
    if (e === "." || e === "*" || e === "~") continue;
    const err = dns1123LabelError(e);
    if (err)
      diagnostics.push({
        severity: "warning",
        code: VisibilityCodes.BadExportTo,
        message: `exportTo entry "${e}" is not a namespace name (${err}); it exports the service to no namespace`,
        object: ref,
        path: `metadata.annotations["${EXPORT_TO_ANNOTATION}"]`,
      });
  }
  return { ...(exportTo.length ? { exportTo } : {}), diagnostics };
}
