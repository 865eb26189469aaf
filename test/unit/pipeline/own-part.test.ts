// A workload view's own part (its inbound side) is kept encoded, not as the JSON it was encoded
// from: with a view per workload, that JSON held by each view was most of the views' heap.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import { destinationRule, endpointSlice, ENDPOINTS_PER_SERVICE, namespace, pod, service, virtualService } from "../../../src/loadgen/mesh-objects.js";
import { buildMeshState } from "../../../src/model/build.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { encodeOwn } from "../../../src/pipeline/compose-view.js";
import { ControlPlane } from "../../../src/pipeline/control-plane.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateOwn } from "../../../src/translate/proxy.js";
import { EncodeCache } from "../../../src/xds/encode-cache.js";
import { SnapshotCache } from "../../../src/xds/snapshot-cache.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { benchNode } from "../../bench/mesh.js";
import { connectNode, workloadNode } from "../../support/control-plane.js";
import { gc, nextTurn } from "../../support/gc.js";

function objects(n: number, routed = false): StoredObject<InputObject>[] {
  const out: StoredObject<InputObject>[] = [];
  for (let k = 0; k < 4; k++) out.push({ object: namespace(k) });
  for (let i = 0; i < n; i++) {
    out.push({ object: service(i) });
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) out.push({ object: pod(i, j) });
    out.push({ object: endpointSlice(i, "full") });
    if (routed) out.push({ object: virtualService(i, n, "full") }, { object: destinationRule(i, "full") });
  }
  return out;
}

describe("a view's own part", () => {
  it("keeps its encoded resources, not the JSON they were encoded from", async () => {
    const { mesh } = buildMeshState(meshInputFrom(objects(4)));
    const parsed = parseProxy(benchNode(1, "workloads", 4));
    if ("error" in parsed) throw new Error(parsed.error);
    const cache = new EncodeCache();
    const made = (): { maps: ReturnType<typeof encodeOwn>; json: WeakRef<object> } => {
      const own = translateOwn(mesh, proxyView(parsed.proxy, selectedLabels(mesh)));
      expect(own.listeners.map((l) => l.name)).toEqual(["virtualInbound"]);
      return { maps: encodeOwn(own, undefined, cache), json: new WeakRef(own.listeners[0]!) };
    };
    const { maps, json } = made();
    await nextTurn();
    for (let i = 0; i < 3; i++) gc();
    expect(maps.get(TYPE_URL.listener)!.get("virtualInbound")!.body.length).toBeGreaterThan(0);
    expect(json.deref()).toBeUndefined();
  });

  it("costs a workload view a few KiB of heap over what its namespace's part holds", () => {
    const n = 200;
    const input = meshInputFrom(objects(n, true));
    let cp = new ControlPlane({ cache: new SnapshotCache(), logger: pino({ level: "silent" }) });
    const heap = (): number => {
      for (let i = 0; i < 3; i++) gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const connect = (k: number): string => connectNode(cp, workloadNode(k, n));
    // Once before, so that what compiling the code costs is not counted.
    cp.update(input, "all");
    for (let k = 0; k < n; k++) connect(k);
    cp = new ControlPlane({ cache: new SnapshotCache(), logger: pino({ level: "silent" }) });
    cp.update(input, "all");
    // A view in each namespace first: the four outbound parts are then held.
    for (let k = 0; k < 8; k++) connect(k);
    const parts = heap();
    for (let k = 8; k < n; k++) connect(k);
    const perView = (heap() - parts) / (n - 8);
    expect(cp.services().size).toBe(n); // held until measured
    // Measured: ~8.5 KiB (2.4 KiB of it the inbound listener's and cluster's bytes); ~16.5 KiB when
    // each view kept its inbound JSON, its own record of what it read and its own part key.
    expect(perView).toBeLessThan(12 * 1024);
  });

  it("keeps its findings across a route edit, and drops them with their cause", () => {
    const n = 8;
    const cp = new ControlPlane({ cache: new SnapshotCache(), logger: pino({ level: "silent" }) });
    // An ingress port bound where the outbound listener 0.0.0.0_8080 is: MP0123 for bench-1's workloads.
    const sidecar = {
      apiVersion: "networking.istio.io/v1",
      kind: "Sidecar",
      metadata: { name: "default", namespace: namespace(1).metadata.name },
      spec: { ingress: [{ port: { number: 8080, protocol: "HTTP", name: "http" }, captureMode: "NONE", defaultEndpoint: "127.0.0.1:8080" }] },
    } as unknown as InputObject;
    const base = objects(n, true);
    cp.update(meshInputFrom([...base, { object: sidecar }]), "all");
    for (let k = 0; k < n; k++) connectNode(cp, workloadNode(k, n));
    const twins = (): number => cp.diagnostics().filter((d) => d.code === "MP0123").length;
    expect(twins()).toBeGreaterThan(0);
    const at = base.findIndex((o) => o.object.kind === "VirtualService");
    const edited = [...base];
    edited[at] = { object: virtualService(0, n, "full", 70) };
    cp.update(meshInputFrom([...edited, { object: sidecar }]), new Set(["VirtualService"]));
    expect(twins()).toBeGreaterThan(0);
    cp.update(meshInputFrom(edited), new Set(["Sidecar"]));
    expect(twins()).toBe(0);
  });
});
