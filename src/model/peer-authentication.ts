/**
 * PeerAuthentication as Istio 1.30 composes it for a workload: the mesh-wide policy (root
 * namespace, no selector), then the namespace's (no selector), then the workload's (a selector
 * whose labels the workload has, outside the root namespace), each overriding the one before
 * unless its mode is UNSET; `portLevelMtls` of the workload policy overrides per workload port
 * (UNSET there inherits the workload's mode). Within one scope the oldest policy wins (creation
 * time, then name). Without any policy the mode is PERMISSIVE.
 *
 * A selector-bearing policy in the root namespace applies to no workload (Istio drops it when
 * composing); a second namespace-wide policy in one namespace is ignored, as Istio ignores it.
 */
import type { Diagnostic, ObjectRef } from "../api/diagnostics.js";
import type { PeerAuthenticationObject } from "../api/istio-resource.js";
import type { StoredObject } from "../api/objects.js";
import { indexByNamespace, type NamespacedPolicy } from "./namespace-policies.js";
import { selects } from "./named-ports.js";
import { DEFAULT_ROOT_NAMESPACE } from "./sidecar-scope.js";

export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";

export interface PeerAuthenticationModel extends NamespacedPolicy {
  /** Undefined: UNSET (inherit). */
  readonly mode?: MtlsMode;
  /** By workload port; undefined: UNSET (the policy's mode). */
  readonly portLevel: ReadonlyMap<number, MtlsMode | undefined>;
}

export interface PeerAuthentications {
  readonly rootNamespace: string;
  /** Policies by namespace, oldest first. */
  readonly byNamespace: ReadonlyMap<string, readonly PeerAuthenticationModel[]>;
}

/** The effective mTLS of one workload. */
export interface WorkloadMtls {
  readonly mode: MtlsMode;
  readonly perPort: ReadonlyMap<number, MtlsMode>;
  /** The policy whose mode applies (none: Istio's default); port-level modes come from `workload`. */
  readonly decidedBy?: ObjectRef;
  readonly workload?: ObjectRef;
}

const NO_PORTS: ReadonlyMap<number, MtlsMode> = new Map();
export const DEFAULT_MTLS: WorkloadMtls = { mode: "PERMISSIVE", perPort: NO_PORTS };

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined);

function modeOf(v: unknown): MtlsMode | undefined {
  const m = rec(v)?.["mode"];
  return m === "STRICT" || m === "PERMISSIVE" || m === "DISABLE" ? m : undefined;
}

export function buildPeerAuthentications(
  stored: readonly StoredObject<PeerAuthenticationObject>[],
  rootNamespace = DEFAULT_ROOT_NAMESPACE,
): { peerAuthentications: PeerAuthentications; diagnostics: Diagnostic[] } {
  const all: PeerAuthenticationModel[] = stored.map(({ object }) => {
    const namespace = object.metadata.namespace ?? "default";
    const labels = rec(rec(object.spec["selector"])?.["matchLabels"]) as Record<string, string> | undefined;
    const portLevel = new Map<number, MtlsMode | undefined>();
    for (const [port, v] of Object.entries(rec(object.spec["portLevelMtls"]) ?? {})) portLevel.set(Number(port), modeOf(v));
    const mode = modeOf(object.spec["mtls"]);
    return {
      name: object.metadata.name,
      namespace,
      creationTimestamp: object.metadata.creationTimestamp ?? "",
      ref: { kind: "PeerAuthentication", namespace, name: object.metadata.name },
      ...(labels && Object.keys(labels).length ? { selector: labels } : {}),
      ...(mode ? { mode } : {}),
      portLevel,
    };
  });
  const { byNamespace, diagnostics } = indexByNamespace(all, rootNamespace, PeerAuthnCodes.Ignored, (pa) =>
    pa.namespace === rootNamespace
      ? {
          severity: "warning",
          code: PeerAuthnCodes.Ignored,
          message: `a PeerAuthentication with a selector in the root namespace ${rootNamespace} applies to no workload (Istio ignores it); put it in the workloads' namespace, or drop the selector to make it mesh-wide`,
          object: pa.ref,
          path: "spec.selector",
        }
      : undefined,
  );
  return { peerAuthentications: { rootNamespace, byNamespace }, diagnostics };
}

export const PeerAuthnCodes = {
  /** A PeerAuthentication Istio ignores (a second namespace-wide one, a selector in the root namespace). */
  Ignored: "MP0870",
  /** A DestinationRule sends plaintext (tls DISABLE) to workloads whose PeerAuthentication is STRICT on that port (src/analyze/mtls.ts). */
  DestinationRuleConflict: "MP0871",
} as const;

/** The namespace- or mesh-wide mode of `namespace` (Istio's inference for a destination service); undefined without either policy. */
export function namespaceMtlsMode(pas: PeerAuthentications | undefined, namespace: string): MtlsMode | undefined {
  if (!pas) return undefined;
  const wideOf = (ns: string) => pas.byNamespace.get(ns)?.find((p) => !p.selector);
  const mesh = wideOf(pas.rootNamespace);
  const meshMode = mesh ? (mesh.mode ?? "PERMISSIVE") : undefined;
  if (namespace === pas.rootNamespace) return meshMode;
  const ns = wideOf(namespace);
  if (!ns) return meshMode;
  return ns.mode ?? meshMode ?? "PERMISSIVE";
}

const cache = new WeakMap<PeerAuthentications, Map<string, WorkloadMtls>>();

/** The effective mTLS of a workload in `namespace` with `labels`. */
export function workloadMtls(pas: PeerAuthentications | undefined, namespace: string, labels: Readonly<Record<string, string>>): WorkloadMtls {
  if (!pas || pas.byNamespace.size === 0) return DEFAULT_MTLS;
  let memo = cache.get(pas);
  if (!memo) cache.set(pas, (memo = new Map()));
  const key = `${namespace}|${JSON.stringify(Object.entries(labels).sort())}`;
  let out = memo.get(key);
  if (!out) memo.set(key, (out = compose(pas, namespace, labels)));
  return out;
}

function compose(pas: PeerAuthentications, namespace: string, labels: Readonly<Record<string, string>>): WorkloadMtls {
  const mesh = pas.byNamespace.get(pas.rootNamespace)?.find((p) => !p.selector);
  const own = namespace === pas.rootNamespace ? [] : (pas.byNamespace.get(namespace) ?? []);
  const ns = own.find((p) => !p.selector);
  const workload = own.find((p) => p.selector && selects(p.selector, labels));
  let mode: MtlsMode = "PERMISSIVE";
  let decidedBy: ObjectRef | undefined;
  for (const p of [mesh, ns, workload]) {
    if (p?.mode) {
      mode = p.mode;
      decidedBy = p.ref;
    }
  }
  const perPort = new Map<number, MtlsMode>();
  for (const [port, m] of workload?.portLevel ?? []) perPort.set(port, m ?? mode);
  return { mode, perPort: perPort.size ? perPort : NO_PORTS, ...(decidedBy ? { decidedBy } : {}), ...(workload ? { workload: workload.ref } : {}) };
}

export function mtlsModeForPort(m: WorkloadMtls, port: number): MtlsMode {
  return m.perPort.get(port) ?? m.mode;
}

/** The policy that decides `port`'s mode (none: Istio's default PERMISSIVE). */
export function mtlsPolicyForPort(m: WorkloadMtls, port: number): ObjectRef | undefined {
  return m.perPort.has(port) ? m.workload : m.decidedBy;
}
