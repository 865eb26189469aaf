/**
 * An in-process ControlPlane for unit tests of view sharing: its snapshot cache, and a `connect`
 * that activates a node the way the xDS server does (by its class key).
 */
import { pino } from "pino";
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { ControlPlane } from "../../src/pipeline/control-plane.js";
import { SnapshotCache } from "../../src/xds/snapshot-cache.js";
import type { NodeInfo } from "../../src/xds/snapshot.js";
import { benchNode } from "../bench/mesh.js";
import { validObjects } from "./objects.js";

/** Activates a node the way the xDS server does (by its class key); the key. */
export function connectNode(cp: ControlPlane, n: NodeInfo): string {
  const k = cp.viewKey(n);
  if ("error" in k) throw new Error(k.error);
  cp.activate(k.key, n);
  return k.key;
}

/** The bench's workload proxy `k` (labels of its own Deployment) in a mesh of `services`. */
export function workloadNode(k: number, services: number): NodeInfo {
  const b = benchNode(k, "workloads", services);
  return { id: b.id, cluster: b.cluster, metadata: b.metadata } as NodeInfo;
}

export function startControlPlane(opts: { readonly sliceMs?: number; readonly keepViewMs?: number } = {}): {
  cp: ControlPlane;
  cache: SnapshotCache;
  connect: (n: NodeInfo) => string;
} {
  const cache = new SnapshotCache();
  const cp = new ControlPlane({ cache, logger: pino({ level: "silent" }), ...opts });
  return { cp, cache, connect: (n: NodeInfo) => connectNode(cp, n) };
}

/** YAML documents, each valid under strict parsing, as stored objects. */
export function storedObjects(...docs: string[]): StoredObject<InputObject>[] {
  return validObjects(docs.join("\n---\n"), { strict: true });
}

/** A Service selecting its one Pod (`<name>-1`, labels app and version v1) and the EndpointSlice of that Pod, port 9080. */
export function serviceDocs(name: string, ns: string, clusterIP: string, podIP: string): string {
  return `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { clusterIP: ${clusterIP}, selector: { app: ${name} }, ports: [{ name: http, port: 9080, targetPort: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: ${name}-1, namespace: ${ns}, labels: { app: ${name}, version: v1 } }
status: { podIP: ${podIP} }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: ${ns}, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: 9080 }]
endpoints:
  - { addresses: [${podIP}], conditions: { ready: true }, targetRef: { kind: Pod, name: ${name}-1, namespace: ${ns} } }
`;
}
