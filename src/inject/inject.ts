/**
 * Sidecar injection for one admitted Pod: decide, validate the pod's annotations, and compute
 * the JSON patch (capture init container, Envoy native sidecar, rewritten probes, Istio's
 * status annotation and tlsMode label). Pure and synchronous: the webhook server supplies the
 * namespace labels and does the I/O.
 */
import { decideInjection, type InjectionDecision } from "./decision.js";
import { captureConfig } from "./capture-config.js";
import { captureScript } from "./iptables.js";
import {
  INIT_CONTAINER,
  INTERCEPTION_MODE_ANNOTATION,
  PROXY_CONTAINER,
  REWRITE_PROBES_ANNOTATION,
  STATUS_ANNOTATION,
  TLS_MODE_LABEL,
  TRAFFIC,
  INJECT_ANNOTATION,
} from "./names.js";
import { identityVolumes } from "./identity.js";
import { addToMap, appendToArray, prependToArray, type PatchOp } from "./patch.js";
import type { AdmittedPod } from "./pod.js";
import { planProbes } from "./probes.js";
import { captureContainer, proxyBootstrap, proxyContainer } from "./proxy.js";
import type { InjectionSettings } from "./settings.js";

export type InjectionResult =
  | { readonly kind: "skip"; readonly decision: InjectionDecision }
  | { readonly kind: "patch"; readonly patch: readonly PatchOp[]; readonly warnings: readonly string[] }
  | { readonly kind: "refuse"; readonly message: string };

const BOOLEAN_VALUES = ["true", "false"];

function podNameForValidation(pod: AdmittedPod): string {
  const m = pod.metadata ?? {};
  if (m.name) return m.name;
  if (m.generateName) return `${m.generateName}x`;
  return "pod";
}

function podRef(pod: AdmittedPod, namespace: string): string {
  const m = pod.metadata ?? {};
  return `pod ${namespace}/${m.name || (m.generateName ? `${m.generateName}*` : "(unnamed)")}`;
}

export function injectPod(
  pod: AdmittedPod,
  namespace: string,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
  settings: InjectionSettings,
): InjectionResult {
  const decision = decideInjection(pod, namespace, namespaceLabels);
  if (!decision.inject) return { kind: "skip", decision };

  const annotations = pod.metadata?.annotations ?? {};
  const labels = pod.metadata?.labels ?? {};
  const problems: string[] = [];
  const capture = captureConfig(settings, annotations);
  for (const e of capture.errors) problems.push(`annotation ${e.annotation}: ${e.message}`);
  const mode = annotations[INTERCEPTION_MODE_ANNOTATION];
  if (mode !== undefined && mode !== "REDIRECT")
    problems.push(`annotation ${INTERCEPTION_MODE_ANNOTATION}: "${mode}" is not supported; meshpilot injects REDIRECT capture only`);
  const rewriteValue = annotations[REWRITE_PROBES_ANNOTATION];
  if (rewriteValue !== undefined && !BOOLEAN_VALUES.includes(rewriteValue))
    problems.push(`annotation ${REWRITE_PROBES_ANNOTATION}: "${rewriteValue}" must be "true" or "false"`);

  const containers = pod.spec?.containers ?? [];
  const clash = [...containers, ...(pod.spec?.initContainers ?? [])].find((c) => c.name === INIT_CONTAINER || c.name === PROXY_CONTAINER);
  if (clash) problems.push(`container name ${clash.name} is reserved for the injected sidecar`);
  const volumes = identityVolumes(settings);
  const volumeClash = (pod.spec?.volumes ?? []).find((v) => volumes.some((w) => w["name"] === v.name));
  if (volumeClash) problems.push(`volume name ${volumeClash.name} is reserved for the injected sidecar`);

  const probes = planProbes(containers, settings.appProbePort, rewriteValue !== "false");
  // The proxy's labels are the pod's as injected: with the mesh-member label the patch adds.
  const proxyLabels = labels[TLS_MODE_LABEL] === undefined ? { ...labels, [TLS_MODE_LABEL]: "istio" } : labels;
  const boot = proxyBootstrap(settings, { namespace, podNameForValidation: podNameForValidation(pod), labels: proxyLabels, probeRoutes: probes.routes });
  for (const e of boot.errors) problems.push(`sidecar bootstrap ${e.field}: ${e.message}`);
  if (problems.length > 0 || !capture.config || !boot.bootstrap) {
    return { kind: "refuse", message: `meshpilot cannot inject a sidecar into ${podRef(pod, namespace)}: ${problems.join("; ")}` };
  }

  const init = captureContainer(settings, captureScript(capture.config));
  const proxy = proxyContainer(settings, boot.bootstrap);
  const status = JSON.stringify({
    initContainers: [INIT_CONTAINER, PROXY_CONTAINER],
    containers: [],
    volumes: volumes.map((v) => v["name"]),
    imagePullSecrets: null,
    revision: "default",
  });
  const patch: PatchOp[] = [
    ...prependToArray("/spec/initContainers", pod.spec?.initContainers, [init, proxy]),
    ...(volumes.length > 0 ? appendToArray("/spec/volumes", pod.spec?.volumes, volumes) : []),
    ...probes.rewrites.map((r) =>
      r.probe
        ? { op: "replace" as const, path: `/spec/containers/${r.container}/${r.kind}`, value: r.probe }
        : { op: "replace" as const, path: `/spec/containers/${r.container}/${r.kind}/httpGet`, value: r.httpGet },
    ),
    ...addToMap("/metadata/annotations", pod.metadata?.annotations, { [STATUS_ANNOTATION]: status }),
    ...(labels[TLS_MODE_LABEL] === undefined ? addToMap("/metadata/labels", pod.metadata?.labels, { [TLS_MODE_LABEL]: "istio" }) : []),
  ];
  // The apiserver may cut a warning past 120 characters: each says what and why in few words.
  const warnings = [...capture.warnings.map((w) => `${w.annotation}: ${w.message}`), ...probes.warnings, ...unsupportedAnnotations(annotations)];
  return { kind: "patch", patch, warnings };
}

const HONOURED: readonly string[] = [INJECT_ANNOTATION, STATUS_ANNOTATION, REWRITE_PROBES_ANNOTATION, INTERCEPTION_MODE_ANNOTATION, ...Object.values(TRAFFIC)];

/** Istio injection annotations that meshpilot does not act on: said, never ignored silently. */
function unsupportedAnnotations(annotations: Readonly<Record<string, string>>): string[] {
  return Object.keys(annotations)
    .filter((k) => (k.startsWith("sidecar.istio.io/") || k.startsWith("traffic.sidecar.istio.io/") || k === "proxy.istio.io/config") && !HONOURED.includes(k))
    .sort()
    .map((k) => `annotation ${k} is not supported by meshpilot: no effect`);
}
