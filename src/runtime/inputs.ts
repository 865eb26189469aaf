/**
 * Where source updates meet: each update is applied to the store, its source's diagnostics
 * replace that source's previous list, and a change (of objects or of diagnostics) is handed on.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import { deepEqual } from "../api/equal.js";
import type { SourceUpdate } from "../sources/source-update.js";
import type { ChangeSet } from "../store/change-set.js";
import type { Store } from "../store/store.js";

export interface IngestResult {
  /** What the update changed in the store (undefined: nothing). */
  readonly change: ChangeSet | undefined;
  /** The combined input diagnostics differ from before the update. */
  readonly diagnosticsChanged: boolean;
  /** Diagnostics of this source that it did not report before the update. */
  readonly added: readonly Diagnostic[];
}

export class Inputs {
  private readonly bySource = new Map<string, readonly Diagnostic[]>();
  private combined: readonly Diagnostic[] = [];

  /** `sources`: the source names in the order their diagnostics are listed. */
  constructor(
    readonly store: Store,
    private readonly sources: readonly string[],
  ) {}

  /** Every current input diagnostic, sources in constructor order. */
  get diagnostics(): readonly Diagnostic[] {
    return this.combined;
  }

  ingest(sourceName: string, u: SourceUpdate): IngestResult {
    const change = this.store.apply(u.source, u.events);
    const before = new Set((this.bySource.get(sourceName) ?? []).map((d) => JSON.stringify(d)));
    const added = u.diagnostics.filter((d) => !before.has(JSON.stringify(d)));
    this.bySource.set(sourceName, u.diagnostics);
    const next = this.sources.flatMap((s) => this.bySource.get(s) ?? []);
    const diagnosticsChanged = !deepEqual(next, this.combined);
    this.combined = next;
    return { change, diagnosticsChanged, added };
  }
}
