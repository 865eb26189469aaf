/** Istio host matching: exact names, and `*.suffix` wildcards (`*` alone matches everything). */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host || pattern === "*") return true;
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1));
  return false;
}

/** Higher is more specific: an exact name beats any wildcard; a longer wildcard beats a shorter one. */
export function hostSpecificity(pattern: string): number {
  return pattern.startsWith("*") ? pattern.length : Number.MAX_SAFE_INTEGER;
}

/** Whether an object exported with `exportTo` (Istio semantics, default everywhere) is visible from `namespace`. */
export function isExportedTo(exportTo: readonly string[], ownNamespace: string, namespace: string): boolean {
  if (exportTo.length === 0) return true;
  return exportTo.some((e) => e === "*" || e === namespace || (e === "." && ownNamespace === namespace));
}

/** One host pattern of an item, with its position in the original (item, pattern) order. */
export interface HostEntry<T> {
  readonly item: T;
  readonly pattern: string;
  readonly pos: number;
}

/**
 * Items found by host without scanning them all (per-service lookups over every rule made
 * translation quadratic in the mesh size): exact names in a map, wildcard patterns (few) in a list.
 */
export interface HostIndex<T> {
  readonly exact: ReadonlyMap<string, readonly HostEntry<T>[]>;
  readonly wildcard: readonly HostEntry<T>[];
}

export function indexHosts<T>(items: readonly T[], patternsOf: (item: T) => readonly string[]): HostIndex<T> {
  const exact = new Map<string, HostEntry<T>[]>();
  const wildcard: HostEntry<T>[] = [];
  let pos = 0;
  for (const item of items) {
    for (const pattern of patternsOf(item)) {
      const entry = { item, pattern, pos: pos++ };
      // hostMatches: a pattern not starting with "*" matches only itself.
      if (pattern.startsWith("*")) wildcard.push(entry);
      else {
        const list = exact.get(pattern);
        if (list) list.push(entry);
        else exact.set(pattern, [entry]);
      }
    }
  }
  return { exact, wildcard };
}

/** The entries whose pattern matches `host`, in the original order (as a scan would find them). */
export function entriesForHost<T>(index: HostIndex<T>, host: string): readonly HostEntry<T>[] {
  const exact = index.exact.get(host) ?? [];
  const wild = index.wildcard.filter((e) => hostMatches(e.pattern, host));
  if (wild.length === 0) return exact;
  return [...exact, ...wild].sort((a, b) => a.pos - b.pos);
}

/**
 * The index of `items`, built once per array: the model's arrays are immutable, so the many
 * lookups of one translation (and of later ones on the same model) share it.
 */
export function memoIndex<T>(memo: WeakMap<readonly T[], HostIndex<T>>, items: readonly T[], patternsOf: (item: T) => readonly string[]): HostIndex<T> {
  let index = memo.get(items);
  if (!index) {
    index = indexHosts(items, patternsOf);
    memo.set(items, index);
  }
  return index;
}

/** The values of `byHost` whose host `pattern` matches: a map lookup unless it is a wildcard. */
export function matchingHosts<T>(pattern: string, byHost: ReadonlyMap<string, T>): T[] {
  if (!pattern.startsWith("*")) {
    const v = byHost.get(pattern);
    return v === undefined ? [] : [v];
  }
  const out: T[] = [];
  for (const [host, v] of byHost) if (hostMatches(pattern, host)) out.push(v);
  return out;
}
