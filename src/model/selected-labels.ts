/**
 * The proxy labels that configuration reads. A proxy's other labels (`pod-template-hash`, most
 * `app`s and `version`s) change nothing in its config, so they must not split views: the view
 * key and the translator both see only the labels projected through this selection.
 *
 * Every place in model/ or translate/ that compares a proxy label must be covered here. Nothing
 * else is needed to keep that honest: the translator is handed projected labels only, so a
 * selector missing here shows up as a rule that never matches, in its own tests. What a sidecar's
 * outbound side reads must be in outboundLabels too: that side is translated for the labels
 * projected through it alone (test/unit/translate/sidecar-split.test.ts compares on every golden case).
 */
import type { L4MatchAttributes, HTTPMatchRequest, TrafficPolicy, TrafficPolicyCore } from "../api/istio-types.js";
import type { MeshModel, VirtualServiceModel } from "./ir.js";
import { namedPortSelectors } from "./named-ports.js";
import { ISTIO_TLS_MODE, TLS_MODE_LABEL } from "./names.js";

/**
 * Per label key, the values some selector compares it with (a proxy value outside the set
 * matches none of them, exactly as an absent label), or "any" when the value itself is used
 * (failoverPriority compares the proxy's value with each endpoint's).
 */
export type LabelSelection = ReadonlyMap<string, ReadonlySet<string> | "any">;

declare const projected: unique symbol;
/** Labels passed through a LabelSelection: the only labels a ProxyView carries. */
export type ProjectedLabels = Readonly<Record<string, string>> & { readonly [projected]: true };

class SelectionBuilder {
  readonly keys = new Map<string, Set<string> | "any">();

  equals(selector: Readonly<Record<string, string>> | undefined): void {
    for (const [k, v] of Object.entries(selector ?? {})) {
      const have = this.keys.get(k);
      if (have === "any") continue;
      if (have) have.add(v);
      else this.keys.set(k, new Set([v]));
    }
  }

  anyValue(key: string): void {
    this.keys.set(key, "any");
  }

  policy(p: TrafficPolicyCore | undefined): void {
    // An entry `key=value` overrides the proxy's value, but reading the whole label is simpler and the same.
    for (const entry of p?.loadBalancer?.localityLbSetting?.failoverPriority ?? []) this.anyValue(entry.split("=")[0]!);
  }

  trafficPolicy(p: TrafficPolicy | undefined): void {
    this.policy(p);
    for (const pl of p?.portLevelSettings ?? []) this.policy(pl);
  }

  matches(ms: readonly (HTTPMatchRequest | L4MatchAttributes)[] | undefined): void {
    for (const m of ms ?? []) this.equals(m.sourceLabels);
  }

  /** Everything `keys` selects on, too. */
  add(keys: LabelSelection): void {
    for (const [k, v] of keys) {
      if (v === "any") this.anyValue(k);
      else for (const value of v) this.equals({ [k]: value });
    }
  }
}

/** Counts for tests: model lists whose selectors were walked (not known from an earlier build), and VirtualServices. */
export const selectionStats = { walked: 0, virtualServices: 0 };

/** Per model list (kept while its inputs are: keep.ts), what it selects on. */
const listSelections = new WeakMap<object, Map<string, LabelSelection>>();

/**
 * What `list` selects on, worked out once per list object: a route edit gives a new VirtualService
 * list only, and every build reads the selections (pipeline regroup).
 */
function selectionOf<T extends object>(list: T, part: string, add: (b: SelectionBuilder, list: T) => void): LabelSelection {
  let byPart = listSelections.get(list);
  if (!byPart) listSelections.set(list, (byPart = new Map()));
  let keys = byPart.get(part);
  if (!keys) {
    selectionStats.walked++;
    const b = new SelectionBuilder();
    add(b, list);
    byPart.set(part, (keys = b.keys));
  }
  return keys;
}

/** Per VirtualService (kept while its input is: keep.ts), what its matches' sourceLabels select on; null: nothing. */
const virtualServiceSelections = new WeakMap<VirtualServiceModel, LabelSelection | null>();

/**
 * What one VirtualService's matches select on, worked out once per model object: an edit gives a
 * new VirtualService list, and walking every route's matches again cost more than the edit.
 */
function virtualServiceSelection(vs: VirtualServiceModel): LabelSelection | undefined {
  let keys = virtualServiceSelections.get(vs);
  if (keys === undefined) {
    selectionStats.virtualServices++;
    const b = new SelectionBuilder();
    for (const r of vs.http) b.matches(r.match);
    for (const r of vs.routedHttp) b.matches(r.match);
    for (const r of vs.tcp) b.matches(r.match);
    for (const r of vs.tls) b.matches(r.match);
    virtualServiceSelections.set(vs, (keys = b.keys.size > 0 ? b.keys : null));
  }
  return keys ?? undefined;
}

/**
 * What a sidecar's outbound side reads of its labels: VirtualService sourceLabels, DestinationRule
 * workloadSelector and failoverPriority, the Sidecar workloadSelector (its egress scope), and
 * Telemetry selectors (the access logs of outbound listeners). Proxies whose labels agree here
 * share one outbound translation, whatever Services select them.
 */
export function outboundLabels(mesh: MeshModel): LabelSelection {
  return outboundSelectors(new SelectionBuilder(), mesh).keys;
}

function outboundSelectors(b: SelectionBuilder, mesh: MeshModel): SelectionBuilder {
  b.add(
    selectionOf(mesh.virtualServices, "routes", (vb, vss) => {
      for (const vs of vss) {
        const keys = virtualServiceSelection(vs);
        if (keys !== undefined) vb.add(keys);
      }
    }),
  );
  b.add(
    selectionOf(mesh.destinationRules, "rules", (rb, drs) => {
      for (const dr of drs) {
        rb.equals(dr.workloadSelector);
        rb.trafficPolicy(dr.trafficPolicy);
        for (const s of dr.subsets) rb.trafficPolicy(s.trafficPolicy);
      }
    }),
  );
  // A Sidecar's workloadSelector decides which Sidecar scopes a proxy.
  for (const sc of mesh.sidecars ?? []) b.equals(sc.workloadSelector);
  // A Telemetry's selector decides which access logs a workload writes.
  for (const list of mesh.telemetries?.byNamespace.values() ?? []) for (const t of list) b.equals(t.selector);
  return b;
}

/**
 * What the mesh's configuration selects proxies on: everything the outbound side reads
 * (outboundLabels), Service selectors (a sidecar's inbound ports, a gateway's target ports),
 * Gateway selector, what tells apart pods whose named targetPorts differ, the selectors of
 * AuthorizationPolicy, RequestAuthentication and PeerAuthentication, and the mesh-member label.
 */
export function selectedLabels(mesh: MeshModel): LabelSelection {
  const b = outboundSelectors(new SelectionBuilder(), mesh);
  b.add(
    selectionOf(mesh.services, "selectors", (sb, services) => {
      for (const svc of services.values()) sb.equals(svc.selector);
    }),
  );
  // A Gateway's selector decides which router proxies serve it.
  for (const gw of mesh.gateways ?? []) b.equals(gw.selector);
  // Pods whose named targetPorts resolve differently need views of their own.
  for (const labels of namedPortSelectors(mesh.services, mesh.podPorts)) b.equals(labels);
  // Policy selectors decide which authorization and JWT rules a sidecar enforces.
  for (const p of mesh.security?.authorizationPolicies ?? []) b.equals(p.selector);
  for (const p of mesh.security?.requestAuthentications ?? []) b.equals(p.selector);
  // A PeerAuthentication's selector decides a workload's inbound mTLS mode, and being a mesh
  // member (the injector's label) whether PERMISSIVE offers mTLS: that matters to workloads some
  // Service selects (the ports mesh clients reach), when proxies hold certificates at all.
  for (const list of mesh.peerAuthentications?.byNamespace.values() ?? []) for (const pa of list) b.equals(pa.selector);
  const selected = selectionOf(mesh.services, "selectors", () => {}).size > 0;
  if (selected && mesh.meshConfig?.workloadCertificates !== false) b.equals({ [TLS_MODE_LABEL]: ISTIO_TLS_MODE });
  return b.keys;
}

/** `labels` without what `selection` does not read; sorted by key, so equal projections print alike. */
export function projectLabels(labels: Readonly<Record<string, string>>, selection: LabelSelection): ProjectedLabels {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) {
    const wanted = selection.get(k);
    const v = labels[k]!;
    if (wanted === "any" || wanted?.has(v)) out[k] = v;
  }
  return out as ProjectedLabels;
}

/** A stable text form of a selection: equal texts, equal projections. */
export function selectionText(selection: LabelSelection): string {
  const entries = [...selection.keys()].sort().map((k) => {
    const v = selection.get(k)!;
    return [k, v === "any" ? "*" : [...v].sort()];
  });
  return JSON.stringify(entries);
}
