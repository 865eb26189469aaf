// The analysis keeps each object's findings while what the check read is the same (analyze/kept.ts):
// an edit of one VirtualService checks that one again, an endpoint change the rules of the service
// it touched. Whatever is kept, the findings are those of an analysis from scratch.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../../src/api/diagnostics.js";
import type { InputObject, StoredObject } from "../../../src/api/objects.js";
import { analysisFindings, analyzeMesh } from "../../../src/analyze/analyze.js";
import { analysisStats } from "../../../src/analyze/kept.js";
import { destinationRule, endpointSlice, service, virtualService } from "../../../src/loadgen/mesh-objects.js";
import { buildMeshState, rebuildEndpoints, type MeshBuild } from "../../../src/model/build.js";
import { meshInputFrom } from "../../../src/pipeline/mesh-input.js";
import { generatedObjects } from "../../support/generated-mesh.js";

const N = 8;
const keyOf = (o: InputObject): string => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** The generated mesh's objects by key: an edit replaces only what it changes. */
function meshObjects(): Map<string, StoredObject<InputObject>> {
  const objects = new Map<string, StoredObject<InputObject>>();
  for (const object of generatedObjects(N)) objects.set(keyOf(object), { object });
  return objects;
}

const findingsOf = (build: MeshBuild, analysis = analyzeMesh(build.mesh)): string[] => analysisFindings(analysis, () => undefined).map(formatDiagnostic);

describe("kept analysis findings", () => {
  it("a weight edit checks one VirtualService again, an endpoint change the rule of its service", () => {
    const objects = meshObjects();
    const first = buildMeshState(meshInputFrom(objects.values()));
    const a1 = analyzeMesh(first.mesh);
    objects.set(keyOf(virtualService(3, N, "full")), { object: virtualService(3, N, "full", 40) });
    const second = buildMeshState(meshInputFrom(objects.values()), undefined, undefined, first);
    let before = analysisStats.checked;
    const a2 = analyzeMesh(second.mesh);
    // Its destinations and its rules' shadowing; nothing of the 8 rules.
    expect(analysisStats.checked - before).toBe(2);
    expect(findingsOf(second, a2)).toEqual(findingsOf(buildMeshState(meshInputFrom(objects.values()))));
    // Every v2 endpoint of service 5 not ready: its rule's subset v2 selects nothing (IST0173).
    objects.set(keyOf(endpointSlice(5, "full")), { object: endpointSlice(5, "full", new Set([7, 8, 9])) });
    const third = rebuildEndpoints(second, meshInputFrom(objects.values()));
    expect(third.changedHosts).toBeDefined();
    before = analysisStats.checked;
    const a3 = analyzeMesh(third.mesh, a2);
    expect(analysisStats.checked - before).toBe(1);
    const scratch = findingsOf(buildMeshState(meshInputFrom(objects.values())));
    expect(scratch.some((f) => f.includes("IST0173"))).toBe(true);
    expect(findingsOf(third, a3)).toEqual(scratch);
    void a1;
  });

  it("over random edit sequences, full builds and endpoint-only ones, the findings are those from scratch", () => {
    type Edit =
      | { kind: "weight"; i: number; w: number }
      | { kind: "dr"; i: number; on: boolean }
      | { kind: "ready"; i: number; down: number[] }
      | { kind: "service"; i: number; on: boolean };
    const edit: fc.Arbitrary<Edit> = fc.oneof(
      fc.record({ kind: fc.constant("weight" as const), i: fc.nat(N - 1), w: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant("dr" as const), i: fc.nat(N - 1), on: fc.boolean() }),
      fc.record({ kind: fc.constant("ready" as const), i: fc.nat(N - 1), down: fc.subarray([6, 7, 8, 9]) }),
      fc.record({ kind: fc.constant("service" as const), i: fc.nat(N - 1), on: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 8 }), (edits) => {
        const objects = meshObjects();
        let build = buildMeshState(meshInputFrom(objects.values()));
        let analysis = analyzeMesh(build.mesh);
        for (const e of edits) {
          const set = (object: InputObject, on = true): void => void (on ? objects.set(keyOf(object), { object }) : objects.delete(keyOf(object)));
          if (e.kind === "weight") set(virtualService(e.i, N, "full", e.w));
          else if (e.kind === "dr") set(destinationRule(e.i, "full"), e.on);
          else if (e.kind === "service") set(service(e.i), e.on);
          else set(endpointSlice(e.i, "full", new Set(e.down)));
          const input = meshInputFrom(objects.values());
          // An endpoint-only change takes the fast path, as the control plane does.
          const fast = e.kind === "ready" ? rebuildEndpoints(build, input) : undefined;
          build = fast ?? buildMeshState(input, undefined, undefined, build);
          analysis = analyzeMesh(build.mesh, fast?.changedHosts ? analysis : undefined);
          expect(findingsOf(build, analysis), JSON.stringify(e)).toEqual(findingsOf(buildMeshState(input)));
        }
      }),
      { numRuns: 40 },
    );
  });
});
