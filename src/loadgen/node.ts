// Who each load proxy claims to be: an Istio sidecar's node (id `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`
// and the metadata istio-agent sends), so that any server — istiod too — builds it a sidecar view.
// How pod labels differ between proxies is the label mode: all alike; each proxy its own
// Deployment (its own app, version and pod-template-hash, as in a real mesh); groups of K
// Deployments; or each proxy a pod of one of the mesh's services (labelled as that Service selects).

export type LabelMode = "identical" | "distinct" | "groups" | "workloads";
export const LABEL_MODES: readonly LabelMode[] = ["identical", "distinct", "groups", "workloads"];

/** The Istio version the proxies claim (the reference of this project). */
export const ISTIO_VERSION = "1.30.0";
export const CLUSTER_ID = "Kubernetes";
/**
 * The Envoy version the proxies claim by default (user_agent_name "envoy" and
 * user_agent_build_version, as Envoy sends them), the Envoy of this project's tests: a server
 * may serve an Envoy by its version (meshpilot gives Envoy ≥ 1.38 on delta VHDS).
 */
export const ENVOY_VERSION = "1.40.0";

/** A workload a proxy runs in. */
export interface ProxyWorkload {
  readonly pod: string;
  readonly namespace: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The Deployment (workload) name. */
  readonly workload: string;
  readonly serviceAccount: string;
}

export interface XdsNode {
  readonly id: string;
  readonly cluster: string;
  readonly metadata: Record<string, unknown>;
  /** The Envoy version claimed (major.minor.patch); none: no user agent, a neutral client. */
  readonly envoyVersion?: string;
}

/** `version` as Envoy's SemanticVersion; an error naming the option for anything but major.minor.patch. */
export function semanticVersion(version: string): { majorNumber: number; minorNumber: number; patch: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m) throw new Error(`envoy version must be major.minor.patch (e.g. ${ENVOY_VERSION}), got "${version}"`);
  return { majorNumber: Number(m[1]), minorNumber: Number(m[2]), patch: Number(m[3]) };
}

export interface FleetShape {
  readonly mode: LabelMode;
  /** Namespace of the proxies in the identical, distinct and groups modes. */
  readonly namespace: string;
  /** Pod name prefix (and app label) in those modes. */
  readonly name: string;
  /** Number of Deployments in the groups mode. */
  readonly groups: number;
  /** Extra pod labels in those modes (an injected sidecar's). */
  readonly extraLabels?: Readonly<Record<string, string>>;
  /** The proxies' ServiceAccount in those modes (default `default`). */
  readonly serviceAccount?: string;
  /** The workloads mode: proxy k as a pod of one of the mesh's services. */
  readonly workloadOf?: (k: number) => ProxyWorkload;
}

/** Proxy `k`'s IP when it is not a pod of the mesh: 10.200.0.0/13, one per proxy. */
export function proxyIp(k: number): string {
  return `10.${200 + ((k >> 16) & 7)}.${(k >> 8) & 255}.${k & 255}`;
}

/** The workload of proxy `k` in a fleet. */
export function proxyWorkload(k: number, f: FleetShape): ProxyWorkload {
  if (f.mode === "workloads") {
    if (!f.workloadOf) throw new Error("label mode workloads needs the mesh's workloads");
    return f.workloadOf(k);
  }
  const d = f.mode === "distinct" ? k : f.mode === "groups" ? k % Math.max(1, f.groups) : undefined;
  const labels: Record<string, string> =
    d === undefined ? { app: f.name } : { app: `${f.name}-${d}`, version: `v${d % 3}`, "pod-template-hash": (0x5d8f00 + d * 7919).toString(16) };
  if (f.extraLabels) Object.assign(labels, f.extraLabels);
  const workload = d === undefined ? f.name : `${f.name}-${d}`;
  return { pod: `${f.name}-${k}`, namespace: f.namespace, ip: proxyIp(k), labels, workload, serviceAccount: f.serviceAccount ?? "default" };
}

/** The node of a sidecar in `w`, as istio-agent presents it (and, given a version, its Envoy). */
export function istioNode(w: ProxyWorkload, envoyVersion?: string): XdsNode {
  if (envoyVersion !== undefined) semanticVersion(envoyVersion);
  return {
    ...(envoyVersion !== undefined ? { envoyVersion } : {}),
    id: `sidecar~${w.ip}~${w.pod}.${w.namespace}~${w.namespace}.svc.cluster.local`,
    cluster: `${w.workload}.${w.namespace}`,
    metadata: {
      NAME: w.pod,
      NAMESPACE: w.namespace,
      LABELS: { ...w.labels },
      INSTANCE_IPS: w.ip,
      SERVICE_ACCOUNT: w.serviceAccount,
      WORKLOAD_NAME: w.workload,
      OWNER: `kubernetes://apis/apps/v1/namespaces/${w.namespace}/deployments/${w.workload}`,
      CLUSTER_ID,
      MESH_ID: "cluster.local",
      ISTIO_VERSION,
      INTERCEPTION_MODE: "REDIRECT",
    },
  };
}
