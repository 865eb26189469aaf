// A workload view's own part (its inbound side) is kept encoded, not as the JSON it was encoded
// from: with a view per workload, that JSON held by each view was most of the views' heap.
import { describe, expect, it } from "vitest";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import { endpointSlice, ENDPOINTS_PER_SERVICE, namespace, pod, service } from "../../../src/loadgen/mesh-objects.js";
import { buildMeshState } from "../../../src/model/build.js";
import { parseProxy, proxyView } from "../../../src/model/proxy.js";
import { selectedLabels } from "../../../src/model/selected-labels.js";
import { encodeOwn } from "../../../src/pipeline/compose-view.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { translateOwn } from "../../../src/translate/proxy.js";
import { EncodeCache } from "../../../src/xds/encode-cache.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { benchNode } from "../../bench/mesh.js";
import { gc, nextTurn } from "../../support/gc.js";

function objects(n: number): StoredObject<InputObject>[] {
  const out: StoredObject<InputObject>[] = [];
  for (let k = 0; k < 4; k++) out.push({ object: namespace(k) });
  for (let i = 0; i < n; i++) {
    out.push({ object: service(i) });
    for (let j = 0; j < ENDPOINTS_PER_SERVICE; j++) out.push({ object: pod(i, j) });
    out.push({ object: endpointSlice(i, "full") });
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
});
