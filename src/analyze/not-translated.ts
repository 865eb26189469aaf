/**
 * MP0010: an object of a kind meshpilot reads but does not translate yet. Nothing a user
 * configured is ignored silently: each such object gets a warning that says what its absence
 * means for traffic (a Telemetry: its access logging is not applied).
 */
import { Codes } from "../api/codes.js";
import { locateField, type Diagnostic } from "../api/diagnostics.js";
import { INPUT_KINDS, kindInfo } from "../api/kinds.js";
import type { InputObject, StoredObject } from "../api/objects.js";

export function notTranslatedFindings(objects: Iterable<StoredObject<InputObject>>): Diagnostic[] {
  const out: Array<{ order: number; d: Diagnostic }> = [];
  for (const so of objects) {
    const { kind, metadata } = so.object;
    const t = kindInfo(kind)?.translation;
    if (!t || t.translated) continue;
    const d: Diagnostic = {
      severity: "warning",
      code: Codes.NotTranslated,
      message: `not translated: ${t.effect}`,
      object: { kind, ...(metadata.namespace !== undefined ? { namespace: metadata.namespace } : {}), name: metadata.name },
      ...(so.source && (so.source.file !== undefined || so.source.line !== undefined) ? { source: locateField(so.source, undefined) } : {}),
    };
    out.push({ order: INPUT_KINDS.indexOf(kind), d });
  }
  const key = (d: Diagnostic) => `${d.object?.namespace ?? ""}/${d.object?.name ?? ""}`;
  return out.sort((a, b) => a.order - b.order || (key(a.d) < key(b.d) ? -1 : key(a.d) > key(b.d) ? 1 : 0)).map((x) => x.d);
}
