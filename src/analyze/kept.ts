// Findings kept per model object across builds: a check of one VirtualService or DestinationRule
// reads that object and a few of the model's collections; while each of those is the same object
// (the model keeps unchanged inputs' objects: model/keep.ts), last build's findings stand. An edit
// of one VirtualService checks that one again, not the other 999.
import type { Diagnostic } from "../api/diagnostics.js";

/** Counts for tests: per-object checks run (not taken from an earlier build). */
export const analysisStats = { checked: 0 };

interface Entry {
  readonly reads: readonly unknown[];
  readonly findings: readonly Diagnostic[];
}

/** One check, per model object: its findings while the objects it read are the same. */
export class KeptCheck<K extends object> {
  private readonly memo = new WeakMap<K, Entry>();

  /** `check()`'s findings for `item`; `reads`: the objects besides `item` the check reads, in a fixed order. */
  of(item: K, reads: readonly unknown[], check: () => readonly Diagnostic[]): readonly Diagnostic[] {
    const known = this.memo.get(item);
    if (known && sameReads(known.reads, reads)) return known.findings;
    analysisStats.checked++;
    const findings = check();
    this.memo.set(item, { reads, findings });
    return findings;
  }
}

function sameReads(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
