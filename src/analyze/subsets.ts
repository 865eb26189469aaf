import type { Diagnostic } from "../api/diagnostics.js";
import { matchingHosts } from "../model/hosts.js";
import type { DestinationRuleModel, EndpointModel, MeshModel, ServiceModel } from "../model/ir.js";
import { endpointKey } from "../model/ir.js";
import { endpointLabel } from "../model/locality.js";
import { workloadSelectorKey } from "../model/policies.js";
import { analysisStats } from "./kept.js";

/** Rules Istio merges into one: same namespace, same host, same workload selector (or none). */
function mergeGroup(dr: DestinationRuleModel): string {
  return `${dr.namespace}|${dr.host}|${workloadSelectorKey(dr.workloadSelector)}`;
}

/**
 * MP0406: Istio merges the DestinationRules of one namespace for one host, keeping the first
 * definition of each subset name (oldest rule first). A later rule's subset of the same name is
 * dropped: its labels and policy never apply. Returns the findings and the dropped subsets
 * (`namespace/name#index`), which other checks (IST0173) must not judge as if they were used.
 */
export function subsetsMergedAway(mesh: MeshModel): MergedAway {
  // The same rules (the model keeps the list while none changes) give the same result, and the
  // same `dropped` set, which subsetsSelectingNothing's kept findings are keyed on.
  let result = mergedAway.get(mesh.destinationRules);
  if (!result) mergedAway.set(mesh.destinationRules, (result = mergedAwayOf(mesh.destinationRules)));
  return result;
}

interface MergedAway {
  readonly findings: readonly Diagnostic[];
  readonly dropped: ReadonlySet<string>;
}

const mergedAway = new WeakMap<readonly DestinationRuleModel[], MergedAway>();

function mergedAwayOf(rules: readonly DestinationRuleModel[]): MergedAway {
  const firstDefinition = new Map<string, DestinationRuleModel>();
  const findings: Diagnostic[] = [];
  const dropped = new Set<string>();
  for (const dr of rules) {
    const group = mergeGroup(dr);
    dr.subsets.forEach((subset, i) => {
      const key = `${group}|${subset.name}`;
      const owner = firstDefinition.get(key);
      if (!owner) {
        firstDefinition.set(key, dr);
        return;
      }
      const ref = dr.refs[0]!;
      dropped.add(`${ref.namespace}/${ref.name}#${i}`);
      findings.push({
        severity: "warning",
        code: "MP0406",
        message: `subset "${subset.name}" is already defined for host "${dr.host}" by DestinationRule ${owner.namespace}/${owner.name}, which is older; Istio merges the two rules and keeps the first definition, so this subset (its labels and policy) is ignored`,
        object: ref,
        path: `spec.subsets[${i}].name`,
      });
    });
  }
  return { findings, dropped };
}

/**
 * IST0173: a subset whose labels match no ready endpoint sends its share of traffic to "no
 * healthy upstream". Subsets the merge dropped (`dropped`, from subsetsMergedAway) are not judged:
 * traffic to that name uses the older rule's definition.
 */
export function subsetsSelectingNothing(mesh: MeshModel, dropped: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const dr of mesh.destinationRules) {
    // Besides the rule: the registry, the merge's dropped subsets, and the endpoint lists of its
    // services' ports (an endpoint change gives new lists only to the services it touched). Its
    // services and their keys are kept with its findings: an endpoint change compares a few lists
    // per rule, it does not match hosts or allocate for each of the mesh's rules.
    let kept = selectingNothing.get(dr);
    if (kept?.services !== mesh.services || kept.dropped !== dropped || !sameLists(kept, mesh.endpoints)) {
      const services = kept?.services === mesh.services ? kept.hosts : matchingHosts(dr.host, mesh.services);
      const keys = services.flatMap((svc) => svc.ports.map((p) => endpointKey(svc.hostname, p.port)));
      if (services.length > 0) analysisStats.checked++;
      kept = {
        services: mesh.services,
        dropped,
        hosts: services,
        keys,
        lists: keys.map((k) => mesh.endpoints.get(k)),
        findings: services.length === 0 ? [] : ruleSubsetsSelectingNothing(mesh, dr, services, dropped),
      };
      selectingNothing.set(dr, kept);
    }
    out.push(...kept.findings);
  }
  return out;
}

interface KeptSubsets {
  readonly services: MeshModel["services"];
  readonly dropped: ReadonlySet<string>;
  readonly hosts: readonly ServiceModel[];
  readonly keys: readonly string[];
  readonly lists: readonly (readonly EndpointModel[] | undefined)[];
  readonly findings: readonly Diagnostic[];
}

const selectingNothing = new WeakMap<DestinationRuleModel, KeptSubsets>();

function sameLists(kept: KeptSubsets, endpoints: MeshModel["endpoints"]): boolean {
  for (let i = 0; i < kept.keys.length; i++) if (endpoints.get(kept.keys[i]!) !== kept.lists[i]) return false;
  return true;
}

function ruleSubsetsSelectingNothing(mesh: MeshModel, dr: DestinationRuleModel, services: readonly ServiceModel[], dropped: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const ref = dr.refs[0]!;
  for (const [i, subset] of dr.subsets.entries()) {
    if (dropped.has(`${ref.namespace}/${ref.name}#${i}`)) continue;
    const labels = Object.entries(subset.labels);
    const any = services.some((svc) =>
      svc.ports.some((p) => (mesh.endpoints.get(endpointKey(svc.hostname, p.port)) ?? []).some((ep) => labels.every(([k, v]) => endpointLabel(ep, k) === v))),
    );
    if (any) continue;
    const shown = labels.map(([k, v]) => `${k}=${v}`).join(",") || "(none)";
    out.push({
      severity: "error",
      code: "IST0173",
      message: `subset "${subset.name}" selects pods with labels ${shown}, but no ready endpoint of ${services.map((s) => s.hostname).join(", ")} has them: requests routed to this subset fail with 503 "no healthy upstream"`,
      object: ref,
      path: `spec.subsets[${i}].labels`,
    });
  }
  return out;
}
