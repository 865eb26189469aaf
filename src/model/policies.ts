import type { StoredObject } from "../api/objects.js";
import type { DestinationRule, TrafficPolicy, TrafficPolicyCore } from "../api/istio-types.js";
import { entriesForHost, hostSpecificity, isExportedTo, memoIndex, type HostIndex } from "./hosts.js";
import type { DestinationRuleModel, SubsetModel } from "./ir.js";
import { resolveHost, ROOT_NAMESPACE } from "./names.js";
import { byCreation } from "./routing.js";
import { parseDurations, type ClusterPolicy } from "./parsed.js";

export function buildDestinationRules(drs: readonly StoredObject<DestinationRule>[], domain: string): DestinationRuleModel[] {
  // Sorted with what orders them (byCreation) beside the model, not in it: no copy of each model
  // without its creation time afterwards.
  const built = drs.map(({ object }) => destinationRuleModel(object, domain));
  built.sort((a, b) => byCreation(a.order, b.order));
  return built.map((b) => b.model);
}

function destinationRuleModel(
  dr: DestinationRule,
  domain: string,
): { readonly model: DestinationRuleModel; readonly order: { creationTimestamp: string; namespace: string; name: string } } {
  const namespace = dr.metadata.namespace ?? "default";
  const ref = { kind: "DestinationRule", namespace, name: dr.metadata.name };
  const model: DestinationRuleModel = {
    host: resolveHost(dr.spec.host, namespace, domain),
    namespace,
    name: dr.metadata.name,
    ...(dr.spec.trafficPolicy ? { trafficPolicy: dr.spec.trafficPolicy } : {}),
    subsets: (dr.spec.subsets ?? []).map((s): SubsetModel => ({
      name: s.name,
      labels: s.labels ?? {},
      ...(s.trafficPolicy ? { trafficPolicy: s.trafficPolicy } : {}),
    })),
    exportTo: dr.spec.exportTo ?? [],
    ...(dr.spec.workloadSelector ? { workloadSelector: dr.spec.workloadSelector.matchLabels ?? {} } : {}),
    refs: [ref],
  };
  return { model, order: { creationTimestamp: dr.metadata.creationTimestamp ?? "", namespace, name: dr.metadata.name } };
}

const ruleIndexes = new WeakMap<readonly DestinationRuleModel[], HostIndex<DestinationRuleModel>>();

/**
 * The DestinationRule a client in `clientNamespace` uses for `host`, with Istio's lookup path:
 * the client's namespace, then the service's, then the root namespace; the first namespace with a
 * match wins. Within it the most specific host wins and rules for that same host are merged:
 * subsets concatenated (first name wins), the top-level policy of the oldest rule that has one kept.
 *
 * A rule with a workloadSelector applies only to the selected workloads of its own namespace, and
 * there it beats the rules without one (rules with the same selector merge). Without
 * `clientLabels` (no particular workload) such rules are left out.
 */
export function destinationRuleFor(
  all: readonly DestinationRuleModel[],
  host: string,
  serviceNamespace: string,
  clientNamespace: string,
  clientLabels?: Readonly<Record<string, string>>,
): DestinationRuleModel | undefined {
  // Every view asks this for every service on every build: answered once per rule list (the model
  // keeps that list's identity while no rule changes) and per labels object (a view's is its own).
  let byLabels = ruleLookups.get(all);
  if (!byLabels) ruleLookups.set(all, (byLabels = new WeakMap()));
  const labelsKey = clientLabels ?? NO_CLIENT_LABELS;
  let byKey = byLabels.get(labelsKey);
  if (!byKey) byLabels.set(labelsKey, (byKey = new Map()));
  const key = `${host}\0${serviceNamespace}\0${clientNamespace}`;
  if (byKey.has(key)) return byKey.get(key);
  ruleLookupStats.computed++;
  const rule = lookUpRule(all, host, serviceNamespace, clientNamespace, clientLabels);
  byKey.set(key, rule);
  return rule;
}

/** Per rule list, per client labels object, per (host, service namespace, client namespace): the rule. */
const ruleLookups = new WeakMap<readonly DestinationRuleModel[], WeakMap<object, Map<string, DestinationRuleModel | undefined>>>();
const NO_CLIENT_LABELS = {};

/** Counts for tests: rule lookups worked out (not answered from an earlier one). */
export const ruleLookupStats = { computed: 0 };

function lookUpRule(
  all: readonly DestinationRuleModel[],
  host: string,
  serviceNamespace: string,
  clientNamespace: string,
  clientLabels?: Readonly<Record<string, string>>,
): DestinationRuleModel | undefined {
  const selects = (dr: DestinationRuleModel): boolean =>
    dr.workloadSelector === undefined ||
    (clientLabels !== undefined && dr.namespace === clientNamespace && Object.entries(dr.workloadSelector).every(([k, v]) => clientLabels[k] === v));
  const forHost = entriesForHost(
    memoIndex(ruleIndexes, all, (dr) => [dr.host]),
    host,
  ).map((e) => e.item);
  for (const ns of [clientNamespace, serviceNamespace, ROOT_NAMESPACE]) {
    const matching = forHost.filter((dr) => dr.namespace === ns && isExportedTo(dr.exportTo, dr.namespace, clientNamespace) && selects(dr));
    const selected = matching.filter((dr) => dr.workloadSelector !== undefined);
    const candidates = selected.length
      ? selected.filter((dr) => workloadSelectorKey(dr.workloadSelector) === workloadSelectorKey(selected[0]!.workloadSelector))
      : matching;
    if (candidates.length === 0) continue;
    const bestHost = candidates.reduce((b, c) => (hostSpecificity(c.host) > hostSpecificity(b.host) ? c : b)).host;
    return mergeRules(candidates.filter((dr) => dr.host === bestHost));
  }
  return undefined;
}

/** Rules with equal keys merge (Istio: same namespace, host and workload selector, or none). */
export function workloadSelectorKey(selector: Readonly<Record<string, string>> | undefined): string {
  if (selector === undefined) return "-";
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(",");
}

const merged = new WeakMap<DestinationRuleModel, Map<string, DestinationRuleModel>>();

/**
 * The rules merged; the same rules give the same object (keyed on the first rule and every rule's
 * refs), so that what is built from a merged rule can be shared by every view that looks it up.
 */
function mergeRules(rules: readonly DestinationRuleModel[]): DestinationRuleModel {
  const [first, ...rest] = rules as [DestinationRuleModel, ...DestinationRuleModel[]];
  if (rest.length === 0) return first;
  let byRefs = merged.get(first);
  if (!byRefs) merged.set(first, (byRefs = new Map()));
  const key = rules.map((r) => r.refs.map((ref) => `${ref.namespace}/${ref.name}`).join(",")).join(";");
  let rule = byRefs.get(key);
  if (!rule) byRefs.set(key, (rule = mergeRulesOnce(first, rest)));
  return rule;
}

function mergeRulesOnce(first: DestinationRuleModel, rest: readonly DestinationRuleModel[]): DestinationRuleModel {
  const rules = [first, ...rest];
  const subsets = [...first.subsets];
  for (const r of rest) for (const s of r.subsets) if (!subsets.some((x) => x.name === s.name)) subsets.push(s);
  // Istio keeps the first rule's top-level policy, or takes a later rule's when it has none.
  const trafficPolicy = rules.find((r) => r.trafficPolicy)?.trafficPolicy;
  return { ...first, ...(trafficPolicy ? { trafficPolicy } : {}), subsets, refs: rules.flatMap((r) => r.refs) };
}

/** `portLevelSettings` for the port replace the whole top-level policy (Istio does not inherit fields). */
export function policyForPort(policy: TrafficPolicy | undefined, port: number): TrafficPolicyCore | undefined {
  if (!policy) return undefined;
  const pl = policy.portLevelSettings?.find((s) => s.port?.number === port);
  if (pl) {
    const { port: _p, ...core } = pl;
    return core;
  }
  const { portLevelSettings: _pls, ...core } = policy;
  return core;
}

/** A subset's policy overrides the rule's per field (loadBalancer, connectionPool, outlierDetection, tls). */
export function subsetPolicy(rule: DestinationRuleModel, subset: SubsetModel | undefined, port: number): TrafficPolicyCore | undefined {
  const base = policyForPort(rule.trafficPolicy, port);
  if (!subset?.trafficPolicy) return base;
  const own = subset.trafficPolicy.portLevelSettings?.find((s) => s.port?.number === port);
  if (own) {
    const { port: _p, ...core } = own;
    return core;
  }
  const sp = subset.trafficPolicy;
  return {
    ...base,
    ...(sp.loadBalancer ? { loadBalancer: sp.loadBalancer } : {}),
    ...(sp.connectionPool ? { connectionPool: sp.connectionPool } : {}),
    ...(sp.outlierDetection ? { outlierDetection: sp.outlierDetection } : {}),
    ...(sp.tls ? { tls: sp.tls } : {}),
  };
}

const clusterPolicies = new WeakMap<DestinationRuleModel, Map<string, ClusterPolicy | undefined>>();

/**
 * The policy Envoy's cluster for `port` (and `subset`, by name) of the rule's host gets: the
 * port's settings, then the subset's (a subset name the rule does not define: the rule's own).
 * Computed once per rule, subset and port.
 */
export function clusterPolicy(rule: DestinationRuleModel, subset: string | undefined, port: number): ClusterPolicy | undefined {
  let byKey = clusterPolicies.get(rule);
  if (!byKey) clusterPolicies.set(rule, (byKey = new Map()));
  const key = `${subset ?? ""}|${port}`;
  if (byKey.has(key)) return byKey.get(key);
  const core = subsetPolicy(rule, subset === undefined ? undefined : rule.subsets.find((s) => s.name === subset), port);
  const policy = core ? sharedPolicy(core) : undefined;
  byKey.set(key, policy);
  return policy;
}

/**
 * Equal policies are one object, whichever rule, subset or port they come from: a mesh's rules
 * mostly say the same, and what is made of a policy (its parsed durations, its clusters' encoded
 * settings, translate/cluster.ts) is then made once and found by identity. Bounded: the policies
 * come from user input.
 */
const policiesByContent = new Map<string, ClusterPolicy>();
const MAX_SHARED_POLICIES = 4096;

function sharedPolicy(core: TrafficPolicyCore): ClusterPolicy {
  // Keyed by its parts' texts: a rule's subsets and ports assemble their policies from the same
  // part objects (its loadBalancer, connectionPool, ...), each put into text once.
  let key = "";
  for (const k in core) {
    const text = partText((core as Record<string, unknown>)[k]);
    if (text === undefined) return parseDurations(core);
    key += `${JSON.stringify(k)}:${text},`;
  }
  let policy = policiesByContent.get(key);
  if (policy === undefined) {
    policy = parseDurations(core);
    if (policiesByContent.size >= MAX_SHARED_POLICIES) policiesByContent.clear();
    policiesByContent.set(key, policy);
  }
  return policy;
}

/** Per policy part, its JSON text; null for one that holds a number JSON does not say exactly. */
const partTexts = new WeakMap<object, string | null>();

/**
 * JSON text says -0, NaN and the infinities as 0 or null, which as values differ (a double
 * field's -0 is written): a part holding one gives no text, and its policy is not shared.
 */
function partText(part: unknown): string | undefined {
  if (typeof part !== "object" || part === null) return hasUnsaidNumber(part, 0) ? undefined : (JSON.stringify(part) ?? "undefined");
  let text = partTexts.get(part);
  if (text === undefined) partTexts.set(part, (text = hasUnsaidNumber(part, 0) ? null : JSON.stringify(part)));
  return text ?? undefined;
}

/** Policies nest a few levels; deeper ones are not shared. */
const MAX_SCAN_DEPTH = 16;

function hasUnsaidNumber(value: unknown, depth: number): boolean {
  if (typeof value === "number") return Object.is(value, -0) || !Number.isFinite(value);
  if (typeof value !== "object" || value === null) return false;
  if (depth > MAX_SCAN_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (hasUnsaidNumber(v, depth + 1)) return true;
    return false;
  }
  for (const k in value) if (hasUnsaidNumber((value as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}
