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
