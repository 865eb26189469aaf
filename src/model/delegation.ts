/**
 * VirtualService delegation (Istio 1.28): a root VirtualService (one with hosts) may hand an `http`
 * rule to a delegate VirtualService (one without hosts) with `delegate: {name, namespace}`. The
 * rule is replaced by the delegate's rules, each merged with it:
 * - every match of a delegate rule must fit inside (not conflict with) a match of the root rule;
 *   the two are combined, the delegate's fields winning. A delegate rule with a match that fits
 *   no root match is dropped;
 * - fields the delegate rule leaves unset (timeout, retries, fault, mirror(s), CORS, headers,
 *   rewrite, directResponse) come from the root rule; names are joined with "-";
 * - a missing delegate, or one not exported to the root's namespace, drops only that root rule.
 * Istio only logs these; meshpilot reports them (MP0110–MP0112) with the object and field.
 */
import type { Diagnostic } from "../api/diagnostics.js";
import type { Destination, HTTPMatchRequest, HTTPRoute, StringMatch } from "../api/istio-types.js";
import { isExportedTo } from "./hosts.js";
import type { VirtualServiceModel } from "./ir.js";
import { resolveHost } from "./names.js";

export const DelegationCodes = {
  /** The delegate named by a root rule does not exist, or has hosts (so is no delegate). */
  NotFound: "MP0110",
  /** The delegate is not exported to the root VirtualService's namespace. */
  NotExported: "MP0111",
  /** A delegate rule's match does not fit inside the root rule's matches; the rule is dropped. */
  Conflict: "MP0112",
} as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const exactOf = (m: StringMatch | undefined): string => (m && "exact" in m ? m.exact : "");
const prefixOf = (m: StringMatch | undefined): string => (m && "prefix" in m ? m.prefix : "");
const regexOf = (m: StringMatch | undefined): string => (m && "regex" in m ? m.regex : "");

/** Does the delegate's `leaf` condition fall outside the root's? (Istio's stringMatchConflict) */
function stringMatchConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  const anyOf = (m: StringMatch) => regexOf(m) !== "" || prefixOf(m) !== "" || exactOf(m) !== "";
  if (regexOf(root) !== "" && anyOf(leaf)) return true;
  if (regexOf(leaf) !== "" && anyOf(root)) return true;
  const exact = exactOf(root);
  if (exact !== "") return prefixOf(leaf) !== "" || exactOf(leaf) !== exact;
  const prefix = prefixOf(root);
  if (prefix !== "") {
    if (prefixOf(leaf) !== "") return !prefixOf(leaf).startsWith(prefix);
    if (exactOf(leaf) !== "") return !exactOf(leaf).startsWith(prefix);
  }
  return true;
}

function mapConflict(root: Readonly<Record<string, StringMatch>> | undefined, leaf: Readonly<Record<string, StringMatch>> | undefined): boolean {
  return Object.entries(leaf ?? {}).some(([k, v]) => stringMatchConflict(root?.[k], v));
}

function hasConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const f of ["uri", "scheme", "method", "authority"] as const) if (stringMatchConflict(root[f], leaf[f])) return true;
  if (mapConflict(root.headers, leaf.headers) || mapConflict(root.withoutHeaders, leaf.withoutHeaders) || mapConflict(root.queryParams, leaf.queryParams))
    return true;
  if (Boolean(root.ignoreUriCase) !== Boolean(leaf.ignoreUriCase)) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  if (Object.entries(leaf.sourceLabels ?? {}).some(([k, v]) => root.sourceLabels?.[k] !== undefined && root.sourceLabels[k] !== v)) return true;
  const rg = root.gateways ?? [];
  const lg = leaf.gateways ?? [];
  if (rg.length && lg.length && (rg.length < lg.length || lg.some((g) => !rg.includes(g)))) return true;
  return false;
}

const joinNames = (root: string | undefined, own: string | undefined): string | undefined => (!own ? root : root ? `${root}-${own}` : own);

function mergeMaps<T>(root: Readonly<Record<string, T>> | undefined, own: Readonly<Record<string, T>> | undefined): Readonly<Record<string, T>> | undefined {
  const out = { ...root, ...own };
  return Object.keys(out).length ? out : undefined;
}

function mergeMatch(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  const out: Mutable<HTTPMatchRequest> = { ...leaf };
  const set = <K extends keyof HTTPMatchRequest>(k: K, v: HTTPMatchRequest[K] | undefined): void => {
    if (v === undefined) delete out[k];
    else out[k] = v;
  };
  set("name", joinNames(root.name, leaf.name));
  for (const f of ["uri", "scheme", "method", "authority"] as const) set(f, leaf[f] ?? root[f]);
  set("headers", mergeMaps(root.headers, leaf.headers));
  set("withoutHeaders", mergeMaps(root.withoutHeaders, leaf.withoutHeaders));
  set("queryParams", mergeMaps(root.queryParams, leaf.queryParams));
  set("port", leaf.port || root.port);
  set("sourceLabels", mergeMaps(root.sourceLabels, leaf.sourceLabels));
  set("sourceNamespace", leaf.sourceNamespace || root.sourceNamespace);
  set("gateways", leaf.gateways?.length ? leaf.gateways : root.gateways);
  set("statPrefix", leaf.statPrefix || root.statPrefix);
  return out;
}

/** Istio's mergeHTTPMatchRequests: undefined when a delegate match fits no root match. */
function mergeMatches(
  root: readonly HTTPMatchRequest[] | undefined,
  leaf: readonly HTTPMatchRequest[] | undefined,
): readonly HTTPMatchRequest[] | undefined | "conflict" {
  if (!root?.length) return leaf;
  if (!leaf?.length) return root;
  const out: HTTPMatchRequest[] = [];
  for (const sub of leaf) {
    const fits = root.filter((r) => !hasConflict(r, sub));
    if (fits.length === 0) return "conflict";
    for (const r of fits) out.push(mergeMatch(r, sub));
  }
  return out;
}

const INHERITED = ["rewrite", "directResponse", "timeout", "retries", "fault", "mirror", "mirrorPercentage", "corsPolicy", "mirrors", "headers"] as const;

function mergeRule(root: HTTPRoute, leaf: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match, leaf.match);
  if (match === "conflict") return undefined;
  const out: Mutable<HTTPRoute> = { ...leaf };
  if (match) out.match = match;
  else delete out.match;
  const name = joinNames(root.name, leaf.name);
  if (name) out.name = name;
  for (const f of INHERITED) if (out[f] === undefined && root[f] !== undefined) (out as Record<string, unknown>)[f] = root[f];
  delete out.delegate;
  return out;
}

/** A delegate's destinations, with short names resolved in the delegate's own namespace. */
function resolveDestinations(rule: HTTPRoute, namespace: string, domain: string): HTTPRoute {
  const fqdn = (d: Destination): Destination => ({ ...d, host: resolveHost(d.host, namespace, domain) });
  return {
    ...rule,
    ...(rule.route ? { route: rule.route.map((rd) => ({ ...rd, destination: fqdn(rd.destination) })) } : {}),
    ...(rule.mirror ? { mirror: fqdn(rule.mirror) } : {}),
    ...(rule.mirrors ? { mirrors: rule.mirrors.map((m) => ({ ...m, destination: fqdn(m.destination) })) } : {}),
  };
}

/** Fill `routedHttp` of every root VirtualService by merging in its delegates. */
export function mergeDelegates(vss: readonly VirtualServiceModel[], domain: string): { virtualServices: VirtualServiceModel[]; diagnostics: Diagnostic[] } {
  // Made when a first rule delegates: most meshes have no delegate, and a key per VirtualService is a string each.
  let byKey: Map<string, VirtualServiceModel> | undefined;
  const diagnostics: Diagnostic[] = [];
  const reported = new Set<string>();
  const report = (d: Diagnostic): void => {
    const key = `${d.object?.namespace}/${d.object?.name}|${d.path}|${d.message}`;
    if (reported.has(key)) return;
    reported.add(key);
    diagnostics.push(d);
  };
  const virtualServices = vss.map((root): VirtualServiceModel => {
    if (root.hosts.length === 0 || !root.http.some((r) => r.delegate)) return root;
    const routed: HTTPRoute[] = [];
    const origins: string[] = [];
    root.http.forEach((rule, i) => {
      if (!rule.delegate) {
        routed.push(rule);
        origins.push(`spec.http[${i}]`);
        return;
      }
      const ns = rule.delegate.namespace || root.namespace;
      const name = `${ns}/${rule.delegate.name ?? ""}`;
      const path = `spec.http[${i}].delegate`;
      byKey ??= new Map(vss.map((vs) => [`${vs.namespace}/${vs.name}`, vs]));
      const target = byKey.get(name);
      if (!target || target.hosts.length > 0) {
        report({
          severity: "error",
          code: DelegationCodes.NotFound,
          message: target
            ? `VirtualService ${name} has hosts, so it is not a delegate (a delegate VirtualService has no hosts); this rule is ignored and its traffic falls through to the next rule`
            : `delegate VirtualService ${name} does not exist (or is invalid); this rule is ignored and its traffic falls through to the next rule`,
          object: root.ref,
          path,
        });
        return;
      }
      if (!isExportedTo(target.exportTo, target.namespace, root.namespace)) {
        report({
          severity: "error",
          code: DelegationCodes.NotExported,
          message: `delegate VirtualService ${name} is not exported to namespace "${root.namespace}" (exportTo: ${target.exportTo.join(", ")}); this rule is ignored`,
          object: root.ref,
          path,
        });
        return;
      }
      target.http.forEach((leaf, j) => {
        const merged = mergeRule(rule, resolveDestinations(leaf, target.namespace, domain));
        if (merged) {
          routed.push(merged);
          origins.push(`spec.http[${i}] → VirtualService ${target.namespace}/${target.name} spec.http[${j}]`);
        } else
          report({
            severity: "warning",
            code: DelegationCodes.Conflict,
            message: `a match of this rule is not within the matches of root VirtualService ${root.namespace}/${root.name} (spec.http[${i}]); Istio drops the rule from the merged routes, so it never applies`,
            object: target.ref,
            path: `spec.http[${j}].match`,
          });
      });
    });
    return { ...root, routedHttp: routed, routedOrigins: origins };
  });
  return { virtualServices, diagnostics };
}
