import type { Diagnostic } from "../api/diagnostics.js";
import type { InputObject, StoredObject } from "../api/objects.js";
import type { SourceLookup } from "../analyze/analyze.js";
import { analyze, withSource } from "../analyze/analyze.js";
import { notTranslatedFindings } from "../analyze/not-translated.js";
import { buildMesh } from "../model/build.js";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "../model/mesh-config.js";
import { parseProxy, proxyView, type NodeLike } from "../model/proxy.js";
import { selectedLabels } from "../model/selected-labels.js";
import { translateProxy, type ProxyResources } from "../translate/proxy.js";
import { meshInputFrom } from "./mesh-input.js";

export interface OfflineResult {
  readonly resources: ProxyResources;
  /** Input, model, analyzer, not-translated and translation findings, in that order. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Where each object came from, for findings raised after parsing. */
export function sourceLookup(objects: readonly StoredObject<InputObject>[]): SourceLookup {
  const byRef = new Map(objects.map((o) => [`${o.object.kind}/${o.object.metadata.namespace ?? ""}/${o.object.metadata.name}`, o.source]));
  return (ref) => byRef.get(`${ref.kind}/${ref.namespace ?? ""}/${ref.name ?? ""}`);
}

/** What one proxy would receive for a set of validated objects: `meshpilot translate`, and the golden tests. */
export function translateOffline(
  objects: readonly StoredObject<InputObject>[],
  inputDiagnostics: readonly Diagnostic[],
  node: NodeLike,
  meshConfig: MeshConfig = DEFAULT_MESH_CONFIG,
): OfflineResult | { error: string } {
  const parsed = parseProxy(node);
  if ("error" in parsed) return parsed;
  const input = meshInputFrom(objects);
  const mesh = buildMesh(input, parsed.proxy.dnsDomain, meshConfig);
  const sourceOf = sourceLookup(objects);
  // The view the control plane would translate for this proxy: its labels projected as there.
  const resources = translateProxy(mesh, proxyView(parsed.proxy, selectedLabels(mesh)));
  const located = (d: Diagnostic): Diagnostic => withSource(d, sourceOf);
  return {
    resources,
    diagnostics: [
      ...inputDiagnostics,
      ...mesh.diagnostics.map(located),
      ...analyze(mesh, sourceOf, input.pods),
      ...notTranslatedFindings(objects),
      ...resources.diagnostics.map(located),
    ],
  };
}
