/**
 * How Istio indexes a policy kind that applies mesh-wide (root namespace), namespace-wide (no
 * selector) or to selected workloads (PeerAuthentication, Telemetry): oldest first, and within one
 * namespace only the oldest policy without a selector counts; a later one is ignored, and said so.
 */
import type { Diagnostic, ObjectRef } from "../api/diagnostics.js";
import { byCreation } from "./routing.js";

export interface NamespacedPolicy {
  readonly name: string;
  readonly namespace: string;
  readonly creationTimestamp: string;
  readonly ref: ObjectRef;
  /** Labels of the workloads it applies to; none: namespace- (or mesh-) wide. */
  readonly selector?: Readonly<Record<string, string>>;
}

export function indexByNamespace<T extends NamespacedPolicy>(
  policies: readonly T[],
  rootNamespace: string,
  ignoredCode: string,
  /** A finding for a selector-bearing policy the kind leaves out; undefined keeps it. */
  dropSelected: (p: T) => Diagnostic | undefined = () => undefined,
): { byNamespace: Map<string, T[]>; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const wide = new Map<string, T>();
  const byNamespace = new Map<string, T[]>();
  for (const p of [...policies].sort(byCreation)) {
    if (!p.selector) {
      const first = wide.get(p.namespace);
      if (first) {
        const scope = p.namespace === rootNamespace ? "mesh" : "namespace";
        diagnostics.push({
          severity: "warning",
          code: ignoredCode,
          message: `namespace ${p.namespace} already has a ${scope}-wide ${p.ref.kind} (${first.name}, older); this one is ignored, as in Istio`,
          object: p.ref,
        });
        continue;
      }
      wide.set(p.namespace, p);
    } else {
      const dropped = dropSelected(p);
      if (dropped) {
        diagnostics.push(dropped);
        continue;
      }
    }
    const list = byNamespace.get(p.namespace);
    if (list) list.push(p);
    else byNamespace.set(p.namespace, [p]);
  }
  return { byNamespace, diagnostics };
}
