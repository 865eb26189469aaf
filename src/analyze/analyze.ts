/**
 * Checks for the mistakes that make a mesh silently drop traffic. Each finding names the object,
 * the field and what to do, with Istio's analyzer code where Istio has one.
 */
import type { Diagnostic, ObjectRef, SourceLocation } from "../api/diagnostics.js";
import { locateField } from "../api/diagnostics.js";
import type { DestinationRuleModel, MeshModel, VirtualServiceModel } from "../model/ir.js";
import { matchingHosts } from "../model/hosts.js";
import { appliesToSidecars } from "../model/routing.js";
import { destinationSubsetFindings } from "./destinations.js";
import { nearMiss } from "./hints.js";
import { shadowedRuleFindings } from "./shadowing.js";
import { subsetsMergedAway, subsetsSelectingNothing } from "./subsets.js";
import { mtlsConflicts } from "./mtls.js";
import { tlsFindings } from "./tls.js";
import { gatewaysSelectingNoPod } from "./gateways.js";
import { KeptCheck } from "./kept.js";
import { sidecarHiddenDestinations } from "./sidecars.js";
import type { Pod } from "../api/kube-types.js";
import type { StoredObject } from "../api/objects.js";

export type SourceLookup = (ref: ObjectRef) => SourceLocation | undefined;

/** `pods`: the input's Pods, the workloads that Gateway selectors are judged against. */
export function analyze(mesh: MeshModel, sourceOf: SourceLookup = () => undefined, pods: readonly StoredObject<Pod>[] = []): Diagnostic[] {
  return analysisFindings(analyzeMesh(mesh, undefined, pods), sourceOf);
}

/**
 * The findings in output order, split around the one check that reads endpoints, so that an
 * endpoint-only change re-runs just that check.
 */
export interface Analysis {
  readonly before: readonly Diagnostic[];
  readonly endpoints: readonly Diagnostic[];
  readonly after: readonly Diagnostic[];
  /** Subsets the DestinationRule merge drops (rules only: kept across endpoint-only changes). */
  readonly mergedAway: ReadonlySet<string>;
}

/**
 * With `previous`: `mesh` differs from the model `previous` was made from only in its endpoints
 * (and `pods`, an endpoint kind too).
 */
export function analyzeMesh(mesh: MeshModel, previous?: Analysis, pods: readonly StoredObject<Pod>[] = []): Analysis {
  // Findings that depend on endpoints or pods are worked out again after an endpoint-only change.
  const endpoints = (dropped: ReadonlySet<string>): Diagnostic[] => [
    ...subsetsSelectingNothing(mesh, dropped),
    ...mtlsConflicts(mesh),
    ...gatewaysSelectingNoPod(mesh, pods),
  ];
  if (previous) return { ...previous, endpoints: endpoints(previous.mergedAway) };
  const merged = subsetsMergedAway(mesh);
  return {
    before: [...destinationSubsetFindings(mesh), ...shadowedRuleFindings(mesh), ...conflictingHosts(mesh), ...merged.findings],
    endpoints: endpoints(merged.dropped),
    after: [...unknownRuleHosts(mesh), ...tlsFindings(mesh), ...sidecarHiddenDestinations(mesh)],
    mergedAway: merged.dropped,
  };
}

export function analysisFindings(a: Analysis, sourceOf: SourceLookup): Diagnostic[] {
  return [...a.before, ...a.endpoints, ...a.after].map((d) => withSource(d, sourceOf));
}

/** Point a finding at the file and line of its field, when the object came from a file. */
export function withSource(d: Diagnostic, sourceOf: SourceLookup): Diagnostic {
  if (d.source || !d.object) return d;
  const source = sourceOf(d.object);
  return source ? { ...d, source: locateField(source, d.path) } : d;
}

/** IST0109: sidecars cannot merge two VirtualServices for one host; only the first is used. */
function conflictingHosts(mesh: MeshModel): Diagnostic[] {
  const owner = new Map<string, VirtualServiceModel>();
  const out: Diagnostic[] = [];
  for (const vs of mesh.virtualServices.filter(appliesToSidecars)) {
    for (const [i, host] of vs.hosts.entries()) {
      const first = owner.get(host);
      if (!first) {
        owner.set(host, vs);
        continue;
      }
      out.push({
        severity: "error",
        code: "IST0109",
        message: `host "${host}" is also defined by VirtualService ${first.namespace}/${first.name}; sidecars use only the first (oldest) one, so these rules are ignored — merge them into one VirtualService`,
        object: vs.ref,
        path: `spec.hosts[${i}]`,
      });
    }
  }
  return out;
}

const unknownHosts = new KeptCheck<DestinationRuleModel>();

/** IST0174: a DestinationRule whose host is no known service applies to nothing. */
function unknownRuleHosts(mesh: MeshModel): Diagnostic[] {
  return mesh.destinationRules.flatMap((dr) => unknownHosts.of(dr, [mesh.services], () => unknownRuleHost(mesh, dr)));
}

function unknownRuleHost(mesh: MeshModel, dr: DestinationRuleModel): Diagnostic[] {
  if (matchingHosts(dr.host, mesh.services).length > 0) return [];
  return [
    {
      severity: "warning",
      code: "IST0174",
      message: `host "${dr.host}" matches no service in the registry, so this rule applies to nothing${nearMiss(mesh, dr.host)}`,
      object: dr.refs[0]!,
      path: "spec.host",
    },
  ];
}
