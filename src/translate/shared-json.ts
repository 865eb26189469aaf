// JSON parts by content, frozen and shared. The routes of a mesh's VirtualServices repeat a few
// matches, retry policies, header operations, faults and CORS policies, each written out per
// route: one object per content keeps one copy alive instead of one per route, and the encoder
// writes a frozen part's bytes once and copies them where it appears again (xds/json-binary.ts),
// instead of walking each copy.
import { deepFreeze } from "../api/equal.js";

const parts = new Map<string, object>();
/** Bounded in number and in size of each part: the content comes from user input. */
const MAX_PARTS = 2048;
const MAX_TEXT = 1024;

/** Counts for tests: parts looked up, and those found (the same content seen before). */
export const sharedJsonStats = { looked: 0, found: 0 };

/** The frozen part equal to `json` (`json` itself, frozen, the first time); never mutate it. */
export function sharedJson<T extends object>(json: T): T {
  const text = JSON.stringify(json);
  if (text.length > MAX_TEXT) return json;
  sharedJsonStats.looked++;
  const known = parts.get(text);
  if (known !== undefined) {
    sharedJsonStats.found++;
    return known as T;
  }
  if (parts.size >= MAX_PARTS) parts.clear();
  parts.set(text, deepFreeze(json));
  return json;
}
