import type { Diagnostic } from "../api/diagnostics.js";
import type { HTTPMatchRequest, HTTPRoute } from "../api/istio-types.js";
import type { MeshModel, VirtualServiceModel } from "../model/ir.js";
import { KeptCheck } from "./kept.js";

/** A match block that accepts every request on its port: no uri (or prefix "/") and no other condition. */
function matchesEverything(m: HTTPMatchRequest): boolean {
  const uriAll = !m.uri || ("prefix" in m.uri && m.uri.prefix === "/") || ("regex" in m.uri && m.uri.regex === ".*");
  const others =
    m.scheme ||
    m.method ||
    m.authority ||
    Object.keys(m.headers ?? {}).length ||
    Object.keys(m.withoutHeaders ?? {}).length ||
    Object.keys(m.queryParams ?? {}).length ||
    m.port !== undefined ||
    m.sourceLabels ||
    m.sourceNamespace ||
    m.gateways?.length;
  return uriAll && !others;
}

function ruleCatchesAll(rule: HTTPRoute): boolean {
  return !rule.match?.length || rule.match.some(matchesEverything);
}

/** JSON with object keys sorted at every depth, so equal conditions compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Conditions other than the uri (and the match's name), as a comparable string. */
function conditionsKey(m: HTTPMatchRequest): string {
  const { uri: _u, name: _n, ignoreUriCase: _i, ...rest } = m;
  return canonical(rest);
}

/** Does `earlier` take every request that `later` would take? (uri prefixes and exact duplicates) */
function covers(earlier: HTTPMatchRequest, later: HTTPMatchRequest): boolean {
  if (conditionsKey(earlier) !== conditionsKey(later) || Boolean(earlier.ignoreUriCase) !== Boolean(later.ignoreUriCase)) return false;
  const e = earlier.uri;
  const l = later.uri;
  if (!e) return true;
  if (!l) return false;
  if ("prefix" in e) return ("prefix" in l && l.prefix.startsWith(e.prefix)) || ("exact" in l && l.exact.startsWith(e.prefix));
  if ("exact" in e) return "exact" in l && l.exact === e.exact;
  if ("regex" in e) return "regex" in l && l.regex === e.regex;
  return false;
}

/**
 * IST0130/IST0131: rules that can never match because an earlier rule takes their traffic; the
 * classic case is a catch-all route placed above a narrow one (Envoy uses the first match).
 */
export function shadowedRuleFindings(mesh: MeshModel): Diagnostic[] {
  return mesh.virtualServices.flatMap((vs) => kept.of(vs, [], () => shadowedRules(vs)));
}

const kept = new KeptCheck<VirtualServiceModel>();

function shadowedRules(vs: VirtualServiceModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  let catchAll: number | undefined;
  const seen: { match: HTTPMatchRequest; at: string }[] = [];
  vs.http.forEach((rule, i) => {
    if (catchAll !== undefined) {
      out.push({
        severity: "warning",
        code: "IST0130",
        message: `this rule is unreachable: rule http[${catchAll}] above it matches every request, and Envoy uses the first matching route — move the catch-all rule last`,
        object: vs.ref,
        path: `spec.http[${i}]`,
      });
      return;
    }
    (rule.match ?? []).forEach((m, j) => {
      const by = seen.find((s) => covers(s.match, m));
      if (by) {
        out.push({
          severity: "warning",
          code: "IST0131",
          message: `this match never applies: ${by.at} above it already matches every such request`,
          object: vs.ref,
          path: `spec.http[${i}].match[${j}]`,
        });
      }
    });
    for (const [j, m] of (rule.match ?? []).entries()) seen.push({ match: m, at: `spec.http[${i}].match[${j}]` });
    if (ruleCatchesAll(rule)) catchAll = i;
  });
  return out;
}
