// A kube-apiserver as the mesh: objects created and changed through its REST API (server-side
// apply, so a rerun updates what a previous run left). Pods get their status (podIP) written
// through the status subresource, as a kubelet would; an endpoint change is a pod replaced by a
// new one at a new address, then the EndpointSlice naming it, then the old pod deleted.
// Cluster IPs are the API server's to allocate. Pods are bound to node names no real node has, with an image that does not exist: they are
// records for the control plane, not workloads.
import type { InputObject } from "../api/objects.js";
import { kindOfObject } from "../api/kinds.js";
import { KubeClient, loadKubeConfig } from "../sources/kube/client.js";
import type { PlannedChange } from "./churn.js";
import type { MeshDriver } from "./driver.js";
import type { LoadMesh } from "./mesh.js";
import type { MovedEndpoint } from "./mesh-objects.js";

const FIELD_MANAGER = "meshpilot-loadgen";
const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 30_000;
const APPLY = "application/apply-patch+yaml";
const PLACEHOLDER_IMAGE = "registry.invalid/meshpilot-loadgen/app:1";

type Ref = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

function objectPath(o: Ref): string {
  const info = kindOfObject(o.apiVersion, o.kind);
  if (!info) throw new Error(`loadgen: unknown kind ${o.apiVersion} ${o.kind}`);
  const base = info.group === "" ? `/api/${o.apiVersion}` : `/apis/${o.apiVersion}`;
  const ns = info.namespaced ? `/namespaces/${o.metadata.namespace ?? "default"}` : "";
  return `${base}${ns}/${info.plural}/${o.metadata.name}`;
}

/** The Pod as the API wants it (an image), without the status (written separately). */
function podSpecOnly(o: InputObject): object {
  const { status: _status, ...rest } = o as unknown as { status?: unknown; spec: { containers: object[] } };
  return { ...rest, spec: { ...rest.spec, containers: rest.spec.containers.map((c) => ({ image: PLACEHOLDER_IMAGE, ...c })) } };
}

/** The API server allocates cluster IPs from its own range. */
function withoutClusterIp(o: InputObject): object {
  const { spec } = o as unknown as { spec: Record<string, unknown> };
  const { clusterIP: _ip, clusterIPs: _ips, ...rest } = spec;
  return { ...o, spec: rest };
}

async function inParallel<T>(items: readonly T[], each: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await each(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

export class KubeDriver implements MeshDriver {
  readonly describe: string;
  private readonly client: KubeClient;

  constructor(kubeconfig: string) {
    this.client = new KubeClient(loadKubeConfig(kubeconfig));
    this.describe = `kube-apiserver ${this.client.server}`;
  }

  private async ssa(path: string, body: object): Promise<void> {
    const q = new URLSearchParams({ fieldManager: FIELD_MANAGER, force: "true" });
    await this.client.call("PATCH", `${path}?${q.toString()}`, body, { contentType: APPLY, timeoutMs: REQUEST_TIMEOUT_MS });
  }

  private async put(o: InputObject): Promise<void> {
    const ref = o as unknown as Ref;
    if (o.kind === "Service") return this.ssa(objectPath(ref), withoutClusterIp(o));
    if (o.kind !== "Pod") return this.ssa(objectPath(ref), o);
    await this.ssa(objectPath(ref), podSpecOnly(o));
    const status = (o as { status?: unknown }).status;
    await this.ssa(`${objectPath(ref)}/status`, {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: { name: ref.metadata.name, namespace: ref.metadata.namespace },
      status,
    });
  }

  private async remove(o: Ref): Promise<void> {
    const res = await this.client.request("DELETE", objectPath(o), undefined, { timeoutMs: REQUEST_TIMEOUT_MS });
    if (res.status !== 200 && res.status !== 202 && res.status !== 404) throw new Error(`DELETE ${objectPath(o)}: HTTP ${res.status}`);
  }

  async setup(mesh: LoadMesh): Promise<void> {
    for (const o of mesh.globalObjects()) await this.put(o);
    const indexes = Array.from({ length: mesh.shape.services }, (_, i) => i);
    await inParallel(indexes, async (i) => {
      for (const o of mesh.serviceObjects(i)) await this.put(o);
    });
  }

  async apply(mesh: LoadMesh, change: PlannedChange, replaced?: MovedEndpoint): Promise<void> {
    const objects = mesh.serviceObjects(change.service);
    if (change.kind === "weight") return this.put(objects.find((o) => o.kind === "VirtualService")!);
    await this.put(objects.find((o) => o.kind === "Pod" && o.metadata.name === change.pod)!);
    await this.put(objects.find((o) => o.kind === "EndpointSlice")!);
    if (replaced) await this.remove({ apiVersion: "v1", kind: "Pod", metadata: { name: replaced.pod, namespace: objects[0]!.metadata.namespace! } });
  }

  /** Deletes the services' objects; namespaces stay (without a namespace controller their deletion would never finish). */
  async teardown(mesh: LoadMesh): Promise<void> {
    const indexes = Array.from({ length: mesh.shape.services }, (_, i) => i);
    await inParallel(indexes, async (i) => {
      for (const o of mesh.serviceObjects(i)) await this.remove(o as unknown as Ref);
    });
  }
}
