/**
 * Whether a pod gets a sidecar, as Istio decides it: the apiserver calls the webhook only when
 * one of the two webhooks' selectors matches (see deploy/meshpilot.yaml), then istiod's policy
 * check runs on the pod itself. Both halves are reproduced here so the decision can be tested
 * without an apiserver and so a pod that reaches the webhook by another configuration is still
 * judged by Istio's rules.
 */
import type { AdmittedPod } from "./pod.js";
import { IGNORED_NAMESPACES, INJECTION_NAMESPACE_LABEL, INJECT_ANNOTATION, INJECT_LABEL, REVISION_LABEL, STATUS_ANNOTATION } from "./names.js";

export type InjectionDecision = { readonly inject: true; readonly reason: string } | { readonly inject: false; readonly reason: string };

const TRUE_VALUES = ["y", "yes", "true", "on"];

/**
 * Which webhook selects the pod (or none): Istio's `namespace.sidecar-injector.istio.io`
 * (namespace labelled `istio-injection=enabled`, pod label not `false`) and
 * `object.sidecar-injector.istio.io` (namespace without `istio-injection` and `istio.io/rev`,
 * pod labelled `sidecar.istio.io/inject=true` and not `istio.io/rev`).
 */
export function selectingWebhook(
  namespaceLabels: Readonly<Record<string, string>>,
  podLabels: Readonly<Record<string, string>>,
): "namespace" | "object" | undefined {
  const nsValue = namespaceLabels[INJECTION_NAMESPACE_LABEL];
  const podValue = podLabels[INJECT_LABEL];
  if (nsValue === "enabled") return podValue === "false" ? undefined : "namespace";
  if (nsValue === undefined && namespaceLabels[REVISION_LABEL] === undefined && podValue === "true" && podLabels[REVISION_LABEL] === undefined) return "object";
  return undefined;
}

/**
 * `namespaceLabels` undefined means the namespace could not be read: the apiserver's selectors
 * already chose to call the webhook, so only the pod's own opt-out is checked (as istiod, which
 * never reads the namespace).
 */
export function decideInjection(pod: AdmittedPod, namespace: string, namespaceLabels: Readonly<Record<string, string>> | undefined): InjectionDecision {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  if (namespaceLabels !== undefined) {
    const nsValue = namespaceLabels[INJECTION_NAMESPACE_LABEL];
    if (selectingWebhook(namespaceLabels, labels) === undefined) {
      if (nsValue === "enabled") return { inject: false, reason: `pod label ${INJECT_LABEL}=false opts out of namespace injection` };
      if (nsValue !== undefined) return { inject: false, reason: `namespace label ${INJECTION_NAMESPACE_LABEL}=${nsValue}` };
      if (namespaceLabels[REVISION_LABEL] !== undefined || labels[REVISION_LABEL] !== undefined)
        return { inject: false, reason: `label ${REVISION_LABEL} names an Istio revision, not meshpilot` };
      return { inject: false, reason: `neither namespace label ${INJECTION_NAMESPACE_LABEL}=enabled nor pod label ${INJECT_LABEL}=true` };
    }
  }
  if (pod.spec?.hostNetwork === true) return { inject: false, reason: "pod uses the host network (capture rules would change the node's)" };
  if (IGNORED_NAMESPACES.includes(namespace)) return { inject: false, reason: `namespace ${namespace} is never injected` };
  if (annotations[STATUS_ANNOTATION] !== undefined) return { inject: false, reason: `already injected (${STATUS_ANNOTATION} is set)` };
  // The label is the current API; the annotation is honoured when no label is set.
  const own = labels[INJECT_LABEL] ?? annotations[INJECT_ANNOTATION];
  if (own === undefined || own === "") return { inject: true, reason: "injection enabled for the namespace" };
  if (TRUE_VALUES.includes(own.toLowerCase())) return { inject: true, reason: `${INJECT_LABEL}=${own}` };
  return { inject: false, reason: `${INJECT_LABEL}=${own}` };
}
