// Views whose own parts read the model alike hold one record of those reads, checked once per model.
import { describe, expect, it } from "vitest";
import { buildMeshState } from "../../../src/model/build.js";
import type { MeshModel } from "../../../src/model/ir.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { readingMesh, SharedReads } from "../../../src/pipeline/mesh-reads.js";
import { generatedObjects } from "../../support/generated-mesh.js";

const readServices = (m: MeshModel): number => m.services.size + m.virtualServices.length;

describe("SharedReads", () => {
  it("keeps one record for equal reads, another for reads of other objects", () => {
    const { mesh } = buildMeshState(meshInputFrom(generatedObjects(3).map((object) => ({ object }))));
    const shared = new SharedReads();
    const first = shared.intern(readingMesh(mesh, readServices).reads);
    expect(shared.intern(readingMesh(mesh, readServices).reads)).toBe(first);
    const other = { ...mesh, services: new Map(mesh.services) };
    expect(shared.intern(readingMesh(other, readServices).reads)).not.toBe(first);
    expect(shared.intern(readingMesh(mesh, (m) => m.services.size).reads)).not.toBe(first);
  });

  it("checks a record against a model once", () => {
    const { mesh } = buildMeshState(meshInputFrom(generatedObjects(3).map((object) => ({ object }))));
    const shared = new SharedReads();
    const reads = shared.intern(readingMesh(mesh, readServices).reads);
    let looked = 0;
    const counted = new Proxy(mesh, {
      get(target, prop) {
        looked++;
        return Reflect.get(target, prop) as unknown;
      },
    });
    expect(shared.same(reads, counted)).toBe(true);
    const once = looked;
    expect(once).toBeGreaterThan(0);
    expect(shared.same(reads, counted)).toBe(true);
    expect(looked).toBe(once);
    expect(shared.same(reads, { ...mesh, services: new Map() })).toBe(false);
  });
});
