import type { ObjectRef } from "../../api/diagnostics.js";
import type { ObjectMeta } from "../../api/kube-types.js";

/** Where a generated Istio object came from (`<registry kind> <namespace>/<name>`). */
export const ORIGIN_ANNOTATION = "meshpilot.io/converted-from";

export function originAnnotation(kind: string, namespace: string, name: string): Record<string, string> {
  return { [ORIGIN_ANNOTATION]: `${kind} ${namespace}/${name}` };
}

/** An Istio object converted from the Gateway API is reported as the object it came from. */
export function originOf(meta: ObjectMeta): ObjectRef | undefined {
  const origin = meta.annotations?.[ORIGIN_ANNOTATION];
  const m = origin ? /^(\S+) ([^/]+)\/(.+)$/.exec(origin) : null;
  return m ? { kind: m[1]!, namespace: m[2]!, name: m[3]! } : undefined;
}
