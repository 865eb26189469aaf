/**
 * Named Service `targetPort`s, resolved as Kubernetes and Istio resolve them: against the
 * container ports of each pod the Service selects. The model keeps, for the pods that such a
 * Service selects, their named container ports; a sidecar's inbound side looks its own pod's
 * number up there (model/inbound.ts).
 */
import type { StoredObject } from "../api/objects.js";
import type { Pod } from "../api/kube-types.js";
import type { ServiceModel } from "./ir.js";

/** One pod's named container ports (TCP), for pods selected by a Service with a named targetPort. */
export interface PodPortsModel {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Container port name → number, the first container declaring a name winning (as Kubernetes looks it up). */
  readonly ports: Readonly<Record<string, number>>;
}

export function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return false;
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

const hasNamedTarget = (svc: ServiceModel): boolean => svc.ports.some((p) => typeof p.targetPort === "string");

const namingServices = new WeakMap<ReadonlyMap<string, ServiceModel>, readonly ServiceModel[]>();

/** The named container ports of every pod that a Service with a named targetPort selects, in input order. */
export function podNamedPorts(services: ReadonlyMap<string, ServiceModel>, pods: readonly StoredObject<Pod>[]): readonly PodPortsModel[] {
  // Asked again on every endpoint change, over the same registry: its naming services once.
  let naming = namingServices.get(services);
  if (!naming) namingServices.set(services, (naming = [...services.values()].filter((s) => !s.entry && hasNamedTarget(s))));
  if (naming.length === 0) return [];
  const out: PodPortsModel[] = [];
  for (const { object: pod } of pods) {
    const namespace = pod.metadata.namespace ?? "default";
    const labels = pod.metadata.labels ?? {};
    if (!naming.some((s) => s.namespace === namespace && selects(s.selector, labels))) continue;
    const ports: Record<string, number> = {};
    for (const c of pod.spec?.containers ?? [])
      for (const p of c.ports ?? []) if (p.name && (p.protocol ?? "TCP") === "TCP" && !(p.name in ports)) ports[p.name] = p.containerPort;
    out.push({ namespace, labels, ports });
  }
  return out;
}

/**
 * The number `name` resolves to for a workload with `labels` in `namespace` that `selector`
 * selects: the container port of that name on the pods that look like it (every label the view
 * holds agrees). Several numbers: the pods of one view disagree, and the lowest is used.
 */
export function resolveNamedPort(
  podPorts: readonly PodPortsModel[] | undefined,
  namespace: string,
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
  name: string,
): { port?: number; conflicting?: readonly number[] } {
  const found = new Set<number>();
  for (const p of podPorts ?? []) {
    if (p.namespace !== namespace || !selects(selector, p.labels)) continue;
    if (!Object.entries(labels).every(([k, v]) => p.labels[k] === v)) continue;
    const n = p.ports[name];
    if (n !== undefined) found.add(n);
  }
  const sorted = [...found].sort((a, b) => a - b);
  if (sorted.length === 0) return {};
  return sorted.length === 1 ? { port: sorted[0]! } : { port: sorted[0]!, conflicting: sorted };
}

/**
 * Labels that tell apart the pods of a Service whose named targetPort resolves to different
 * numbers: the label selection must hold them, or those pods' sidecars would share one view and
 * one inbound port.
 */
export function namedPortSelectors(services: ReadonlyMap<string, ServiceModel>, podPorts: readonly PodPortsModel[] | undefined): Record<string, string>[] {
  if (!podPorts?.length) return [];
  const out: Record<string, string>[] = [];
  for (const svc of services.values()) {
    if (svc.entry) continue;
    const pods = podPorts.filter((p) => p.namespace === svc.namespace && selects(svc.selector, p.labels));
    for (const port of svc.ports) {
      const name = port.targetPort;
      if (typeof name !== "string" || new Set(pods.map((p) => p.ports[name])).size < 2) continue;
      const keys = new Set(pods.flatMap((p) => Object.keys(p.labels)));
      const differing = [...keys].filter((k) => new Set(pods.map((p) => p.labels[k])).size > 1);
      for (const p of pods) out.push(Object.fromEntries(differing.filter((k) => p.labels[k] !== undefined).map((k) => [k, p.labels[k]!])));
    }
  }
  return out;
}
