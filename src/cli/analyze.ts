import { stringify as toYaml } from "yaml";
import type { Diagnostic } from "../api/diagnostics.js";
import { formatDiagnostic } from "../api/diagnostics.js";
import type { StoredObject } from "../api/objects.js";
import { analyze, withSource } from "../analyze/analyze.js";
import { notTranslatedFindings } from "../analyze/not-translated.js";
import { buildMesh } from "../model/build.js";
import type { MeshConfig } from "../model/mesh-config.js";
import { meshInputFrom } from "../pipeline/mesh-input.js";
import { sourceLookup } from "../pipeline/offline.js";

/** `meshpilot analyze`: input errors plus analyzer findings, like `istioctl analyze`. */
export function analyzeCommand(
  objects: readonly StoredObject[],
  inputDiagnostics: readonly Diagnostic[],
  format: string,
  meshConfig?: MeshConfig,
): { output: string; errors: number } {
  const input = meshInputFrom(objects);
  const mesh = buildMesh(input, undefined, meshConfig);
  const sourceOf = sourceLookup(objects);
  // Model findings name their object; the file and line come from where it was read.
  const all = [
    ...inputDiagnostics,
    ...mesh.diagnostics.map((d) => withSource(d, sourceOf)),
    ...analyze(mesh, sourceOf, input.pods),
    ...notTranslatedFindings(objects),
  ];
  const errors = all.filter((d) => d.severity === "error").length;
  if (format === "json") return { output: JSON.stringify(all, null, 2) + "\n", errors };
  if (format === "yaml") return { output: toYaml(all), errors };
  if (all.length === 0) return { output: "✔ No validation issues found.\n", errors };
  return { output: all.map(formatDiagnostic).join("\n") + "\n", errors };
}
