// A readable difference between two JSON documents: both printed as YAML with sorted keys (so
// that only content, never key order, differs), then a unified line diff (jsdiff, a well-kept
// library, rather than a hand-written LCS).
import type * as Diff from "diff";
import type * as Yaml from "yaml";
import { lazyModule } from "../lazy-module.js";

const diff = lazyModule<typeof Diff>("diff");
const yaml = lazyModule<typeof Yaml>("yaml");

/** Stable text of a JSON value: sorted keys, YAML. */
export function stableText(v: unknown): string {
  return yaml().stringify(v ?? null, { sortMapEntries: true, lineWidth: 0 });
}

/** Equal as JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  return stableText(a) === stableText(b);
}

/** Unified diff of `a` → `b` with `context` lines around each change; "" when equal. */
export function jsonDiff(a: unknown, b: unknown, labelA: string, labelB: string, context = 3): string {
  const ta = a === undefined ? "" : stableText(a);
  const tb = b === undefined ? "" : stableText(b);
  if (ta === tb) return "";
  const patch = diff().createTwoFilesPatch(labelA, labelB, ta, tb, undefined, undefined, { context });
  // Drop the "Index:" and "====" header lines jsdiff writes before ---/+++.
  return patch
    .split("\n")
    .filter((l) => !l.startsWith("Index:") && !/^=+$/.test(l))
    .join("\n");
}
